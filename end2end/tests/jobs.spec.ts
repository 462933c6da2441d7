import { expect, test } from "./fixtures";

test("a test job started from the Jobs page shows live progress and a toast without a reload", async ({ page, javaScriptEnabled }) => {
  test.skip(!javaScriptEnabled, "live updates need JavaScript");
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  await page.goto("/jobs");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  let documents = 0;
  page.on("request", (r) => {
    if (r.resourceType() === "document") documents += 1;
  });
  await page.getByTestId("run-test-job").click();
  // The job appears, runs and finishes while we watch: events, not reloads.
  const toast = page.getByTestId("job-toast");
  await expect(toast).toContainText("succeeded", { timeout: 15_000 });
  await expect(page.getByTestId("jobs").getByTestId("job-status").first()).toHaveText("succeeded");
  await expect(page.getByTestId("unread-count")).toBeVisible();
  expect(documents).toBe(0);

  // The detail page shows its log; the notification carries it too.
  await toast.getByRole("link").click();
  await expect(page.getByTestId("job-log")).toContainText("finished: succeeded");
  await expect(page.getByTestId("job-progress")).toHaveAttribute("value", "100");
  await page.goto("/notifications");
  await expect(page.getByTestId("notifications")).toContainText("test.simple");
  expect(errors).toEqual([]);
});

test("the bell opens the latest notifications: view the log, copy or download it, mark read", async ({ page, javaScriptEnabled, context }) => {
  test.skip(!javaScriptEnabled, "the dropdown needs JavaScript (without it the bell is a link)");
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.goto("/jobs");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("run-test-job").click();
  const toast = page.getByTestId("job-toast");
  await expect(toast).toContainText("succeeded", { timeout: 15_000 });
  const jobId = (await toast.getByRole("link").getAttribute("href"))!.split("/").pop();

  await page.getByTestId("bell").click();
  const dropdown = page.getByTestId("bell-dropdown");
  // Other specs run alongside and notify too: find this job's notification by its title.
  const newest = dropdown.getByTestId("note").filter({ hasText: `Job #${jobId} (test.simple)` });
  await expect(newest).toHaveClass(/note-unread/);
  await newest.getByTestId("view-log").click();
  const modal = page.getByTestId("log-modal");
  await expect(modal.getByTestId("log-text")).toContainText("finished: succeeded");
  const href = await modal.getByTestId("download-log").getAttribute("href");
  expect(decodeURIComponent(href!.replace("data:text/plain;charset=utf-8,", ""))).toContain("finished: succeeded");
  await modal.getByTestId("copy-log").click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toContain("finished: succeeded");
  await page.keyboard.press("Escape");
  await expect(modal).toHaveCount(0);

  await newest.getByTestId("mark-read").click();
  await expect(newest).not.toHaveClass(/note-unread/);
  await expect(newest.getByTestId("mark-read")).toHaveCount(0);
  await page.keyboard.press("Escape");
  await expect(dropdown).toHaveCount(0);
  // A click elsewhere closes it too; the confirm step of "Clear all" keeps it open.
  await page.getByTestId("bell").click();
  await dropdown.getByRole("button", { name: "Clear all" }).click();
  await expect(dropdown.getByRole("button", { name: "Yes, clear" })).toBeVisible();
  await page.locator("#main").click({ position: { x: 5, y: 5 } });
  await expect(dropdown).toHaveCount(0);
});

test("the Jobs list filters by kind", async ({ page, baseURL }) => {
  // A job of each test kind, started over REST with the page's session.
  for (const kind of ["simple", "error"]) {
    const r = await page.request.post(`/api/test/${kind}`, { headers: { Origin: baseURL! } });
    expect(r.status()).toBe(202);
  }
  await page.goto("/jobs?kind=test.simple");
  await expect(page.getByTestId("jobs").locator("tbody tr").first()).toBeVisible();
  const kinds = await page.getByTestId("jobs").locator("tbody tr td:nth-child(2)").allTextContents();
  expect(kinds.length).toBeGreaterThan(0);
  expect(new Set(kinds)).toEqual(new Set(["test.simple"]));
  await page.goto("/jobs?kind=no.such.kind");
  await expect(page.getByTestId("jobs-empty")).toBeVisible();
});
