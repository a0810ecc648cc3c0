// Rolling upgrades end to end (K8S-4) through the real server and a simulated agent: the version
// path (Kubernetes' skew policy); a 1 + 5-node cluster upgraded while an agent watches every batch
// (never more than max_unavailable nodes of a pool down, surge nodes counted in usage, the control
// plane first); surge refused up front with nothing reserved; a failed step stops the workflow with
// the agent's message and keeps every reservation; a later batch with no room for its surge node
// stops clearly and resumes on retry; a control-plane surge node stays off the control plane's
// hosts; an upgrade that survives its server: the server goes away mid-upgrade and another one
// on the same database finishes it; and a cluster creation whose bootstrap failed, retried with a
// stale etag (refused, nothing changed) and then to the end.
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { PlacementPolicy } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { KubernetesClusterStatus, KubernetesService, KubernetesVersionStatus } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import { Agent, JobError, type Job, type JobHandler } from "../../src/agent-sdk/index.js";
import { SimulatedHypervisor } from "../../src/agent/simulator.js";
import { buildCloud, reservationDrift, type Cloud } from "../support/compute.js";
import { freshDatabaseUrl } from "../support/database.js";
import { failure } from "../support/failure.js";
import { bearer, startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let cloud: Cloud;
const agents: Agent[] = [];

const k8s = (server = t, token = server.adminToken) =>
  createClient(KubernetesService, createGrpcTransport({ baseUrl: server.url, interceptors: [bearer(token)] }));

let databaseUrl = "";

beforeAll(async () => {
  databaseUrl = await freshDatabaseUrl();
  t = await startTestServer(databaseUrl, { leaseMillis: 1_500 });
  // Eight hosts of 16 vCPU; nodes of 2 vCPU; a quota of 20 vCPU: ten nodes.
  cloud = await buildCloud(t, { name: "up", hosts: 8, quotaCpu: 20n });
  for (const [version, status] of [
    ["1.31.2", KubernetesVersionStatus.SUPPORTED],
    ["1.31.4", KubernetesVersionStatus.SUPPORTED],
    ["1.32.0", KubernetesVersionStatus.SUPPORTED],
    ["1.32.1", KubernetesVersionStatus.UNSUPPORTED],
    ["1.33.0", KubernetesVersionStatus.SUPPORTED],
  ] as const) {
    await k8s().createKubernetesVersion({ version: { version, status } });
  }
}, 120_000);

afterAll(async () => {
  for (const agent of agents) await agent.stop();
  await t?.close();
});

/** An agent with the simulator's handlers, some replaced. */
async function startAgent(server: TestServer, name: string, handlers: Partial<Record<string, JobHandler>> = {}): Promise<Agent> {
  const hypervisor = new SimulatedHypervisor({ latencyMs: 10 });
  const all = { ...hypervisor.handlers, ...handlers } as Record<string, JobHandler>;
  const agent = new Agent({
    servers: [server.url.replace("http://", "")],
    token: await server.token(Role.AGENT, name),
    agentId: name,
    scope: { jobKinds: Object.keys(all), groupIds: [], baremetalIds: [] },
    maxConcurrentJobs: 16,
    handlers: all,
    backoff: { baseMs: 50, capMs: 200 },
  });
  agent.start();
  agents.push(agent);
  return agent;
}

async function settled(operationId: string, server = t, timeoutMs = 60_000): Promise<OperationState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { operation } = await server.operations().getOperation({ id: operationId });
    if (operation!.state !== OperationState.PENDING && operation!.state !== OperationState.RUNNING) return operation!.state;
    if (Date.now() > deadline) throw new Error(`operation ${operationId} still ${OperationState[operation!.state]}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const node = () => ({ groupId: cloud.groupId, specificationId: cloud.specificationId, imageId: cloud.imageId });

async function activeCluster(name: string, workers: number, strategy: { maxSurge: number; maxUnavailable: number }) {
  const created = await k8s().createKubernetesCluster({
    cluster: {
      name,
      tenantId: cloud.tenantId,
      version: "1.31.4",
      controlPlane: { count: 1, ...node() },
      nodePools: [{ name: "web", nodeCount: workers, upgradeStrategy: strategy, ...node() }],
    },
  });
  expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);
  return created.cluster!;
}

async function cpuUsed(): Promise<number> {
  const [quota] = await t.server.db
    .em()
    .execute<{ used: number }[]>("select cpu_used::int as used from baremetal_group_tenant_quota where tenant_id = ? and group_id = ?", [
      cloud.tenantId,
      cloud.groupId,
    ]);
  return quota!.used;
}

describe("upgrading a cluster", () => {
  it("is observed batch by batch: control plane first, never more than max_unavailable down, surge nodes in usage", async () => {
    const simulatorAgent = await startAgent(t, "up-builder");
    const cluster = await activeCluster("roll", 5, { maxSurge: 1, maxUnavailable: 1 });
    await simulatorAgent.stop();
    const before = await cpuUsed();
    expect(before).toBe(12);
    const seen: { phase: string; joined: number; down: number; live: number; used: number; reserved: number }[] = [];
    const hypervisor = new SimulatedHypervisor({ latencyMs: 5 });
    const watch: JobHandler = async (job: Job, context) => {
      const em = t.server.db.em();
      const drained = [
        ...(job.payload.replacedNodes as { virtualMachineId: string }[]),
        ...(job.payload.upgradedNodes as { virtualMachineId: string }[]),
      ].map((n) => n.virtualMachineId);
      const poolId = String(job.payload.nodePoolId);
      const live = await em.execute<{ id: string }[]>(
        `select id from virtual_machine where cluster_id = ? and state = 'RUNNING' and ${poolId ? "node_pool_id = ?" : "node_pool_id is null"}`,
        poolId ? [cluster.id, poolId] : [cluster.id],
      );
      const count = poolId ? 5 : 1;
      const [reserved] = await em.execute<{ cpu: number }[]>(
        "select coalesce(sum(cpu_cores), 0)::int as cpu from virtual_machine where tenant_id = ? and reserved",
        [cloud.tenantId],
      );
      seen.push({
        phase: String(job.payload.phase),
        joined: (job.payload.joinNodes as unknown[]).length,
        down: count - live.filter((row) => !drained.includes(row.id)).length,
        live: live.length,
        used: await cpuUsed(),
        reserved: reserved!.cpu,
      });
      return hypervisor.handlers.UPGRADE_KUBERNETES_NODES(job, context);
    };
    const watcher = await startAgent(t, "up-watcher", { UPGRADE_KUBERNETES_NODES: watch });
    const { operation } = await k8s().upgradeKubernetesCluster({ id: cluster.id, version: "1.32.0" });
    expect(operation!.kind).toBe("UPGRADE_KUBERNETES_CLUSTER");
    // A second lifecycle operation meanwhile is refused, naming the upgrade.
    expect(await failure(k8s().upgradeKubernetesCluster({ id: cluster.id, version: "1.32.0" }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "OPERATION_IN_PROGRESS",
      metadata: { operation_id: operation!.id },
    });
    expect(await settled(operation!.id)).toBe(OperationState.SUCCEEDED);
    await watcher.stop();
    // Control plane: one batch with one surge node. Pool of 5, surge 1 + unavailable 1: batches of
    // 2, 2 and 1.
    expect(seen.map((step) => [step.phase, step.joined])).toEqual([
      ["CONTROL_PLANE", 1],
      ["NODE_POOL", 1],
      ["NODE_POOL", 1],
      ["NODE_POOL", 1],
    ]);
    for (const step of seen) {
      expect(step.down).toBeLessThanOrEqual(step.phase === "CONTROL_PLANE" ? 0 : 1);
      expect(step.live).toBeLessThanOrEqual(step.phase === "CONTROL_PLANE" ? 2 : 6);
      // Surge nodes count in usage while they exist, and the counters match the reservations.
      expect(step.used).toBe(step.reserved);
      expect(step.used).toBeGreaterThan(before);
    }
    const view = await k8s().getKubernetesCluster({ id: cluster.id });
    expect(view.cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    expect(view.cluster!.version).toBe("1.32.0");
    expect(view.cluster!.nodePools.map((pool) => [pool.name, pool.nodeCount, pool.version])).toEqual([["web", 5, "1.32.0"]]);
    expect(view.nodes).toHaveLength(6);
    expect(new Set(view.nodes.map((n) => n.version))).toEqual(new Set(["1.32.0"]));
    const done = await t.operations().getOperation({ id: operation!.id });
    expect(done.operation!.progressPercent).toBe(100);
    expect(await cpuUsed()).toBe(before);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    // Back to where it was, for the next cases.
    const builder = await startAgent(t, "up-cleaner");
    expect(await settled((await k8s().deleteKubernetesCluster({ id: cluster.id })).operation!.id)).toBe(OperationState.SUCCEEDED);
    await builder.stop();
  });

  it("follows the skew policy and refuses marked clusters, strangers and bad input", async () => {
    const builder = await startAgent(t, "up-path");
    const cluster = await activeCluster("path", 1, { maxSurge: 1, maxUnavailable: 0 });
    for (const [version, reason] of [
      ["1.31.2", "KUBERNETES_VERSION_DOWNGRADE"],
      ["1.31.4", "KUBERNETES_VERSION_NOT_NEWER"],
      ["1.33.0", "KUBERNETES_VERSION_SKEW"],
      ["1.32.1", "KUBERNETES_VERSION_UNSUPPORTED"],
      ["1.32.7", "KUBERNETES_VERSION_UNKNOWN"],
    ]) {
      expect(await failure(k8s().upgradeKubernetesCluster({ id: cluster.id, version }))).toMatchObject({
        code: Code.InvalidArgument,
        reason,
      });
    }
    expect(await failure(k8s().upgradeKubernetesCluster({ id: cluster.id, version: "v1.32" }))).toMatchObject({
      code: Code.InvalidArgument,
    });
    expect(await failure(k8s().upgradeKubernetesCluster({ id: cluster.id, version: "1.32.0", etag: "1" }))).toMatchObject({
      code: Code.Aborted,
      reason: "ETAG_MISMATCH",
    });
    const stranger = await t.token(Role.TENANT_ADMIN, "up-stranger", await t.tenant("up-other"));
    expect(await failure(k8s(t, stranger).upgradeKubernetesCluster({ id: cluster.id, version: "1.32.0" }))).toMatchObject({
      code: Code.NotFound,
    });
    await k8s().setKubernetesClusterStatus({ id: cluster.id, status: KubernetesClusterStatus.MAINTENANCE, reason: "rack work" });
    expect(await failure(k8s().upgradeKubernetesCluster({ id: cluster.id, version: "1.32.0" }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "CLUSTER_MARKED",
    });
    await k8s().setKubernetesClusterStatus({ id: cluster.id, status: KubernetesClusterStatus.ACTIVE });
    // A tenant's own member may upgrade; nothing was reserved by the refusals.
    expect(await cpuUsed()).toBe(4);
    const member = await t.token(Role.TENANT_MEMBER, "up-member", cloud.tenantId);
    const { operation } = await k8s(t, member).upgradeKubernetesCluster({ id: cluster.id, version: "1.32.0" });
    expect(await settled(operation!.id)).toBe(OperationState.SUCCEEDED);
    expect((await k8s().getKubernetesCluster({ id: cluster.id })).cluster!.version).toBe("1.32.0");
    expect(await settled((await k8s().deleteKubernetesCluster({ id: cluster.id })).operation!.id)).toBe(OperationState.SUCCEEDED);
    await builder.stop();
  });

  it("refuses up front, reserving nothing, when the surge nodes do not fit the quota", async () => {
    const builder = await startAgent(t, "up-full");
    // 1 + 8 nodes use 18 of 20 vCPU: the control plane's surge node fits, the pool's two do not.
    const cluster = await activeCluster("full", 8, { maxSurge: 2, maxUnavailable: 0 });
    const refused = await failure(k8s().upgradeKubernetesCluster({ id: cluster.id, version: "1.32.0" }));
    expect(refused).toMatchObject({ code: Code.ResourceExhausted, reason: "QUOTA_EXCEEDED" });
    expect(await cpuUsed()).toBe(18);
    const view = await k8s().getKubernetesCluster({ id: cluster.id });
    expect(view.cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    expect(view.nodes).toHaveLength(9);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    expect(await settled((await k8s().deleteKubernetesCluster({ id: cluster.id })).operation!.id)).toBe(OperationState.SUCCEEDED);
    await builder.stop();
  });

  it("stops at a failed step: the cluster ERROR with the agent's message, every reservation kept; a retry finishes it", async () => {
    const builder = await startAgent(t, "up-fail-builder");
    const cluster = await activeCluster("fail", 2, { maxSurge: 1, maxUnavailable: 0 });
    await builder.stop();
    const failing = await startAgent(t, "up-failing", {
      UPGRADE_KUBERNETES_NODES: async () => {
        throw new JobError("kubeadm upgrade node: etcd unhealthy", { agentCode: "KUBEADM", permanent: true });
      },
    });
    const { operation } = await k8s().upgradeKubernetesCluster({ id: cluster.id, version: "1.32.0" });
    expect(await settled(operation!.id)).toBe(OperationState.FAILED);
    await failing.stop();
    const view = await k8s().getKubernetesCluster({ id: cluster.id });
    expect(view.cluster!.status).toBe(KubernetesClusterStatus.ERROR);
    expect(view.cluster!.statusReason).toContain("etcd unhealthy");
    // 1 + 2 nodes and the control plane's and the pool's surge nodes: all still reserved.
    expect(await cpuUsed()).toBe(10);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    // The cause repaired, the failed step runs again and the upgrade goes on to the end.
    const stranger = await t.token(Role.TENANT_ADMIN, "up-retry-stranger", await t.tenant("up-retry-other"));
    expect(await failure(k8s(t, stranger).retryKubernetesClusterOperation({ clusterId: cluster.id }))).toMatchObject({
      code: Code.NotFound,
    });
    const fixed = await startAgent(t, "up-fixed");
    const retried = await k8s().retryKubernetesClusterOperation({ clusterId: cluster.id });
    expect(retried.operation!.id).toBe(operation!.id);
    expect(retried.operation!.state).toBe(OperationState.RUNNING);
    expect(await settled(operation!.id)).toBe(OperationState.SUCCEEDED);
    const after = await k8s().getKubernetesCluster({ id: cluster.id });
    expect(after.cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    expect(after.cluster!.version).toBe("1.32.0");
    expect(after.nodes).toHaveLength(3);
    expect(await cpuUsed()).toBe(6);
    expect(await failure(k8s().retryKubernetesClusterOperation({ clusterId: cluster.id }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "NOTHING_TO_RETRY",
    });
    expect(await settled((await k8s().deleteKubernetesCluster({ id: cluster.id })).operation!.id)).toBe(OperationState.SUCCEEDED);
    await fixed.stop();
  });

  it("deletes a cluster an upgrade left ERROR, releasing everything", async () => {
    const builder = await startAgent(t, "up-broken-builder");
    const cluster = await activeCluster("broken", 1, { maxSurge: 1, maxUnavailable: 0 });
    await builder.stop();
    const failing = await startAgent(t, "up-broken", {
      REMOVE_KUBERNETES_NODES: async () => {
        throw new JobError("node object stuck", { agentCode: "KUBECTL", permanent: true });
      },
    });
    const { operation } = await k8s().upgradeKubernetesCluster({ id: cluster.id, version: "1.32.0" });
    expect(await settled(operation!.id)).toBe(OperationState.FAILED);
    await failing.stop();
    expect((await k8s().getKubernetesCluster({ id: cluster.id })).cluster!.status).toBe(KubernetesClusterStatus.ERROR);
    const cleaner = await startAgent(t, "up-broken-cleaner");
    expect(await settled((await k8s().deleteKubernetesCluster({ id: cluster.id })).operation!.id)).toBe(OperationState.SUCCEEDED);
    await cleaner.stop();
    expect(await cpuUsed()).toBe(0);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("stops clearly when a later batch finds no room for its surge node, and a retry goes on once there is", async () => {
    const builder = await startAgent(t, "up-room-builder");
    const cluster = await activeCluster("room", 2, { maxSurge: 1, maxUnavailable: 0 });
    await builder.stop();
    // While the first pool batch's old node is being removed (its reservation already released),
    // someone takes every vCPU the quota has left: the second batch's surge node finds no room.
    const fillers: string[] = [];
    const hypervisor = new SimulatedHypervisor({ latencyMs: 5 });
    const takeTheRoom: JobHandler = async (job, context) => {
      if (job.payload.phase === "NODE_POOL" && fillers.length === 0) {
        for (let free = 20 - (await cpuUsed()); free >= 2; free -= 2) {
          const { virtualMachine } = await t.compute().createVirtualMachine({
            tenantId: cloud.tenantId,
            target: { case: "groupId", value: cloud.groupId },
            specificationId: cloud.specificationId,
            imageId: cloud.imageId,
          });
          fillers.push(virtualMachine!.id);
        }
      }
      return hypervisor.handlers.REMOVE_KUBERNETES_NODES(job, context);
    };
    const agent = await startAgent(t, "up-room", { REMOVE_KUBERNETES_NODES: takeTheRoom });
    const { operation } = await k8s().upgradeKubernetesCluster({ id: cluster.id, version: "1.32.0" });
    expect(await settled(operation!.id)).toBe(OperationState.FAILED);
    expect(fillers.length).toBeGreaterThan(0);
    const stopped = (await t.operations().getOperation({ id: operation!.id })).operation!;
    expect(stopped.error).toMatchObject({
      code: "RESOURCE_EXHAUSTED",
      reason: "QUOTA_EXCEEDED",
      metadata: { stopped_before: "NODE_POOL", node_pool: "web", surge_nodes: "1", retriable: "true" },
    });
    expect(stopped.error!.message).toContain("stopped before the next batch of pool web");
    expect(stopped.error!.message).toContain("RetryKubernetesClusterOperation");
    let view = await k8s().getKubernetesCluster({ id: cluster.id });
    expect(view.cluster!.status).toBe(KubernetesClusterStatus.ERROR);
    expect(view.cluster!.statusReason).toContain("stopped before the next batch of pool web");
    // Nothing undone: the control plane and the first batch are on the new version, the last node
    // on the old one; every reservation is kept and nothing is overcommitted.
    expect(view.nodes.map((n) => n.version).sort()).toEqual(["1.31.4", "1.32.0", "1.32.0"]);
    expect(await cpuUsed()).toBe(20);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    // Retried while still full, it stops again at the same place; with room made, it goes on.
    const again = await k8s().retryKubernetesClusterOperation({ clusterId: cluster.id });
    expect(again.operation).toMatchObject({ id: operation!.id, state: OperationState.FAILED });
    expect(again.operation!.error).toMatchObject({ reason: "QUOTA_EXCEEDED", metadata: { retriable: "true" } });
    const freed = fillers.pop()!;
    expect(await settled((await t.compute().deleteVirtualMachine({ id: freed })).operation!.id)).toBe(OperationState.SUCCEEDED);
    const retried = await k8s().retryKubernetesClusterOperation({ clusterId: cluster.id });
    expect(retried.operation).toMatchObject({ id: operation!.id, state: OperationState.RUNNING });
    expect(await settled(operation!.id)).toBe(OperationState.SUCCEEDED);
    view = await k8s().getKubernetesCluster({ id: cluster.id });
    expect(view.cluster).toMatchObject({ status: KubernetesClusterStatus.ACTIVE, version: "1.32.0" });
    expect(view.nodes.map((n) => n.version)).toEqual(["1.32.0", "1.32.0", "1.32.0"]);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    expect(await settled((await k8s().deleteKubernetesCluster({ id: cluster.id })).operation!.id)).toBe(OperationState.SUCCEEDED);
    for (const id of fillers) {
      expect(await settled((await t.compute().deleteVirtualMachine({ id })).operation!.id)).toBe(OperationState.SUCCEEDED);
    }
    await agent.stop();
    expect(await cpuUsed()).toBe(0);
  });

  it("keeps a control-plane surge node off the hosts of the running control plane", async () => {
    // PACK prefers the fullest host that fits: without the rule, the surge node would join the
    // node it replaces on the same host.
    const packed = await buildCloud(t, { name: "upcp", hosts: 2, policy: PlacementPolicy.PACK });
    const one = await buildCloud(t, { name: "upone", hosts: 1 });
    const builder = await startAgent(t, "up-cp-builder");
    const shape = (c: Cloud) => ({ groupId: c.groupId, specificationId: c.specificationId, imageId: c.imageId });
    const create = async (name: string, c: Cloud) => {
      const created = await k8s().createKubernetesCluster({
        cluster: { name, tenantId: c.tenantId, version: "1.31.4", controlPlane: { count: 1, ...shape(c) } },
      });
      expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);
      return created.cluster!.id;
    };
    const clusterId = await create("cp-apart", packed);
    const [before] = (await k8s().getKubernetesCluster({ id: clusterId })).nodes;
    const { operation } = await k8s().upgradeKubernetesCluster({ id: clusterId, version: "1.32.0" });
    const [surge] = await t.server.db
      .em()
      .execute<{ baremetal_id: string }[]>(
        "select baremetal_id from virtual_machine where cluster_id = ? and role = 'CONTROL_PLANE' and id <> ?",
        [clusterId, before!.virtualMachineId],
      );
    expect(surge!.baremetal_id).not.toBe(before!.baremetal!.id);
    expect(await settled(operation!.id)).toBe(OperationState.SUCCEEDED);
    const [after] = (await k8s().getKubernetesCluster({ id: clusterId })).nodes;
    expect(after!.baremetal!.id).toBe(surge!.baremetal_id);
    // One host only: refused up front, naming the rule, with nothing reserved.
    const lonely = await create("cp-lonely", one);
    const refused = await failure(k8s().upgradeKubernetesCluster({ id: lonely, version: "1.32.0" }));
    expect(refused).toMatchObject({
      code: Code.ResourceExhausted,
      reason: "INSUFFICIENT_CAPACITY",
      metadata: { rule: "CONTROL_PLANE_DISTINCT_HOSTS", available: "0" },
    });
    expect((await k8s().getKubernetesCluster({ id: lonely })).nodes).toHaveLength(1);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    for (const id of [clusterId, lonely]) {
      expect(await settled((await k8s().deleteKubernetesCluster({ id })).operation!.id)).toBe(OperationState.SUCCEEDED);
    }
    await builder.stop();
  });

  it("survives its server: another server on the same database finishes the upgrade", async () => {
    const builder = await startAgent(t, "up-restart-builder");
    const cluster = await activeCluster("restart", 3, { maxSurge: 1, maxUnavailable: 0 });
    await builder.stop();
    let steps = 0;
    const hypervisor = new SimulatedHypervisor({ latencyMs: 5 });
    const counting: JobHandler = async (job, context) => {
      steps++;
      return hypervisor.handlers.UPGRADE_KUBERNETES_NODES(job, context);
    };
    const first = await startAgent(t, "up-restart-1", { UPGRADE_KUBERNETES_NODES: counting });
    const { operation } = await k8s().upgradeKubernetesCluster({ id: cluster.id, version: "1.32.0" });
    const deadline = Date.now() + 30_000;
    while (steps < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(steps).toBeGreaterThanOrEqual(2);
    // The server goes away mid-upgrade, with its agent; nothing of the workflow was in its memory.
    await first.stop();
    await t.close();
    t = await startTestServer(databaseUrl, { leaseMillis: 1_500 });
    const [mid] = await t.server.db.em().execute<{ state: string }[]>("select state from operation where id = ?", [operation!.id]);
    expect(mid!.state).toBe("RUNNING");
    const second = await startAgent(t, "up-restart-2");
    expect(await settled(operation!.id)).toBe(OperationState.SUCCEEDED);
    const view = await k8s().getKubernetesCluster({ id: cluster.id });
    expect(view.cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    expect(view.cluster!.version).toBe("1.32.0");
    expect(view.nodes.map((n) => n.version)).toEqual(["1.32.0", "1.32.0", "1.32.0", "1.32.0"]);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    // Stopped so that no later test's jobs land on a working agent it did not start.
    await second.stop();
  });
});

describe("updating a cluster", () => {
  it("changes description and labels by update_mask, with an etag, audited; nothing else", async () => {
    const builder = await startAgent(t, "upd-builder");
    const cluster = await activeCluster("labelled", 1, { maxSurge: 1, maxUnavailable: 0 });
    const member = await t.token(Role.TENANT_MEMBER, "upd-member", cloud.tenantId);
    const current = (await k8s().getKubernetesCluster({ id: cluster.id })).cluster!;
    const updated = await k8s(t, member).updateKubernetesCluster({
      cluster: { id: cluster.id, etag: current.etag, description: "shop front", labels: { team: "web" }, name: "ignored" },
      updateMask: { paths: ["description", "labels"] },
    });
    expect(updated.cluster).toMatchObject({ name: "labelled", description: "shop front", labels: { team: "web" } });
    expect(updated.cluster!.etag).not.toBe(current.etag);
    const onlyLabels = await k8s().updateKubernetesCluster({
      cluster: { id: cluster.id, description: "not this", labels: {} },
      updateMask: { paths: ["labels"] },
    });
    expect(onlyLabels.cluster).toMatchObject({ description: "shop front", labels: {} });
    expect(
      await failure(
        k8s().updateKubernetesCluster({
          cluster: { id: cluster.id, etag: current.etag, description: "x" },
          updateMask: { paths: ["description"] },
        }),
      ),
    ).toMatchObject({ code: Code.Aborted, reason: "ETAG_MISMATCH" });
    expect(
      await failure(k8s().updateKubernetesCluster({ cluster: { id: cluster.id, version: "1.32.0" }, updateMask: { paths: ["version"] } })),
    ).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_UPDATE_MASK" });
    expect(await failure(k8s().updateKubernetesCluster({ cluster: { id: cluster.id }, updateMask: { paths: [] } }))).toMatchObject({
      code: Code.InvalidArgument,
    });
    const stranger = await t.token(Role.TENANT_ADMIN, "upd-stranger", await t.tenant("upd-other"));
    expect(
      await failure(
        k8s(t, stranger).updateKubernetesCluster({
          cluster: { id: cluster.id, description: "mine" },
          updateMask: { paths: ["description"] },
        }),
      ),
    ).toMatchObject({ code: Code.NotFound });
    const audited = await t.server.db
      .em()
      .execute<{ principal: string; result: string }[]>(
        "select principal, result from audit_event where resource_id = ? and method like '%/UpdateKubernetesCluster' order by time",
        [cluster.id],
      );
    expect(audited.map((row) => [row.principal, row.result])).toEqual([
      ["upd-member", "OK"],
      [expect.any(String), "OK"],
      [expect.any(String), expect.not.stringMatching(/^OK$/)],
      [expect.any(String), expect.not.stringMatching(/^OK$/)],
      [expect.any(String), expect.not.stringMatching(/^OK$/)],
      ["upd-stranger", expect.not.stringMatching(/^OK$/)],
    ]);
    expect(await settled((await k8s().deleteKubernetesCluster({ id: cluster.id })).operation!.id)).toBe(OperationState.SUCCEEDED);
    await builder.stop();
  });
});

describe("retrying a cluster's failed creation", () => {
  it("refuses a stale etag changing nothing, then runs the failed bootstrap again to ACTIVE with the same reservations", async () => {
    const before = await cpuUsed();
    const failing = await startAgent(t, "boot-failing", {
      CREATE_KUBERNETES_CLUSTER: async () => {
        throw new JobError("kubeadm init: port 6443 is in use", { agentCode: "KUBEADM", permanent: true });
      },
    });
    const created = await k8s().createKubernetesCluster({
      cluster: {
        name: "boot",
        tenantId: cloud.tenantId,
        version: "1.31.4",
        controlPlane: { count: 1, ...node() },
        nodePools: [{ name: "web", nodeCount: 2, ...node() }],
      },
    });
    const clusterId = created.cluster!.id;
    expect(await settled(created.operation!.id)).toBe(OperationState.FAILED);
    await failing.stop();
    const broken = (await k8s().getKubernetesCluster({ id: clusterId })).cluster!;
    expect(broken.status).toBe(KubernetesClusterStatus.ERROR);
    expect(broken.statusReason).toContain("port 6443");
    // Its three nodes of 2 vCPU stay reserved while it waits for the retry.
    expect(await cpuUsed()).toBe(before + 6);

    // An etag read before the cluster changed: refused, and the workflow stays as it stopped.
    const stale = `"${Number(broken.etag.replaceAll('"', "")) - 1}"`;
    expect(await failure(k8s().retryKubernetesClusterOperation({ clusterId, etag: stale }))).toMatchObject({
      code: Code.Aborted,
      reason: "ETAG_MISMATCH",
    });
    expect((await t.operations().getOperation({ id: created.operation!.id })).operation!.state).toBe(OperationState.FAILED);
    expect((await k8s().getKubernetesCluster({ id: clusterId })).cluster!.etag).toBe(broken.etag);

    const fixed = await startAgent(t, "boot-fixed");
    const retried = await k8s().retryKubernetesClusterOperation({ clusterId, etag: broken.etag });
    expect(retried.operation!.id).toBe(created.operation!.id);
    expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);
    const view = await k8s().getKubernetesCluster({ id: clusterId });
    expect(view.cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    expect(view.nodes).toHaveLength(3);
    expect(await cpuUsed()).toBe(before + 6);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    expect(await settled((await k8s().deleteKubernetesCluster({ id: clusterId })).operation!.id)).toBe(OperationState.SUCCEEDED);
    expect(await cpuUsed()).toBe(before);
    await fixed.stop();
  });
});
