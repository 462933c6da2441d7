import { defineConfig } from "@playwright/test";
import { ADMIN_STATE } from "./tests/env";

// Debian's Chromium, never a downloaded browser; flags keep it off the network.
const launchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};

const baseURL = process.env.PROXFLEET_BASE_URL;
if (!baseURL) {
  throw new Error("PROXFLEET_BASE_URL is not set: run the suite through scripts/test.sh");
}

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  forbidOnly: true,
  reporter: [["list"]],
  use: { baseURL, launchOptions, locale: "en-US" },
  // First the setup: the first-start login story, which leaves a signed-in admin behind.
  // Then every spec runs twice, signed in as that admin: hydrated, and with JavaScript off
  // (server-rendered only). Specs that need one flavour say so with test.skip on
  // `javaScriptEnabled`.
  projects: [
    { name: "setup", testMatch: /.*\.setup\.ts/, use: { javaScriptEnabled: true } },
    { name: "hydrated", dependencies: ["setup"], use: { javaScriptEnabled: true, storageState: ADMIN_STATE } },
    { name: "no-js", dependencies: ["setup"], use: { javaScriptEnabled: false, storageState: ADMIN_STATE } },
  ],
});
