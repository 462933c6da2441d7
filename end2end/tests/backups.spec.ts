import { expect, test } from "./fixtures";

test("back up a server from its page, watch it finish, then protect and delete it on the backups page", async ({
  page,
  javaScriptEnabled,
  baseURL,
}) => {
  test.setTimeout(90_000);
  const headers = { Origin: baseURL! };
  // A server of its own per flavour: the demo's "search-NN" VMs, which no other test takes.
  const sync = await page.request.post("/api/sync_servers", { headers, data: {} });
  const unmanaged: string[] = (await sync.json()).data.unmanaged.map((u: { name: string }) => u.name);
  const server = unmanaged.filter((n) => n.startsWith("search-")).sort()[javaScriptEnabled ? 0 : 1];
  expect(server, "the demo cluster has unmanaged search VMs to import").toBeTruthy();
  const imported = await page.request.post("/api/sync_servers", { headers, data: { names: [server] } });
  expect(imported.status()).toBe(200);

  await page.goto(`/servers/${server}`);
  if (javaScriptEnabled) await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const form = page.getByTestId("backup-form");
  await expect(form.getByTestId("backup-storage").locator("option")).not.toHaveCount(0);
  await form.getByTestId("backup-storage").selectOption("local");
  const note = `e2e ${javaScriptEnabled ? "js" : "nojs"} ${Date.now() % 1_000_000}`;
  await form.locator('input[name="description"]').fill(note);
  await form.getByTestId("backup-now").click();

  const status = page.getByTestId("backup-status");
  if (javaScriptEnabled) {
    // Live: the status follows the job's events until it is done.
    await expect(page.getByTestId("backup-started")).toBeVisible();
    await expect(status).toHaveAttribute("data-state", "completed", { timeout: 30_000 });
  } else {
    // Without JavaScript the form posts and comes back to the page; a reload shows progress.
    await expect(page).toHaveURL(new RegExp(`/servers/${server}\\??$`));
    await expect
      .poll(
        async () => {
          await page.reload();
          return page.getByTestId("backup-status").getAttribute("data-state");
        },
        { timeout: 30_000 },
      )
      .toBe("completed");
  }
  await expect(status).toHaveAttribute("data-progress", "100");
  // The demo has ten days of nightly backups of every VM; this one carries the note.
  const made = page.getByTestId("server-backup-row").filter({ hasText: `${server} - ${note}` });
  await expect(made).toHaveCount(1);
  const volid = await made.getAttribute("data-volid");
  expect(volid).toMatch(/^local:backup\/vzdump-qemu-\d+-.*\.vma\.zst$/);

  // The backups page lists it under its server; protect it, unprotect it, delete it.
  await page.goto(`/backups?server=${server}`);
  if (javaScriptEnabled) await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByTestId("backup-group")).toContainText(server);
  const row = page.locator(`[data-testid="backup-row"][data-volid="${volid}"]`);
  await expect(row).toBeVisible();
  await row.getByTestId("backup-protect").click();
  await expect(row.getByTestId("backup-protected")).toBeVisible();
  // A protected backup offers no delete.
  await expect(row.getByRole("button", { name: "Delete" })).toHaveCount(0);
  await row.getByTestId("backup-protect").click();
  await expect(row.getByTestId("backup-protected")).toHaveCount(0);
  if (javaScriptEnabled) {
    await row.getByRole("button", { name: "Delete" }).click();
    // The question names the server and the time.
    await expect(row.locator(".confirm")).toContainText(server);
    await row.getByRole("button", { name: "Yes, delete this backup" }).click();
    await expect(row).toHaveCount(0);
    const left = await page.request.get(`/api/server/backups/${server}`);
    expect((await left.json()).data.backups.map((b: { volid: string }) => b.volid)).not.toContain(volid);
  }
});
