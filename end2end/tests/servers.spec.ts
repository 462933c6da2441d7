import { expect, test } from "./fixtures";

test("bulk-create three servers in the wizard, watch them run, stop one, delete one", async ({ page, javaScriptEnabled }) => {
  test.skip(!javaScriptEnabled, "the wizard and live updates need JavaScript");
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  const prefix = `e2e${Date.now() % 100000}`;

  await page.goto("/servers/new");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator("#srv-template option").first()).toBeAttached();
  await page.getByTestId("mode-bulk").check();
  await page.locator("#srv-pattern").fill(`${prefix}-{n}`);
  await page.locator("#srv-count").fill("3");
  await page.getByTestId("make-review").click();
  await expect(page.getByTestId("review-name")).toHaveCount(3);
  await expect(page.getByTestId("review-name").nth(2)).toHaveValue(`${prefix}-3`);
  await page.getByTestId("submit-create").click();

  // The job opens; then the servers page shows them reaching "running" by live events.
  await expect(page).toHaveURL(/\/jobs\/\d+$/);
  let documents = 0;
  page.on("request", (r) => {
    if (r.resourceType() === "document") documents += 1;
  });
  await page.getByRole("link", { name: "Servers", exact: true }).click();
  const row = (n: number) => page.locator(`[data-testid="server-row"][data-name="${prefix}-${n}"]`);
  for (const n of [1, 2, 3]) {
    await expect(row(n).getByTestId("server-status")).toHaveText("running", { timeout: 60_000 });
  }
  expect(documents).toBe(0);
  await expect(row(1).locator("code").first()).toContainText("10.10.0.");

  // Stop one. Start does not apply to a running server: its button is disabled, and looks it.
  await row(1).getByRole("checkbox").check();
  const start = page.getByTestId("bulk-start");
  const stop = page.getByTestId("bulk-stop");
  await expect(start).toBeDisabled();
  await expect(start).toHaveCSS("opacity", "0.45");
  await expect(start).toHaveCSS("cursor", "not-allowed");
  await expect(stop).toBeEnabled();
  await expect(stop).toHaveCSS("opacity", "1");
  await stop.click();
  await expect(page.getByTestId("action-started")).toBeVisible();
  await expect(row(1).getByTestId("server-status")).toHaveText("stopped", { timeout: 30_000 });

  // Delete another, after confirming.
  await row(1).getByRole("checkbox").uncheck();
  await row(2).getByRole("checkbox").check();
  await page.getByTestId("bulk-delete").click();
  await expect(page.getByTestId("bulk-delete-confirm")).toBeVisible();
  await page.getByTestId("bulk-delete-confirm").click();
  await expect(row(2)).toHaveCount(0, { timeout: 30_000 });
  await expect(row(3).getByTestId("server-status")).toHaveText("running");

  // Its page: more memory on a running server applies at the next reboot, and says so.
  await row(3).getByRole("link", { name: `${prefix}-3` }).click();
  await expect(page.getByTestId("server-overview")).toContainText(`${prefix}-3`);
  await expect(page.getByTestId("server-log")).toContainText("cloning template");
  await page.locator('input[name="memory"]').fill("3072");
  await page.getByTestId("save-settings").click();
  await expect(page.getByTestId("needs-reboot")).toBeVisible();
  await expect(page.getByTestId("server-overview")).toContainText("3072 MB");

  // Its Proxmox task history: the start task, whose own log opens in the viewer.
  const startTask = page.getByTestId("server-task").filter({ hasText: "qmstart" }).first();
  await expect(startTask).toContainText("OK");
  await startTask.getByTestId("task-log").click();
  await expect(page.getByTestId("log-modal")).toBeVisible();
  await expect(page.getByTestId("log-text")).toContainText("TASK OK");
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("log-modal")).toHaveCount(0);
  // Focus is back on the button that opened the viewer.
  await expect(startTask.getByTestId("task-log")).toBeFocused();

  // The dashboard counts them, shows each node's load and allocation, and the create job.
  await page.getByRole("link", { name: "Dashboard", exact: true }).click();
  // Of the three: one running, one stopped, one deleted (other tests may add more).
  const count = async (id: string) => Number(await page.getByTestId(id).locator("strong").textContent());
  await expect(page.getByTestId("count-running").locator("strong")).toHaveText(/^\d+$/);
  expect(await count("count-running")).toBeGreaterThanOrEqual(1);
  expect(await count("count-stopped")).toBeGreaterThanOrEqual(1);
  expect(await count("count-total")).toBeGreaterThanOrEqual(2);
  await expect(page.getByTestId("node-card")).toHaveCount(3);
  await expect(page.getByTestId("node-card").first().getByRole("meter", { name: "CPU allocated" })).toBeVisible();
  await expect(page.getByTestId("storage-usage").getByRole("meter").first()).toBeVisible();
  // The newest jobs include this test's last one (the delete), whatever other tests added.
  await expect(page.getByTestId("recent-jobs")).toContainText("server.action");
  expect(errors).toEqual([]);
});

test("datastores: usage per node and the defaults for new disks", async ({ page, javaScriptEnabled, baseURL }) => {
  await page.goto("/datastores");
  const rows = page.getByTestId("datastore-row");
  await expect(rows.filter({ hasText: "local-lvm" }).first()).toBeVisible();
  // A shared datastore is listed once, with every node that sees it.
  await expect(rows.filter({ hasText: "shared-nfs" })).toHaveCount(1);
  await expect(rows.filter({ hasText: "shared-nfs" })).toContainText("pve1, pve2, pve3");
  // Only datastores that hold VM disks are offered as defaults.
  await expect(page.getByTestId("default-hdd-select").locator('option[value="local-lvm"]')).toHaveCount(1);
  await expect(page.getByTestId("default-hdd-select").locator('option[value="local"]')).toHaveCount(0);
  // Changing the defaults once is enough (both projects share one server).
  test.skip(!javaScriptEnabled, "the defaults are changed in the hydrated run");
  // The save answers in place once hydrated; a click before that would post the plain form.
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  // local-lvm is node-local: each node's row carries the badge.
  const hddRows = rows.filter({ has: page.getByTestId("default-hdd") });
  await expect(hddRows).toHaveCount(3);
  await expect(hddRows.first()).toContainText("local-lvm");
  try {
    await page.getByTestId("default-hdd-select").selectOption("shared-nfs");
    await page.getByRole("button", { name: "Save defaults" }).click();
    await expect(page.getByTestId("defaults-saved")).toBeVisible();
    await expect(hddRows).toHaveCount(1);
    await expect(hddRows).toContainText("shared-nfs");
  } finally {
    // Other tests create servers on the default: always put it back, through the REST door.
    const back = await page.request.post("/api/datastores/default", {
      headers: { Origin: baseURL! },
      data: { hdd_datastore_id: "local-lvm", ssd_datastore_id: "local-lvm" },
    });
    expect(back.status()).toBe(200);
  }
  await page.reload();
  await expect(hddRows).toHaveCount(3);
});

test("the create wizard names the server and field of a mistake", async ({ page, javaScriptEnabled }) => {
  test.skip(!javaScriptEnabled, "the wizard needs JavaScript");
  await page.goto("/servers/new");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator("#srv-template option").first()).toBeAttached();
  await page.locator("#srv-name").fill("Not_Valid");
  await page.getByTestId("submit-create").click();
  await expect(page.getByTestId("create-error")).toContainText("servers[0] (Not_Valid).name");
  // The error names its field, so the wizard marks that input and says why beside it.
  const name = page.locator("#srv-name");
  await expect(name).toHaveAttribute("aria-invalid", "true");
  await expect(name).toHaveAttribute("aria-describedby", "srv-name-error");
  await expect(page.locator("#srv-name-error")).toContainText("servers[0] (Not_Valid).name");
  await expect(page.locator("#srv-cores")).not.toHaveAttribute("aria-invalid", "true");
  await expect(page).toHaveURL(/\/servers\/new$/);
  // Fixing it clears the mark on the next answer.
  await name.fill("valid-name-but-no-memory");
  await page.locator("#srv-memory").fill("1");
  await page.getByTestId("submit-create").click();
  await expect(page.locator("#srv-memory")).toHaveAttribute("aria-invalid", "true");
  await expect(name).not.toHaveAttribute("aria-invalid", "true");
});

test("the servers page lists with filters and works without JavaScript", async ({ page }) => {
  await page.goto("/servers?status=running&sort=name");
  await expect(page.getByTestId("server-filter")).toBeVisible();
  await expect(page.locator('select[name="status"]')).toHaveValue("running");
  await page.goto("/ip-pools");
  await expect(page.getByTestId("pools")).toContainText("default");
  await expect(page.getByTestId("pools")).toContainText("10.10.0.0/24");
});
