import { defineConfig } from "@playwright/test";

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
  // Every spec runs twice: hydrated, and with JavaScript off (server-rendered only). Specs
  // that need one flavour say so with test.skip on `javaScriptEnabled`.
  projects: [
    { name: "hydrated", use: { javaScriptEnabled: true } },
    { name: "no-js", use: { javaScriptEnabled: false } },
  ],
});
