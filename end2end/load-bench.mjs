// On-demand: how long a page takes to become interactive (body[data-hydrated]) in Debian's
// Chromium over an emulated network, and what it downloads. Not part of the test run.
//
//   PROXFLEET_BASE_URL=http://127.0.0.1:3917 node load-bench.mjs [path] [runs]
//
// Uses the signed-in state the e2e setup leaves in .auth/admin.json. Each run is a cold load
// (new context, empty cache); the network is emulated per profile below.
import { chromium } from "@playwright/test";

const base = process.env.PROXFLEET_BASE_URL;
if (!base) throw new Error("PROXFLEET_BASE_URL is not set");
const path = process.argv[2] ?? "/servers";
const runs = Number(process.argv[3] ?? 5);
const profiles = [
  { name: "loopback", latency: 0, down: 0 },
  { name: "LAN 2 ms, 100 Mbit/s", latency: 2, down: 100e6 / 8 },
  { name: "WAN 40 ms, 20 Mbit/s", latency: 40, down: 20e6 / 8 },
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
for (const p of profiles) {
  const times = [];
  let requests = 0;
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ storageState: ".auth/admin.json" });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    if (p.latency || p.down) {
      await cdp.send("Network.emulateNetworkConditions", {
        offline: false,
        latency: p.latency,
        downloadThroughput: p.down || -1,
        uploadThroughput: p.down || -1,
      });
    }
    let n = 0;
    let b = 0;
    cdp.on("Network.loadingFinished", (e) => {
      n += 1;
      b += e.encodedDataLength;
    });
    const t0 = Date.now();
    await page.goto(base + path);
    await page.waitForSelector("body[data-hydrated=true]", { timeout: 60_000 });
    times.push(Date.now() - t0);
    requests = n;
    bytes = b;
    await context.close();
  }
  times.sort((a, b) => a - b);
  console.log(
    `${path} ${p.name}: interactive p50 ${times[Math.floor(times.length / 2)]} ms (min ${times[0]}, max ${times.at(-1)}), ` +
      `${requests} requests, ${(bytes / 1024).toFixed(1)} KiB on the wire`,
  );
}
await browser.close();
