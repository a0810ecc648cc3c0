// Issue 16's figures for rackctl: start-up of `rackctl get racks` (to the first byte of the table
// and to exit; target ≤ 300 ms to first byte), beside a bare `node -e ''` for the floor, and the
// host import rate through `rackctl import hosts` (BENCH_CLI_HOSTS rows, default 20,000); each with
// the CPU it took of the server, PostgreSQL and rackctl's own process.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { InventoryService } from "../gen/es/rackplane/v1/inventory_pb.js";
import { cpuMeter, cpuPer, reapedChildrenCpuMs, startBenchServer } from "./harness.js";

const runs = Number(process.env.BENCH_CLI_RUNS ?? 15);
const hostCount = Number(process.env.BENCH_CLI_HOSTS ?? 20_000);
const hostsPerRack = 40;

/** Milliseconds to the first stdout byte and to exit of one process. */
function timed(args: string[], env: NodeJS.ProcessEnv): Promise<{ firstByteMs: number; exitMs: number; code: number | null }> {
  return new Promise((resolve) => {
    const started = performance.now();
    let firstByteMs = Number.NaN;
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.on("data", () => {
      if (Number.isNaN(firstByteMs)) firstByteMs = performance.now() - started;
    });
    child.on("close", (code) => resolve({ firstByteMs, exitMs: performance.now() - started, code }));
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const server = await startBenchServer();
const dir = mkdtempSync(join(tmpdir(), "rackctl-bench-"));
try {
  const headers = { authorization: `Bearer ${server.adminToken}` };
  const inventory = createClient(InventoryService, createGrpcTransport({ baseUrl: server.url }));
  const { region } = await inventory.createRegion({ region: { name: "bench" } }, { headers });
  const { datacenter } = await inventory.createDatacenter({ datacenter: { name: "bench-dc", regionId: region!.id } }, { headers });
  const { room } = await inventory.createRoom({ room: { name: "bench-room", datacenterId: datacenter!.id } }, { headers });
  await inventory.createBaremetalGroup({ group: { name: "bench-group" } }, { headers });
  const rackCount = Math.ceil(hostCount / hostsPerRack);
  for (let r = 0; r < rackCount; r += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, rackCount - r) }, (_, i) =>
        inventory.createRack({ rack: { name: `r${r + i}`, roomId: room!.id, heightUnits: 42 } }, { headers }),
      ),
    );
  }
  const env = {
    ...process.env,
    RACKPLANE_SERVER: server.url,
    RACKPLANE_TOKEN: server.adminToken,
    RACKPLANE_CONFIG: join(dir, "none.yaml"),
  };

  // rackctl's CPU is its finished process's, which this one reaped.
  const cpu = cpuMeter(server.pid, reapedChildrenCpuMs);
  const floor: number[] = [];
  const first: number[] = [];
  const exit: number[] = [];
  let getCpu = "";
  for (let i = 0; i < runs; i++) {
    floor.push((await timed(["-e", "process.stdout.write('x')"], env)).firstByteMs);
    const before = cpu();
    const run = await timed(["src/cli/rackctl.mjs", "get", "racks", "--limit", "50"], env);
    if (run.code !== 0) throw new Error(`rackctl get racks exited ${run.code}`);
    if (i === runs - 1) getCpu = cpuPer(before, cpu(), 1);
    first.push(run.firstByteMs);
    exit.push(run.exitMs);
  }
  console.log(`rackctl get racks (${runs} runs, compiled, Node ${process.versions.node}; medians):`);
  console.log(`  node -e '' to first byte        ${median(floor).toFixed(0)} ms (the floor)`);
  console.log(`  rackctl get racks, first byte   ${median(first).toFixed(0)} ms (target ≤ 300 ms)`);
  console.log(`  rackctl get racks, exit         ${median(exit).toFixed(0)} ms`);
  console.log(`  rackctl get racks, first byte against the floor: ${(median(first) / median(floor)).toFixed(1)}×`);
  console.log(`  CPU ms of the last run, server / PostgreSQL / rackctl: ${getCpu}`);

  let csv = "name,serial_number,group,datacenter,room,rack,first_position,height_units,cpu_cores,memory_mib,storage_gib,description\n";
  for (let n = 0; n < hostCount; n++) {
    csv += `h${n},S${n},bench-group,bench-dc,bench-room,r${Math.floor(n / hostsPerRack)},${(n % hostsPerRack) + 1},1,32,131072,1000,\n`;
  }
  writeFileSync(join(dir, "hosts.csv"), csv);
  const importBefore = cpu();
  const imported = await timed(["src/cli/rackctl.mjs", "import", "hosts", join(dir, "hosts.csv")], env);
  if (imported.code !== 0) throw new Error(`rackctl import exited ${imported.code}`);
  console.log(
    `rackctl import hosts: ${hostCount} rows in ${(imported.exitMs / 1000).toFixed(1)} s = ${Math.round(hostCount / (imported.exitMs / 1000))} hosts/s; ` +
      `CPU ms per host, server / PostgreSQL / rackctl: ${cpuPer(importBefore, cpu(), hostCount)}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
  await server.stop();
}
