import { expect, test } from "@playwright/test";

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
