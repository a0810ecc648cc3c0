// The lock order (docs/compute.md, "Lock order") under mixed load over two server processes: named
// creations with duplicate names from sequential clients, unnamed creations in batches, cancels,
// lifecycle verbs, and simulated agents claiming and reporting (some failures, which release
// reservations; one agent dropped mid-way, so the lease sweep takes its jobs back). PostgreSQL must
// report no deadlock, no client may see ABORTED or INTERNAL, no agent stream may end, and afterwards
// every reservation adds up.
//
// It runs for STRESS_SECONDS (default 20) of load; for a longer soak: STRESS_SECONDS=180 npx vitest
// run tests/e2e/lock-order-stress.test.ts
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { ComputeService } from "../../gen/es/rackplane/v1/compute_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { OperationService } from "../../gen/es/rackplane/v1/operation_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { buildCloud, reservationDrift, tenantsWithQuota, type Cloud } from "../support/compute.js";
import { freshDatabaseUrl } from "../support/database.js";
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

interface Clients {
  compute: Client<typeof ComputeService>;
  operations: Client<typeof OperationService>;
}

function clientsOf(replica: ServerProcess, token: string): Clients {
  const transport = createGrpcTransport({
    baseUrl: replica.url,
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
    ],
  });
  return { compute: createClient(ComputeService, transport), operations: createClient(OperationService, transport) };
}

/** Outcomes by method and code (and reason), e.g. "CreateVirtualMachine ALREADY_EXISTS/ALREADY_EXISTS". */
class Tally {
  readonly counts = new Map<string, number>();
  /** Failures no client should ever see under load: a database conflict or an internal error. */
  readonly unexpected: string[] = [];

  async call<T>(method: string, call: Promise<T>): Promise<T | undefined> {
    try {
      const result = await call;
      this.count(`${method} OK`);
      return result;
    } catch (error) {
      const e = ConnectError.from(error);
      const reason = e.findDetails(ErrorInfoSchema)[0]?.reason ?? "";
      this.count(`${method} ${Code[e.code]}/${reason}`);
      if ([Code.Aborted, Code.Internal, Code.Unknown, Code.Unavailable].includes(e.code)) this.unexpected.push(`${method}: ${e.message}`);
      return undefined;
    }
  }

  private count(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}

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
    const clients = replicas.map((replica) => clientsOf(replica, token));
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
    const deadline = Date.now() + seconds * 1_000;
    const operationIds: string[] = [];

    /** A sequential client of one tenant: creates a named VM, tries the same name again at once (the
     * collision this page is about), cancels some creations, and stops, starts or deletes what runs. */
    const namedClient = async (worker: number) => {
      const tenantId = tenants[worker % tenants.length]!;
      const live: string[] = [];
      for (let n = 0; Date.now() < deadline; n++) {
        const api = clients[(worker + n) % 2]!;
        const name = `w${worker}-${n % 6}`;
        const request = {
          tenantId,
          target: { case: "groupId" as const, value: cloud.groupId },
          specificationId: cloud.specificationId,
          imageId: cloud.imageId,
          name,
        };
        const created = await tally.call("CreateVirtualMachine", api.compute.createVirtualMachine(request));
        await tally.call("CreateVirtualMachine(duplicate)", clients[(worker + n + 1) % 2]!.compute.createVirtualMachine(request));
        if (created) {
          operationIds.push(created.operation!.id);
          if (n % 3 === 0) await tally.call("CancelOperation", api.operations.cancelOperation({ id: created.operation!.id }));
          else live.push(created.virtualMachine!.id);
        }
        const id = live[n % Math.max(1, live.length)];
        if (!id) continue;
        const verb = n % 4;
        const operation =
          verb === 0
            ? await tally.call("StopVirtualMachine", api.compute.stopVirtualMachine({ id }))
            : verb === 1
              ? await tally.call("StartVirtualMachine", api.compute.startVirtualMachine({ id }))
              : verb === 2 || live.length > 4
                ? await tally.call("DeleteVirtualMachine", api.compute.deleteVirtualMachine({ id }))
                : undefined;
        if (operation?.operation) operationIds.push(operation.operation.id);
        if (verb === 2 && operation) live.splice(live.indexOf(id), 1);
        if (n % 5 === 4 && operation?.operation) {
          await tally.call("CancelOperation", api.operations.cancelOperation({ id: operation.operation.id }));
        }
      }
    };

    /** Unnamed creations of many tenants at once, so each replica batches them (creation-batch.ts). */
    const burstClient = async (worker: number) => {
      for (let n = 0; Date.now() < deadline; n++) {
        const api = clients[(worker + n) % 2]!;
        const burst = await Promise.all(
          tenants.map((tenantId) =>
            tally.call(
              "CreateVirtualMachine(unnamed)",
              api.compute.createVirtualMachine({
                tenantId,
                target: { case: "groupId" as const, value: cloud.groupId },
                specificationId: cloud.specificationId,
                imageId: cloud.imageId,
              }),
            ),
          ),
        );
        for (const created of burst) if (created) operationIds.push(created.operation!.id);
        // Withdraw most of them again, so the hosts do not fill up.
        await Promise.all(
          burst.map((created, i) =>
            created && i % 4 !== 0
              ? tally.call("CancelOperation", api.operations.cancelOperation({ id: created.operation!.id }))
              : Promise.resolve(),
          ),
        );
      }
    };

    // Half-way, one agent dies without a word: its leases lapse and the sweep takes the jobs back.
    const drop = new Promise<void>((resolve) =>
      setTimeout(() => void dropped.stop({ graceMs: 0 }).then(() => resolve()), (seconds * 1_000) / 2),
    );
    await Promise.all([...Array.from({ length: 12 }, (_, i) => namedClient(i)), burstClient(0), burstClient(1), drop]);
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
    const summary = Object.fromEntries([...tally.counts].sort());
    console.info(`lock-order stress, ${seconds} s:`, summary);
    expect(tally.counts.get("CreateVirtualMachine(duplicate) AlreadyExists/ALREADY_EXISTS") ?? 0).toBeGreaterThan(0);
    expect(tally.counts.get("CancelOperation OK") ?? 0).toBeGreaterThan(0);
    expect(tally.unexpected).toEqual([]);
    expect(streamEnds).toEqual([]);
    expect(await deadlocks()).toBe(before);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    for (const replica of replicas) expect(replica.output()).not.toMatch(/40P01|deadlock detected/);
  },
  120_000 + seconds * 2_000,
);
