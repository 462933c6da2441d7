import { expect, test } from "./fixtures";
import { adminPassword } from "./env";

// Signed out, in both flavours (hydrated and JavaScript off).
test.use({ storageState: { cookies: [], origins: [] } });

test("the login form signs in and out, with and without JavaScript", async ({ page }) => {
  await page.goto("/jobs");
  await expect(page).toHaveURL(/\/login\?next=%2Fjobs$/);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password", { exact: true }).fill("wrong wrong wrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("login-error")).toHaveText("Invalid username or password.");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password", { exact: true }).fill(adminPassword());
  await page.getByRole("button", { name: "Sign in" }).click();
  // Back where the visitor wanted to go.
  await expect(page).toHaveURL(/\/jobs$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Jobs");
  await page.getByTestId("logout").click();
  await expect(page).toHaveURL(/\/login$/);
});
