// Agents at scale and under failure, through the real agent SDK (ts-proto + @grpc/grpc-js) and real
// server processes sharing one database: 1,000 jobs over two replicas and three agents complete
// exactly once in effect; a job whose agent dies mid-way is redelivered after its lease; agents of a
// server killed with SIGKILL under the mixed load of the lock-order stress test reconnect to the
// other, no job is lost and no reservation leaks once the dead server's leases expire; and a VM goes create →
// start → stop → delete end to end.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { buildCloud, reservationDrift, tenantsWithQuota, type Cloud } from "../support/compute.js";
import { loadClients, runMixedLoad, Tally } from "../support/mixed-load.js";
import { freshDatabaseUrl } from "../support/database.js";
import { startServerProcess, type ServerProcess } from "../support/processes.js";
import { startTestServer, type TestServer } from "../support/server.js";

let replicas: ServerProcess[] = [];
let t: TestServer;
let cloud: Cloud;
let token = "";
const agents: Agent[] = [];
const address = (replica: ServerProcess) => replica.url.replace("http://", "");

beforeAll(async () => {
  const databaseUrl = await freshDatabaseUrl();
  const env = { RACKPLANE_LEASE_SECONDS: "2" };
  replicas = [await startServerProcess(databaseUrl, env), await startServerProcess(databaseUrl, env)];
  t = await startTestServer(databaseUrl, { leaseMillis: 2_000 });
  cloud = await buildCloud(t, {
    name: "fleet",
    hosts: 20,
    cpuAllocationRatio: 8,
    quotaCpu: 100_000n,
    spec: { vcpu: 1, memoryMib: 512n, storageGib: 1n },
  });
  token = await t.token(Role.AGENT, "fleet-agents");
}, 120_000);
afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop({ graceMs: 0 })));
  await t?.close();
  await Promise.all(replicas.map((replica) => replica.stop()));
});

function agent(agentId: string, servers: string[], latencyMs: number, concurrency = 16, failureRate = 0): Agent {
  const created = createSimulatedAgent({
    servers,
    token,
    agentId,
    latencyMs,
    concurrency,
    failureRate,
    sdk: { backoff: { baseMs: 50, capMs: 500 } },
  });
  agents.push(created);
  created.start();
  return created;
}

/** Creates VMs 50 at a time. Like any client, it retries ABORTED (a change that lost a race in the
 * database and was rolled back whole); each retry is reported, with the database's SQLSTATE. */
async function createVms(count: number): Promise<string[]> {
  const operations: string[] = [];
  const createOne = async (attempt = 1): Promise<string> => {
    try {
      const request = {
        tenantId: cloud.tenantId,
        target: { case: "groupId" as const, value: cloud.groupId },
        specificationId: cloud.specificationId,
        imageId: cloud.imageId,
      };
      return (await t.compute().createVirtualMachine(request)).operation!.id;
    } catch (error) {
      const e = ConnectError.from(error);
      if (e.code !== Code.Aborted || attempt >= 3) throw error;
      console.warn(`CreateVirtualMachine answered ABORTED (${e.rawMessage}); retrying`);
      return createOne(attempt + 1);
    }
  };
  for (let i = 0; i < count; i += 50) {
    operations.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => createOne()))));
  }
  return operations;
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function operationStates(ids: readonly string[]): Promise<Record<string, number>> {
  const rows = await t.server.db
    .em()
    .execute<{ state: string; n: number }[]>(
      "select state, count(*)::int as n from operation where id = any(array[?]::uuid[]) group by state",
      [ids],
    );
  return Object.fromEntries(rows.map((row) => [row.state, row.n]));
}

describe("agents over two replicas", () => {
  it("completes 1,000 jobs exactly once in effect: none lost, none stuck", async () => {
    agent("sim-a", [address(replicas[0]!)], 5);
    agent("sim-b", [address(replicas[1]!)], 5);
    agent("sim-c", [address(replicas[0]!), address(replicas[1]!)], 5);
    const operations = await createVms(1000);
    await until(async () => (await operationStates(operations)).SUCCEEDED === 1000, 90_000, "1,000 operations to succeed");
    const [jobs] = await t.server.db.em().execute<{ succeeded: number; other: number; agents: number }[]>(
      `select count(*) filter (where state = 'SUCCEEDED')::int as succeeded, count(*) filter (where state <> 'SUCCEEDED')::int as other,
              count(distinct agent_id)::int as agents from job where operation_id = any(array[?]::uuid[])`,
      [operations],
    );
    expect(jobs).toEqual({ succeeded: 1000, other: 0, agents: 3 });
    const [vms] = await t.server.db.em().execute<{ running: number; with_ip: number }[]>(
      `select count(*) filter (where state = 'RUNNING')::int as running, count(*) filter (where cardinality(ip_addresses) > 0)::int as with_ip
         from virtual_machine where tenant_id = ?`,
      [cloud.tenantId],
    );
    expect(vms).toEqual({ running: 1000, with_ip: 1000 });
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    await Promise.all(agents.splice(0).map((a) => a.stop({ graceMs: 1_000 })));
  }, 150_000);

  it("redelivers the job of an agent that dies mid-way, after its lease", async () => {
    const slow = agent("sim-slow", [address(replicas[0]!)], 60_000, 1);
    const [operation] = await createVms(1);
    await until(async () => (await operationStates([operation!])).RUNNING === 1, 10_000, "the slow agent to take the job");
    // The agent dies: its handler is abandoned and it reports nothing more.
    await slow.stop({ graceMs: 0 });
    agents.splice(agents.indexOf(slow), 1);
    agent("sim-rescue", [address(replicas[1]!)], 5, 1);
    await until(async () => (await operationStates([operation!])).SUCCEEDED === 1, 15_000, "the job to be redelivered and finished");
    const [job] = await t.server.db
      .em()
      .execute<{ attempt: number; agent_id: string }[]>("select attempt, agent_id from job where operation_id = ?", [operation]);
    expect(job).toEqual({ attempt: 2, agent_id: "sim-rescue" });
    await Promise.all(agents.splice(0).map((a) => a.stop({ graceMs: 1_000 })));
  }, 60_000);

  it("moves agents of a server killed with SIGKILL under mixed load to the other: no job lost, no reservation leaked", async () => {
    const roaming = agent("sim-roaming", [address(replicas[0]!), address(replicas[1]!)], 300, 4);
    // Pinned to the server that dies: it can neither renew nor report, so its leases lapse and the
    // survivors' sweeps hand its jobs to the others.
    const helpers = [agent("sim-pinned", [address(replicas[0]!)], 300, 4), agent("sim-steady", [address(replicas[1]!)], 30, 8, 0.2)];
    await until(
      async () => roaming.stats().connected && roaming.stats().server === address(replicas[0]!),
      10_000,
      "the agent to connect to the first replica",
    );
    // The mixed load of the lock-order stress test through both servers. Calls to the killed one
    // fail in the transport — UNAVAILABLE, or cut off mid-call (the client's ABORTED, without a
    // server's ErrorInfo) — and nothing else may fail oddly.
    const tenants = [cloud.tenantId, ...(await tenantsWithQuota(t, cloud, "killed", 5, 100_000n))];
    const tally = new Tally(
      (e, reason) => reason === "" && (e.code === Code.Unavailable || (e.code === Code.Aborted && /ECONNRESET/.test(e.message))),
    );
    const clients = replicas.map((replica) => loadClients(replica.url, t.adminToken));
    const load = runMixedLoad({ clients, cloud, tenants, tally, until: Date.now() + 8_000, namedClients: 6, burstClients: 1 });
    await until(async () => tally.operationIds.length >= 30, 10_000, "load to get going");
    await replicas[0]!.stop("SIGKILL");
    await until(
      async () => roaming.stats().connected && roaming.stats().server === address(replicas[1]!),
      15_000,
      "the agent to reconnect to the second replica",
    );
    await load;
    // Once the dead server's leases have expired, every job has ended: none lost, none stuck.
    await until(
      async () => {
        const [row] = await t.server.db
          .em()
          .execute<{ open: number }[]>(
            "select (select count(*) from job where state in ('QUEUED', 'LEASED')) + (select count(*) from operation where state in ('PENDING', 'RUNNING'))::int as open",
          );
        return Number(row!.open) === 0;
      },
      60_000,
      "every job to end",
    );
    console.info("fleet under SIGKILL:", tally.summary());
    expect(tally.unexpected).toEqual([]);
    expect(tally.get("CreateVirtualMachine OK")).toBeGreaterThan(0);
    const [mismatched] = await t.server.db.em().execute<{ n: number }[]>(
      `select count(*)::int as n from job j join operation o on o.id = j.operation_id
        where (j.state = 'SUCCEEDED') <> (o.state = 'SUCCEEDED') or (j.state = 'CANCELLED') <> (o.state = 'CANCELLED')`,
    );
    expect(mismatched!.n).toBe(0);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    const { agents: listed } = await t.agentsAdmin().listAgents({});
    expect(listed.find((a) => a.id === "sim-roaming")).toMatchObject({ connected: true });
    // The roaming agent stays for the next test; the others go.
    await Promise.all(helpers.map((a) => a.stop({ graceMs: 1_000 })));
    for (const helper of helpers) agents.splice(agents.indexOf(helper), 1);
  }, 120_000);

  it("takes a VM through create, start, stop and delete end to end", async () => {
    const compute = t.compute();
    const wait = (operationId: string) =>
      until(
        async () => (await t.operations().getOperation({ id: operationId })).operation?.state === OperationState.SUCCEEDED,
        15_000,
        `operation ${operationId}`,
      );
    const { virtualMachine, operation } = await compute.createVirtualMachine({
      tenantId: cloud.tenantId,
      target: { case: "groupId", value: cloud.groupId },
      specificationId: cloud.specificationId,
      imageId: cloud.imageId,
    });
    await wait(operation!.id);
    const id = virtualMachine!.id;
    expect((await compute.getVirtualMachine({ id })).virtualMachine).toMatchObject({ state: VirtualMachineState.RUNNING });
    await wait((await compute.stopVirtualMachine({ id })).operation!.id);
    expect((await compute.getVirtualMachine({ id })).virtualMachine?.state).toBe(VirtualMachineState.STOPPED);
    await wait((await compute.startVirtualMachine({ id })).operation!.id);
    await wait((await compute.rebootVirtualMachine({ id })).operation!.id);
    await wait((await compute.deleteVirtualMachine({ id })).operation!.id);
    expect((await compute.getVirtualMachine({ id })).virtualMachine?.state).toBe(VirtualMachineState.DELETED);
  }, 60_000);
});
