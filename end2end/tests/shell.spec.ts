import { expect, test, type Page } from "./fixtures";
import { ADMIN_STATE } from "./env";

/** Collects console errors and uncaught exceptions for the whole test. */
function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(String(err)));
  return errors;
}

const NAV = [
  "Dashboard",
  "Servers",
  "Security groups",
  "Backups",
  "Roles",
  "Monitoring",
  "Jobs",
  "Notifications",
  "Admin",
];

test("the dashboard renders the shell and instance details", async ({ page }) => {
  const errors = watchConsole(page);
  const response = await page.goto("/");
  expect(response?.status()).toBe(200);
  await expect(page).toHaveTitle("Dashboard · proxfleet");
  const nav = page.getByRole("navigation", { name: "Main navigation" });
  for (const name of NAV) {
    await expect(nav.getByRole("link", { name, exact: true })).toBeVisible();
  }
  await expect(nav.getByRole("link", { name: "Dashboard", exact: true })).toHaveAttribute("aria-current", "page");
  const info = page.getByTestId("system-info");
  await expect(info).toContainText("sqlite");
  await expect(page.getByTestId("simulated-badge")).toBeVisible();
  // The built-in simulated cluster, read through the pve client: 3 nodes, 30 VMs, 4 templates.
  const cluster = page.getByTestId("cluster-overview");
  await expect(cluster).toContainText("3 / 3 online");
  // 30 sample VMs, plus any other specs created meanwhile.
  await expect(cluster).toContainText(/\d+ \/ \d+ running/);
  expect(errors).toEqual([]);
});

test("the app hydrates and the theme toggle switches in place and is remembered", async ({ page, javaScriptEnabled }) => {
  test.skip(!javaScriptEnabled, "hydration needs JavaScript");
  const errors = watchConsole(page);
  const prefsPosts: string[] = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/prefs")) prefsPosts.push(r.method());
  });
  await page.goto("/");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const html = page.locator("html");
  const before = (await html.getAttribute("data-theme")) ?? "light";
  const toggle = page.getByTestId("theme-toggle");
  await toggle.click();
  const after = before === "dark" ? "light" : "dark";
  await expect(html).toHaveAttribute("data-theme", after);
  // Switched by the WASM, not by the no-JS form post.
  expect(prefsPosts).toEqual([]);
  await expect(toggle).toHaveAccessibleName(after === "dark" ? "Switch to the light theme" : "Switch to the dark theme");

  await page.reload();
  await expect(page.locator("html")).toHaveAttribute("data-theme", after);
  expect(errors).toEqual([]);
});

test("the language switches to Korean in place and back", async ({ page, javaScriptEnabled }) => {
  test.skip(!javaScriptEnabled, "in-place switching needs JavaScript");
  const errors = watchConsole(page);
  await page.goto("/servers");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("language-switch").click();
  await expect(page.locator("html")).toHaveAttribute("lang", "ko");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("서버");
  await expect(page.getByRole("navigation", { name: "주 메뉴" }).getByRole("link", { name: "대시보드" })).toBeVisible();
  await expect(page).toHaveTitle("서버 · proxfleet");
  await page.getByTestId("language-switch").click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Servers");
  expect(errors).toEqual([]);
});

test("client-side navigation moves between areas without a reload", async ({ page, javaScriptEnabled }) => {
  test.skip(!javaScriptEnabled, "client-side routing needs JavaScript");
  const errors = watchConsole(page);
  await page.goto("/");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  let documents = 0;
  page.on("request", (r) => {
    if (r.resourceType() === "document") documents += 1;
  });
  await page.getByRole("link", { name: "Roles", exact: true }).click();
  await expect(page).toHaveURL(/\/roles$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Roles");
  await expect(page.getByTestId("not-built")).toHaveText("Not built yet");
  expect(documents).toBe(0);
  expect(errors).toEqual([]);
});

test("the theme form works without JavaScript", async ({ page, javaScriptEnabled }) => {
  test.skip(javaScriptEnabled, "this is the no-JS path");
  await page.goto("/jobs");
  const before = (await page.locator("html").getAttribute("data-theme")) ?? "light";
  await page.getByTestId("theme-toggle").click();
  await expect(page).toHaveURL(/\/jobs$/);
  await expect(page.locator("html")).toHaveAttribute("data-theme", before === "dark" ? "light" : "dark");
});

test("a browser asking for Korean gets Korean", async ({ browser, javaScriptEnabled }) => {
  const context = await browser.newContext({ locale: "ko-KR", javaScriptEnabled, storageState: ADMIN_STATE });
  const page = await context.newPage();
  const errors = watchConsole(page);
  await page.goto("/");
  await expect(page.locator("html")).toHaveAttribute("lang", "ko");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("대시보드");
  await expect(page.getByTestId("simulated-badge")).toHaveText("시뮬레이션 클러스터");
  expect(errors).toEqual([]);
  await context.close();
});

test("unknown pages get a friendly 404", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Page not found");
  await expect(page.getByRole("link", { name: "Back to the dashboard" })).toBeVisible();
});

test("the keyboard reaches the skip link first and it jumps to the content", async ({ page }) => {
  await page.goto("/");
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  await expect(skip).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/#main$/);
});

test("the API reference page lists the endpoints", async ({ page }) => {
  await page.goto("/api/docs");
  await expect(page.getByRole("heading", { level: 1 })).toContainText("proxfleet API");
  await expect(page.getByRole("cell", { name: "/api/system/info" })).toBeVisible();
  await expect(page.getByRole("cell", { name: "/healthz" })).toBeVisible();
});

test("the language form works without JavaScript", async ({ page, javaScriptEnabled }) => {
  test.skip(javaScriptEnabled, "this is the no-JS path");
  await page.goto("/roles");
  await page.getByTestId("language-switch").click();
  await expect(page).toHaveURL(/\/roles$/);
  await expect(page.locator("html")).toHaveAttribute("lang", "ko");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("역할");
});

test("statuses read in Korean while the wire value stays", async ({ browser, javaScriptEnabled }) => {
  const context = await browser.newContext({ locale: "ko-KR", javaScriptEnabled, storageState: ADMIN_STATE });
  const page = await context.newPage();
  await page.goto("/servers?status=running");
  const running = page.locator('select[name="status"] option[value="running"]');
  await expect(running).toHaveText("실행 중");
  await expect(page.locator('select[name="status"]')).toHaveValue("running");
  await expect(page.locator('select[name="status"] option[value="stopped"]')).toHaveText("중지됨");
  // Any row's badge: Korean text, the wire word kept for scripts and tests.
  const badge = page.locator('[data-testid="server-status"][data-status="running"]').first();
  if ((await badge.count()) > 0) await expect(badge).toHaveText("실행 중");
  await context.close();
});

/** Pages an operator opens on a phone (390 px: a common phone width). */
const NARROW_PAGES = ["/", "/servers", "/servers/new", "/jobs", "/notifications", "/profile", "/admin", "/admin/iam", "/admin/audit", "/ip-pools", "/datastores"];

test("at 390 px no page scrolls sideways and the top bar stays readable", async ({ browser, javaScriptEnabled }) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled, storageState: ADMIN_STATE });
  const page = await context.newPage();
  for (const path of NARROW_PAGES) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(200);
    if (javaScriptEnabled) await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
    await expect(page.locator("main")).toBeVisible();
    const { scroll, client } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
    }));
    expect(scroll, `${path} is ${scroll}px wide in a ${client}px window`).toBeLessThanOrEqual(client);
  }
  // "Log out" on one line: its height is one line's, not one letter per line.
  const logout = page.getByTestId("logout");
  const box = await logout.boundingBox();
  expect(box && box.height < 48 && box.width > box.height, `logout button ${JSON.stringify(box)}`).toBe(true);
  // The bell is drawn (an SVG), not a glyph that needs an emoji font.
  await expect(page.getByTestId("bell").locator("svg")).toBeVisible();
  await context.close();
});
