// The lock order (docs/compute.md, "Lock order") under mixed load over two server processes: named
// creations with duplicate names from sequential clients, unnamed creations in batches, cancels,
// lifecycle verbs, and simulated agents claiming and reporting (some failures, which release
// reservations; one agent dropped mid-way, so the lease sweep takes its jobs back). PostgreSQL must
// report no deadlock, no client may see ABORTED or INTERNAL, no agent stream may end, and afterwards
// every reservation adds up.
//
// A fault test (`npm run test:faults`, not `npm test`): it loads for STRESS_SECONDS (default 20); for
// a longer soak, STRESS_SECONDS=180 npm run test:faults -- lock-order
import { afterAll, beforeAll, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { buildCloud, reservationDrift, tenantsWithQuota, type Cloud } from "../support/compute.js";
import { freshDatabaseUrl } from "../support/database.js";
import { loadClients, runMixedLoad, Tally } from "../support/mixed-load.js";
import { startServerProcess, type ServerProcess } from "../support/processes.js";
import { startTestServer, type TestServer } from "../support/server.js";

const seconds = Number(process.env.STRESS_SECONDS ?? 20);

let replicas: ServerProcess[] = [];
let t: TestServer;
const agents: Agent[] = [];

beforeAll(async () => {
  const databaseUrl = await freshDatabaseUrl();
  const env = { RACKPLANE_LEASE_SECONDS: "2" };
  replicas = [await startServerProcess(databaseUrl, env), await startServerProcess(databaseUrl, env)];
  t = await startTestServer(databaseUrl, { leaseMillis: 2_000 });
}, 120_000);
afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop({ graceMs: 0 })));
  await t?.close();
  await Promise.all(replicas.map((replica) => replica.stop()));
});

async function deadlocks(): Promise<number> {
  const [row] = await t.server.db
    .em()
    .execute<{ deadlocks: number }[]>("select deadlocks::int from pg_stat_database where datname = current_database()");
  return row!.deadlocks;
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

it(
  `keeps one lock order under mixed load over two replicas for ${seconds} s`,
  async () => {
    const cloud: Cloud = await buildCloud(t, {
      name: "mix",
      hosts: 6,
      cpuAllocationRatio: 4,
      quotaCpu: 100_000n,
      spec: { vcpu: 1, memoryMib: 512n, storageGib: 1n },
    });
    const tenants = [cloud.tenantId, ...(await tenantsWithQuota(t, cloud, "mixer", 7, 100_000n))];
    const agentToken = await t.token(Role.AGENT, "stress-agents");
    const token = replicas[0]!.adminToken() ?? t.adminToken;
    const clients = replicas.map((replica) => loadClients(replica.url, token));
    const address = (i: number) => replicas[i]!.url.replace("http://", "");

    // Agents log every stream that ends; under this load none may.
    const streamEnds: string[] = [];
    const startAgent = (agentId: string, servers: string[], failureRate: number) => {
      const created = createSimulatedAgent({
        servers,
        token: agentToken,
        agentId,
        latencyMs: 30,
        failureRate,
        concurrency: 8,
        sdk: { backoff: { baseMs: 50, capMs: 500 } },
        log: (_level, message, fields) => {
          if (message === "job stream ended; reconnecting") streamEnds.push(`${agentId}: ${JSON.stringify(fields)}`);
        },
      });
      agents.push(created);
      created.start();
      return created;
    };
    startAgent("stress-a", [address(0)], 0.2);
    startAgent("stress-b", [address(1)], 0.2);
    const dropped = startAgent("stress-c", [address(0), address(1)], 0);

    const tally = new Tally();
    const before = await deadlocks();
    // Half-way, one agent dies without a word: its leases lapse and the sweep takes the jobs back.
    const drop = new Promise<void>((resolve) =>
      setTimeout(() => void dropped.stop({ graceMs: 0 }).then(() => resolve()), (seconds * 1_000) / 2),
    );
    await Promise.all([runMixedLoad({ clients, cloud, tenants, tally, until: Date.now() + seconds * 1_000 }), drop]);
    agents.splice(agents.indexOf(dropped), 1);

    // Every operation ends (cancelled, succeeded or failed), and the books balance.
    await until(
      async () => {
        const [row] = await t.server.db
          .em()
          .execute<{ open: number }[]>("select count(*)::int as open from operation where state in ('PENDING', 'RUNNING')");
        return row!.open === 0;
      },
      60_000,
      "every operation to end",
    );
    console.info(`lock-order stress, ${seconds} s:`, tally.summary());
    expect(tally.get("CreateVirtualMachine(duplicate) AlreadyExists/ALREADY_EXISTS")).toBeGreaterThan(0);
    expect(tally.get("CancelOperation OK")).toBeGreaterThan(0);
    expect(tally.unexpected).toEqual([]);
    expect(streamEnds).toEqual([]);
    expect(await deadlocks()).toBe(before);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    for (const replica of replicas) expect(replica.output()).not.toMatch(/40P01|deadlock detected/);
  },
  120_000 + seconds * 2_000,
);
