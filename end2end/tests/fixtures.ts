import { expect, test as base } from "@playwright/test";

/**
 * Every spec imports `test` from here: it fails any test during which the browser reported a
 * Content-Security-Policy violation, as a `securitypolicyviolation` event (hydrated runs) or as
 * Chromium's "Refused to …" console message (both flavours). The policy itself is set by the
 * server (server/src/security_headers.rs).
 */
export const test = base.extend<{ cspViolations: string[] }>({
  cspViolations: [
    async ({ page, javaScriptEnabled }, use) => {
      const violations: string[] = [];
      page.on("console", (msg) => {
        const text = msg.text();
        if (text.includes("Content Security Policy")) violations.push(text);
      });
      await page.addInitScript(() => {
        const w = window as unknown as { __cspViolations: string[] };
        w.__cspViolations = [];
        document.addEventListener("securitypolicyviolation", (e) => {
          w.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
        });
      });
      await use(violations);
      if (javaScriptEnabled && !page.isClosed()) {
        const seen = await page
          .evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? [])
          .catch(() => [] as string[]);
        violations.push(...seen);
      }
      expect(violations, "Content-Security-Policy violations").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
export type { Page } from "@playwright/test";
