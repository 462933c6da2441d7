import { expect, test as setup, type Page } from "./fixtures";
import { ADMIN_STATE, adminPassword } from "./env";

/** Collects console errors and uncaught exceptions. */
function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(String(err)));
  return errors;
}

async function signIn(page: Page, username: string, password: string) {
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

// The first-start story, end to end, on the server the test command just started: it printed
// a one-time password for `admin`, which the test command hands us.
setup("first login, forced password change, a viewer who cannot administer", async ({ browser }) => {
  const otp = process.env.PROXFLEET_E2E_ADMIN_OTP;
  if (!otp) throw new Error("PROXFLEET_E2E_ADMIN_OTP is not set: run the suite through scripts/test.sh");
  const admin = await browser.newContext();
  const page = await admin.newPage();
  const errors = watchConsole(page);

  // Anonymous visitors land on the login page; a wrong password gets the generic message.
  await page.goto("/servers");
  await expect(page).toHaveURL(/\/login\?next=%2Fservers$/);
  await signIn(page, "admin", "not-the-password");
  await expect(page.getByTestId("login-error")).toHaveText("Invalid username or password.");

  // The one-time password works once and forces a change before anything else.
  await signIn(page, "admin", otp);
  await expect(page).toHaveURL(/\/change-password$/);
  await page.goto("/admin");
  await expect(page).toHaveURL(/\/change-password$/);
  await page.getByLabel("Current password").fill(otp);
  // Long enough for the browser's own check, refused by the server's policy.
  await page.getByLabel("New password", { exact: true }).fill("admin-is-my-name");
  await page.getByLabel("Repeat the new password").fill("admin-is-my-name");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByTestId("password-error")).toContainText("must not contain the username");
  await page.getByLabel("Current password").fill(otp);
  await page.getByLabel("New password", { exact: true }).fill(adminPassword());
  await page.getByLabel("Repeat the new password").fill(adminPassword());
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("user-menu")).toContainText("admin");

  // Admin → Users: create a viewer.
  await page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: "Admin" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Users");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Username").fill("viewer1");
  await page.locator("#nu-password").fill("viewer password 1");
  await page.getByLabel("Role").selectOption("viewer");
  await page.getByRole("button", { name: "Create user" }).click();
  await expect(page.getByTestId("user-viewer1")).toContainText("viewer");
  await expect(page.getByTestId("role-counts")).toContainText("viewer: 1");

  // The audit log recorded it all.
  await page.getByRole("link", { name: "Audit log" }).click();
  await expect(page.getByTestId("audit")).toContainText("user.create");
  await expect(page.getByTestId("audit")).toContainText("password.change");
  expect(errors).toEqual([]);
  await admin.storageState({ path: ADMIN_STATE });

  // The viewer: no admin navigation, and the server refuses admin calls anyway.
  const viewer = await browser.newContext();
  const vpage = await viewer.newPage();
  await signIn(vpage, "viewer1", "viewer password 1");
  await expect(vpage).toHaveURL(/\/$/);
  const nav = vpage.getByRole("navigation", { name: "Main navigation" });
  await expect(nav.getByRole("link", { name: "Servers", exact: true })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Admin" })).toHaveCount(0);
  const refused = await vpage.request.get("/api/users");
  expect(refused.status()).toBe(403);
  await vpage.goto("/admin");
  await expect(vpage.getByTestId("admin-refused")).toBeVisible();

  // Logout ends the session: the next page asks for a login again.
  await vpage.getByTestId("logout").click();
  await expect(vpage).toHaveURL(/\/login$/);
  expect((await vpage.request.get("/api/current-user")).status()).toBe(401);
  await vpage.goto("/");
  await expect(vpage).toHaveURL(/\/login$/);
  await viewer.close();
  await admin.close();
});
