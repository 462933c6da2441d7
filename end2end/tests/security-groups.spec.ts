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
  return (await r.json()).group.rules as {
    macro?: string;
    dport?: string;
    enable: boolean;
    source?: string;
    comment?: string;
  }[];
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
  // An IP set for a rule's source: the editor suggests it.
  const set = `adm${Date.now() % 1_000_000}`;
  const made = await page.request.post("/api/firewall/ipsets", { headers: { Origin: baseURL! }, data: { name: set } });
  expect(made.status()).toBe(201);

  // Two rules through the form, each at the end: SSH, then HTTP. The macro's expansion shows.
  await page.goto(`/security-groups/${name}`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByTestId("rules-empty")).toBeVisible();
  await page.getByTestId("rule-macro").selectOption("SSH");
  await expect(page.getByTestId("rule-macro-expansion")).toContainText("tcp 22");
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
  // Edit in place: Enter on the SSH row opens its form with the rule's fields; Enter in a
  // field is Done, which changes only the draft.
  await expect(page.locator(`#rule-refs option[value="+${set}"]`)).toHaveCount(1);
  await row(page).nth(1).focus();
  await page.keyboard.press("Enter");
  const editor = page.getByTestId("rule-editor");
  await expect(editor).toHaveCount(1);
  await expect(page.getByTestId("edit-macro")).toHaveValue("SSH");
  await expect(page.getByTestId("edit-enable")).not.toBeChecked();
  await page.getByTestId("edit-source").fill(`+${set}`);
  await page.getByTestId("edit-comment").fill("admins only");
  await page.getByTestId("edit-comment").press("Enter");
  await expect(editor).toHaveCount(0);
  await expect(row(page).nth(1)).toContainText("admins only");
  await expect(row(page).nth(1)).toContainText(`+${set}`);
  // Escape closes a form and changes nothing.
  await row(page).nth(0).getByTestId("rule-edit").click();
  await page.getByTestId("edit-comment").fill("not this");
  await page.getByTestId("edit-comment").press("Escape");
  await expect(editor).toHaveCount(0);
  await expect(row(page).nth(0)).not.toContainText("not this");
  expect((await rulesOf(page.request, name)).map((r) => r.comment ?? "")).toEqual(["", ""]);
  await page.getByTestId("draft-review").click();
  await expect(page.getByTestId("draft-review-panel")).toBeVisible();
  await expect(page.getByTestId("draft-line")).toHaveCount(2);
  // The server's preview of the draft: no server uses the group yet.
  await expect(page.getByTestId("draft-review-panel").getByTestId("preview-unchanged")).toBeVisible();
  await page.getByTestId("draft-apply").click();
  await expect(page.getByTestId("draft-unsaved")).toHaveCount(0);
  const saved = await rulesOf(page.request, name);
  expect(saved.map((r) => [r.macro, r.enable, r.source ?? "", r.comment ?? ""])).toEqual([
    ["HTTP", true, "", ""],
    ["SSH", false, `+${set}`, "admins only"],
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

  // Edit: the link opens the rule's form on the page; Done saves it at once and closes it.
  await row(page).nth(1).getByTestId("rule-edit").click();
  await expect(page.getByTestId("rule-editor")).toHaveCount(1);
  await expect(page.getByTestId("edit-dport")).toHaveValue("8080");
  await expect(page.getByTestId("edit-comment")).toHaveValue("app");
  await page.getByTestId("edit-dport").fill("8081");
  await page.getByTestId("edit-comment").fill("");
  await page.getByTestId("rule-edit-done").click();
  await expect(page.getByTestId("rule-editor")).toHaveCount(0);
  await expect(row(page).nth(1)).toHaveAttribute("data-port", "tcp 8081");
  const edited = await rulesOf(page.request, name);
  expect(edited.map((r) => r.dport ?? r.macro)).toEqual(["HTTPS", "8081", "SSH"]);
  expect(edited[1].comment, "a field emptied is cleared").toBeUndefined();

  // An edit sent after someone else changed the group is refused; the input stays, and the
  // form (whose row may now hold another rule) is refused again rather than change that one.
  await row(page).nth(1).getByTestId("rule-edit").click();
  await page.getByTestId("edit-dport").fill("8082");
  const third = await page.request.post(`/api/firewall/groups/${name}/rules`, {
    headers: { Origin: baseURL! },
    data: { action: "DROP", macro: "Telnet" },
  });
  expect(third.status()).toBe(201);
  await page.getByTestId("rule-edit-done").click();
  await expect(page.getByTestId("group-error")).toContainText("changed since you opened it");
  await expect(page.getByTestId("rule-edit-stale")).toBeVisible();
  await expect(page.getByTestId("edit-dport")).toHaveValue("8082");
  await page.getByTestId("rule-edit-done").click();
  await expect(page.getByTestId("group-error")).toContainText("changed since you opened it");
  expect((await rulesOf(page.request, name)).map((r) => r.dport ?? r.macro)).toEqual(["Telnet", "HTTPS", "8081", "SSH"]);
});

test("a server's firewall options: the form previews what changes, Apply writes it (with and without JavaScript)", async ({
  page,
  javaScriptEnabled,
  baseURL,
}) => {
  const headers = { Origin: baseURL! };
  // A server of its own per flavour (sorted names, from the end: the group test takes the first).
  const sync = await page.request.post("/api/sync_servers", { headers, data: {} });
  const unmanaged: string[] = (await sync.json()).data.unmanaged.map((u: { name: string }) => u.name).sort();
  const server = unmanaged[unmanaged.length - (javaScriptEnabled ? 1 : 2)];
  expect(server, "the demo cluster has unmanaged VMs to import").toBeTruthy();
  const imported = await page.request.post("/api/sync_servers", { headers, data: { names: [server] } });
  expect(imported.status()).toBe(200);
  const options = async () => (await (await page.request.get(`/api/servers/${server}/firewall`)).json()).data.options;
  const before = await options();

  await page.goto(`/servers/${server}`);
  if (javaScriptEnabled) await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("fw-enable").check();
  await page.getByTestId("fw-policy_out").selectOption("DROP");
  await page.getByTestId("fw-log_level_in").selectOption("info");
  await page.getByTestId("fw-options-preview").click();
  await expect(page).toHaveURL(/fw=preview/);
  // The preview: outbound now ends in DROP; the form shows what was previewed; nothing written.
  const review = page.getByTestId("fw-options-review");
  await expect(review.getByTestId("preview-server")).toHaveCount(1);
  await review.getByTestId("preview-server").locator("summary").click();
  await expect(review.getByTestId("preview-diff")).toContainText(/\+ out DROP\s+\(policy\)/);
  await expect(page.getByTestId("fw-policy_out")).toHaveValue("DROP");
  expect(await options()).toEqual(before);

  await review.getByTestId("fw-options-apply").click();
  await expect(page.getByTestId("fw-options-review")).toHaveCount(0);
  await expect(page).not.toHaveURL(/fw=preview/);
  const after = await options();
  expect([after.enable, after.policy_out, after.log_level_in]).toEqual([true, "DROP", "info"]);
  await expect(page.getByTestId("fw-policy_out")).toHaveValue("DROP");

  // As it was, for whoever uses this server next.
  const restore = await page.request.put(`/api/servers/${server}/firewall/options`, {
    headers,
    data: { enable: before.enable, policy_out: before.policy_out, log_level_in: before.log_level_in },
  });
  expect(restore.status(), await restore.text()).toBe(200);
});
