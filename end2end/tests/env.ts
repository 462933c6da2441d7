/** Where the setup project leaves the signed-in admin's cookies for the other specs. */
export const ADMIN_STATE = ".auth/admin.json";

/** The admin password the setup chooses at the forced change (the test command generates it). */
export function adminPassword(): string {
  const pw = process.env.PROXFLEET_E2E_ADMIN_PASSWORD;
  if (!pw) throw new Error("PROXFLEET_E2E_ADMIN_PASSWORD is not set: run the suite through scripts/test.sh");
  return pw;
}
