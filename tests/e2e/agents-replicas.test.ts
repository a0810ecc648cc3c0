// Agents at scale and under failure, through the real agent SDK (ts-proto + @grpc/grpc-js) and real
// server processes sharing one database: 1,000 jobs over two replicas and three agents complete
// exactly once in effect; a job whose agent dies mid-way is redelivered after its lease; agents of a
// server killed with SIGKILL reconnect to the other and nothing is lost; and a VM goes create →
// start → stop → delete end to end.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { buildCloud, reservationDrift, type Cloud } from "../support/compute.js";
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

function agent(agentId: string, servers: string[], latencyMs: number, concurrency = 16): Agent {
  const created = createSimulatedAgent({ servers, token, agentId, latencyMs, concurrency, sdk: { backoff: { baseMs: 50, capMs: 500 } } });
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

  it("moves agents of a server killed with SIGKILL to the other, and loses nothing", async () => {
    const roaming = agent("sim-roaming", [address(replicas[0]!), address(replicas[1]!)], 300, 4);
    await until(
      async () => roaming.stats().connected && roaming.stats().server === address(replicas[0]!),
      10_000,
      "the agent to connect to the first replica",
    );
    const operations = await createVms(8);
    await until(async () => ((await operationStates(operations)).RUNNING ?? 0) > 0, 10_000, "jobs to be taken");
    await replicas[0]!.stop("SIGKILL");
    await until(
      async () => roaming.stats().connected && roaming.stats().server === address(replicas[1]!),
      15_000,
      "the agent to reconnect to the second replica",
    );
    const more = await createVms(4);
    await until(async () => (await operationStates([...operations, ...more])).SUCCEEDED === 12, 30_000, "every operation to succeed");
    const { agents: listed } = await t.agentsAdmin().listAgents({});
    expect(listed.find((a) => a.id === "sim-roaming")).toMatchObject({ connected: true });
  }, 90_000);

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
