// On-demand: the security-group editor's input latency with a large group, in Debian's
// Chromium. Not part of the test run.
//
//   PROXFLEET_BASE_URL=http://127.0.0.1:3917 node editor-bench.mjs [rules] [moves]
//
// Uses the signed-in state the e2e setup leaves in .auth/admin.json. Makes a group with
// `rules` rules (default 200) through REST, opens its editor, then times `moves` reorders
// (default 40) each way the editor offers: Alt+↓ on a focused row, and a drag from one row
// onto another. A move's latency is from the input event to the frame after the table has
// changed (a MutationObserver sees the rows reordered, then one animation frame), i.e. what
// the operator sees. The group is deleted afterwards.
import { chromium } from "@playwright/test";

const base = process.env.PROXFLEET_BASE_URL;
if (!base) throw new Error("PROXFLEET_BASE_URL is not set");
const count = Number(process.argv[2] ?? 200);
const moves = Math.min(Number(process.argv[3] ?? 40), 500);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const context = await browser.newContext({ storageState: ".auth/admin.json", baseURL: base });
const headers = { Origin: base };
const name = `bench-${Date.now() % 1_000_000_000}`;
const made = await context.request.post("/api/firewall/groups", { headers, data: { name } });
if (made.status() !== 201) throw new Error(`create group: ${made.status()} ${await made.text()}`);
const rules = Array.from({ length: count }, (_, i) => ({
  action: i % 7 === 0 ? "DROP" : "ACCEPT",
  proto: "tcp",
  dport: String(10000 + i),
  comment: `rule ${i}`,
}));
const set = await context.request.put(`/api/firewall/groups/${name}/rules`, { headers, data: { rules } });
if (set.status() !== 200) throw new Error(`set rules: ${set.status()} ${await set.text()}`);

const page = await context.newPage();
const t0 = Date.now();
await page.goto(`/security-groups/${name}`);
await page.waitForSelector("body[data-hydrated=true]", { timeout: 60_000 });
await page.waitForFunction((n) => document.querySelectorAll('[data-testid="rule-row"]').length === n, count);
const opened = Date.now() - t0;

// One reorder, timed inside the page: `how` is "key" (Alt+↓ on row i) or "drag" (row i onto row j).
const timeOne = (how, i, j) =>
  page.evaluate(
    ({ how, i, j }) =>
      new Promise((resolve) => {
        const body = document.querySelector('[data-testid="rule-row"]').parentElement;
        const rows = () => body.querySelectorAll('[data-testid="rule-row"]');
        const first = rows()[i];
        const observer = new MutationObserver(() => {
          observer.disconnect();
          requestAnimationFrame(() => resolve(performance.now() - start));
        });
        observer.observe(body, { childList: true, subtree: true, attributes: true });
        let start;
        if (how === "key") {
          first.focus();
          start = performance.now();
          first.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", altKey: true, bubbles: true }));
        } else {
          const target = rows()[j];
          const dt = new DataTransfer();
          start = performance.now();
          first.dispatchEvent(new DragEvent("dragstart", { bubbles: true, dataTransfer: dt }));
          target.dispatchEvent(new DragEvent("dragover", { bubbles: true, cancelable: true, dataTransfer: dt }));
          target.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: dt }));
          first.dispatchEvent(new DragEvent("dragend", { bubbles: true, dataTransfer: dt }));
        }
        setTimeout(() => {
          observer.disconnect();
          resolve(-1);
        }, 5000);
      }),
    { how, i, j },
  );

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return `p50 ${at(0.5).toFixed(1)} ms, p95 ${at(0.95).toFixed(1)} ms, max ${s.at(-1).toFixed(1)} ms (n=${s.length})`;
};
const results = {};
for (const how of ["key", "drag"]) {
  const times = [];
  for (let k = 0; k < moves; k++) {
    const i = (k * 37) % (count - 1);
    const j = (i + 1 + ((k * 53) % (count - 2))) % count;
    const t = await timeOne(how, i, j);
    if (t < 0) throw new Error(`${how} move ${k} changed nothing within 5 s`);
    times.push(t);
  }
  results[how] = times;
}
console.log(`editor with ${count} rules: opened and hydrated in ${opened} ms`);
console.log(`  Alt+↓ reorder: ${stats(results.key)}`);
console.log(`  drag reorder:  ${stats(results.drag)}`);
await context.request.put(`/api/firewall/groups/${name}/rules`, { headers, data: { rules: [] } });
await context.request.delete(`/api/firewall/groups/${name}`, { headers });
await browser.close();
