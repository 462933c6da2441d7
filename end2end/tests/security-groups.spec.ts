import { expect, test } from "./fixtures";
import type { APIRequestContext } from "@playwright/test";

/** A fresh group (lower case, at most 18 characters) made through the REST door. */
async function newGroup(request: APIRequestContext, origin: string, rules: object[]): Promise<string> {
  const name = `e2e-${Date.now() % 1_000_000_000}`;
  const made = await request.post("/api/firewall/groups", { headers: { Origin: origin }, data: { name } });
  expect(made.status()).toBe(201);
  for (const rule of rules) {
    const r = await request.post(`/api/firewall/groups/${name}/rules`, { headers: { Origin: origin }, data: rule });
    expect(r.status(), await r.text()).toBe(201);
  }
  return name;
}

async function rulesOf(request: APIRequestContext, name: string) {
  const r = await request.get(`/api/firewall/groups/${name}`);
  expect(r.status()).toBe(200);
  return (await r.json()).group.rules as { macro?: string; dport?: string; enable: boolean; comment?: string }[];
}

const row = (page: import("@playwright/test").Page) => page.getByTestId("rule-row");

test("edit a group as a draft: drag to reorder, disable one, review, apply; attach it to two servers and detach one", async ({
  page,
  javaScriptEnabled,
  baseURL,
}) => {
  test.skip(!javaScriptEnabled, "the draft editor needs JavaScript");
  test.setTimeout(90_000);
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  const name = await newGroup(page.request, baseURL!, []);

  // Two rules through the form, each at the end: SSH, then HTTP. The macro's expansion shows.
  await page.goto(`/security-groups/${name}`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByTestId("rules-empty")).toBeVisible();
  await page.getByTestId("rule-macro").selectOption("SSH");
  await expect(page.getByTestId("macro-expansion")).toContainText("tcp 22");
  await page.getByTestId("rule-add").click();
  await expect(row(page)).toHaveCount(1);
  await page.getByTestId("rule-macro").selectOption("HTTP");
  await page.getByTestId("rule-add").click();
  await expect(row(page)).toHaveCount(2);
  await expect(row(page).nth(0)).toHaveAttribute("data-port", "SSH");
  await expect(row(page).nth(1)).toHaveAttribute("data-port", "HTTP");

  // Drag HTTP above SSH: only the draft changes.
  await row(page).nth(1).dragTo(row(page).nth(0));
  await expect(row(page).nth(0)).toHaveAttribute("data-port", "HTTP");
  await expect(page.getByTestId("draft-unsaved")).toBeVisible();
  expect((await rulesOf(page.request, name)).map((r) => r.macro)).toEqual(["SSH", "HTTP"]);
  // Keyboard: Alt+↓ on HTTP moves it back down, Undo restores the dragged order.
  await row(page).nth(0).focus();
  await page.keyboard.press("Alt+ArrowDown");
  await expect(row(page).nth(1)).toHaveAttribute("data-port", "HTTP");
  await page.getByTestId("draft-undo").click();
  await expect(row(page).nth(0)).toHaveAttribute("data-port", "HTTP");
  // Disable SSH (now the second row), review, apply.
  await row(page).nth(1).getByTestId("rule-toggle").click();
  await expect(row(page).nth(1).getByTestId("rule-toggle")).toHaveAttribute("aria-pressed", "false");
  await page.getByTestId("draft-review").click();
  await expect(page.getByTestId("draft-review-panel")).toBeVisible();
  await expect(page.getByTestId("draft-line")).toHaveCount(2);
  // The server's preview of the draft: no server uses the group yet.
  await expect(page.getByTestId("draft-review-panel").getByTestId("preview-unchanged")).toBeVisible();
  await page.getByTestId("draft-apply").click();
  await expect(page.getByTestId("draft-unsaved")).toHaveCount(0);
  const saved = await rulesOf(page.request, name);
  expect(saved.map((r) => [r.macro, r.enable])).toEqual([
    ["HTTP", true],
    ["SSH", false],
  ]);

  // Two servers to attach it to: VMs of the demo cluster, imported.
  const sync = await page.request.post("/api/sync_servers", { headers: { Origin: baseURL! }, data: {} });
  const unmanaged: string[] = (await sync.json()).data.unmanaged.map((u: { name: string }) => u.name);
  let servers: string[] = unmanaged.slice(0, 2);
  if (servers.length === 2) {
    const imported = await page.request.post("/api/sync_servers", { headers: { Origin: baseURL! }, data: { names: servers } });
    expect(imported.status()).toBe(200);
  } else {
    const list = await page.request.get("/api/servers?per_page=100&status=running");
    servers = (await list.json()).data.slice(0, 2).map((s: { name: string }) => s.name);
  }
  expect(servers).toHaveLength(2);
  await page.goto(`/servers?search=`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  for (const s of servers) {
    await page.locator(`[data-testid="server-row"][data-name="${s}"]`).getByRole("checkbox").check();
  }
  await page.getByTestId("bulk-groups").click();
  await page.getByTestId("bulk-groups-group").selectOption(name);
  await expect(page.getByTestId("bulk-groups-summary")).toContainText(servers[1]);
  // Apply waits for a preview of what is chosen.
  await expect(page.getByTestId("bulk-groups-confirm")).toBeDisabled();
  await page.getByTestId("bulk-groups-preview").click();
  // Per server, what changes; its SSH rule is off, so the preview warns that SSH is dropped.
  await expect(page.getByTestId("preview-server")).toHaveCount(2);
  const ssh = page.locator('[data-testid="preview-warning"][data-kind="SshDropped"]');
  await expect(ssh.filter({ hasText: servers[0] })).toHaveCount(1);
  await expect(ssh.filter({ hasText: servers[1] })).toHaveCount(1);
  await page.getByTestId("preview-server").first().locator("summary").click();
  await expect(page.getByTestId("preview-diff").first()).toContainText(`group ${name}, rule 0 (HTTP)`);
  await page.getByTestId("bulk-groups-confirm").click();
  await page.getByTestId("groups-job").click();
  await expect(page.locator("h2").getByTestId("job-status")).toHaveText("succeeded", { timeout: 30_000 });
  const attached = await (await page.request.get(`/api/firewall/groups/${name}`)).json();
  expect([...attached.group.used_by].sort()).toEqual([...servers].sort());
  // The servers table shows it in the groups column.
  await page.goto(`/servers`);
  await expect(page.locator(`[data-testid="server-row"][data-name="${servers[1]}"]`).getByTestId("server-groups")).toContainText(name);

  // Detach it from one.
  await page.goto(`/servers`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.locator(`[data-testid="server-row"][data-name="${servers[0]}"]`).getByRole("checkbox").check();
  await page.getByTestId("bulk-groups").click();
  await page.getByTestId("bulk-groups-mode").selectOption("detach");
  await page.getByTestId("bulk-groups-group").selectOption(name);
  await page.getByTestId("bulk-groups-preview").click();
  await expect(page.getByTestId("preview-server")).toHaveCount(1);
  await expect(page.getByTestId("preview")).toHaveAttribute("data-affected", "1");
  await page.getByTestId("bulk-groups-confirm").click();
  await page.getByTestId("groups-job").click();
  await expect(page.locator("h2").getByTestId("job-status")).toHaveText("succeeded", { timeout: 30_000 });
  const after = await (await page.request.get(`/api/firewall/groups/${name}`)).json();
  expect(after.group.used_by).toEqual([servers[1]]);
  expect(errors).toEqual([]);
});

test("without JavaScript: add and move a rule; a stale digest is refused and keeps what was typed", async ({
  page,
  javaScriptEnabled,
  baseURL,
}) => {
  test.skip(javaScriptEnabled, "this is the no-JS path");
  const name = await newGroup(page.request, baseURL!, [{ action: "ACCEPT", macro: "SSH" }]);
  await page.goto(`/security-groups/${name}`);
  await expect(row(page)).toHaveCount(1);

  // Add: a plain form post, then the page again with the new rule at the end.
  await page.getByTestId("rule-dport").fill("8080");
  await page.getByTestId("rule-comment").fill("app");
  await page.getByTestId("rule-add").click();
  await expect(row(page)).toHaveCount(2);
  await expect(row(page).nth(1)).toHaveAttribute("data-port", "tcp 8080");

  // Move: the new rule up, with the digest the page was rendered with.
  await row(page).nth(1).getByTestId("rule-up").click();
  await expect(row(page).nth(0)).toHaveAttribute("data-port", "tcp 8080");
  expect((await rulesOf(page.request, name)).map((r) => r.dport ?? r.macro)).toEqual(["8080", "SSH"]);

  // Someone else changes the group; this page's digest is now stale.
  const other = await page.request.post(`/api/firewall/groups/${name}/rules`, {
    headers: { Origin: baseURL! },
    data: { action: "ACCEPT", macro: "HTTPS" },
  });
  expect(other.status()).toBe(201);
  await page.getByTestId("rule-dport").fill("9090");
  await page.getByTestId("rule-comment").fill("keep me");
  await page.getByTestId("rule-add").click();
  await expect(page.getByTestId("group-error")).toContainText("changed since you opened it");
  await expect(page.getByTestId("rule-comment")).toHaveValue("keep me");
  await expect(page.getByTestId("rule-dport")).toHaveValue("9090");
  expect((await rulesOf(page.request, name)).map((r) => r.dport ?? r.macro)).toEqual(["HTTPS", "8080", "SSH"]);
});
