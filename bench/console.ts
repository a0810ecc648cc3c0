// Issue 15's browser figures for the console, in Debian's chromium against the compiled server with
// the demo cloud: a 42U rack elevation drawn after its response (budget 100 ms) and a page of 50
// hosts (budget 150 ms), median of BENCH_CONSOLE_RUNS loads, with the CPU a load of both pages took
// of the server, PostgreSQL and the browser; and the first load's compressed JavaScript (budget
// 300 KB).
import { execFileSync } from "node:child_process";
import { afterResponse, consoleContext, launchChromium, signIn } from "../tests/support/browser.js";
import { cpuMeter, cpuPer, processesCpuMs, startBenchServer } from "./harness.js";

const runs = Number(process.env.BENCH_CONSOLE_RUNS ?? 9);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const server = await startBenchServer({ demo: true });
const browser = await launchChromium();
try {
  // The demo loads after the server listens: wait for its racks.
  let rackId = "";
  for (let tries = 0; !rackId; tries++) {
    const response = await fetch(`${server.url}/rackplane.v1.InventoryService/ListRacks`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${server.adminToken}` },
      body: JSON.stringify({ pageSize: 1, filter: "height_units = 42" }),
    });
    rackId = ((await response.json()) as { racks?: { id: string }[] }).racks?.[0]?.id ?? "";
    if (!rackId && tries > 600) throw new Error("the demo cloud did not load");
    if (!rackId) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const elevation: number[] = [];
  const hosts: number[] = [];
  const cpu = cpuMeter(server.pid, processesCpuMs(/^(chromium|chrome)/));
  const cpuBefore = cpu();
  for (let run = 0; run < runs; run++) {
    const context = await consoleContext(browser);
    const page = await signIn(context, server.url, server.adminToken);
    await page.goto(`${server.url}/racks/${rackId}`);
    await page.locator("svg.elevation").waitFor();
    elevation.push(await afterResponse(page, "GetRackElevation", "elevation"));
    await page.goto(`${server.url}/hosts`);
    await page.waitForFunction(() => document.querySelectorAll("tbody tr").length >= 50);
    hosts.push(await afterResponse(page, "ListBaremetals", "rows50"));
    await context.close();
  }
  console.log("| figure | median | budget |");
  console.log("| --- | --- | --- |");
  console.log(`| 42U elevation drawn after its response | ${median(elevation).toFixed(1)} ms | 100 ms |`);
  console.log(`| 50 hosts drawn after their response | ${median(hosts).toFixed(1)} ms | 150 ms |`);
  console.log(
    `\nCPU ms per run (sign-in, the elevation, 50 hosts), server / PostgreSQL / browser: ${cpuPer(cpuBefore, cpu(), runs)} (the server's and PostgreSQL's include the demo's simulated agent at work beside)`,
  );
  execFileSync(process.execPath, ["scripts/build-web.ts", "--report"], { stdio: "inherit" });
} finally {
  await browser.close();
  await server.stop();
}
