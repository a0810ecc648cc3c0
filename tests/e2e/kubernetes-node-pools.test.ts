// Node pools end to end (K8S-5, QUO-4) through the real server and the simulated agent: a pool
// scales 3 → 5 and 5 → 2 (the newest nodes go first) with its reservations checked in the database;
// a second lifecycle operation on the cluster is refused naming the running one; a scale over quota
// is refused as a whole and leaves no reservation; a scale or a new pool cancelled before any agent
// took it is undone; a pool is added and deleted (the last one too);
// a cluster an admin marked MAINTENANCE takes no scale but keeps taking settings.
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { KubernetesClusterStatus, KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { buildCloud, reservationDrift, type Cloud } from "../support/compute.js";
import { failure } from "../support/failure.js";
import { bearer, startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let agent: Agent;
let cloud: Cloud;

const k8s = (token = t.adminToken) =>
  createClient(KubernetesService, createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(token)] }));

beforeAll(async () => {
  t = await startTestServer();
  // Eight hosts of 16 vCPU; nodes of 2 vCPU; a quota of 15 vCPU: 7 nodes.
  cloud = await buildCloud(t, { name: "np", hosts: 8, quotaCpu: 15n });
  await k8s().createKubernetesVersion({ version: { version: "1.31.4" } });
  await startAgent();
}, 120_000);

async function startAgent(): Promise<void> {
  agent = createSimulatedAgent({
    servers: [t.url.replace("http://", "")],
    token: await t.token(Role.AGENT, "np-simulator"),
    agentId: "np-simulator",
    latencyMs: 20,
    concurrency: 16,
  });
  agent.start();
}

afterAll(async () => {
  await agent?.stop();
  await t?.close();
});

const node = () => ({ groupId: cloud.groupId, specificationId: cloud.specificationId, imageId: cloud.imageId });

async function settled(operationId: string): Promise<OperationState> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { operation } = await t.operations().getOperation({ id: operationId });
    if (operation!.state !== OperationState.PENDING && operation!.state !== OperationState.RUNNING) return operation!.state;
    if (Date.now() > deadline) throw new Error(`operation ${operationId} still ${OperationState[operation!.state]}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The pool's live node VMs by name, how many hold a reservation, and the tenant's vCPU in use. */
async function poolInDatabase(poolId: string) {
  const em = t.server.db.em();
  const nodes = await em.execute<{ name: string; reserved: boolean }[]>(
    "select name, reserved from virtual_machine where node_pool_id = ? and state <> 'DELETED' order by create_time, name",
    [poolId],
  );
  const [quota] = await em.execute<{ used: number }[]>(
    "select cpu_used::int as used from baremetal_group_tenant_quota where tenant_id = ? and group_id = ?",
    [cloud.tenantId, cloud.groupId],
  );
  return { names: nodes.map((row) => row.name), reserved: nodes.filter((row) => row.reserved).length, cpuUsed: quota!.used };
}

describe("a node pool", () => {
  let clusterId = "";
  let webId = "";

  beforeAll(async () => {
    const created = await k8s().createKubernetesCluster({
      cluster: {
        name: "np",
        tenantId: cloud.tenantId,
        version: "1.31.4",
        controlPlane: { count: 1, ...node() },
        nodePools: [{ name: "web", nodeCount: 3, ...node() }],
      },
    });
    clusterId = created.cluster!.id;
    webId = created.cluster!.nodePools[0]!.id;
    expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);
  });

  it("scales up 3 → 5, the added nodes admitted as a whole; a second operation meanwhile is refused naming it", async () => {
    const web = (await k8s().getKubernetesCluster({ id: clusterId })).cluster!.nodePools[0]!;
    // No agent until the second request is answered, so the first operation is surely under way.
    await agent.stop();
    const scaled = await k8s().updateNodePool({
      nodePool: { id: webId, etag: web.etag, nodeCount: 5 },
      updateMask: { paths: ["node_count"] },
    });
    expect(scaled.nodePool!.nodeCount).toBe(5);
    expect(scaled.operation!.resourceId).toBe(clusterId);
    expect((await k8s().getKubernetesCluster({ id: clusterId })).cluster!.status).toBe(KubernetesClusterStatus.UPDATING);
    // Reserved at once, in the request's transaction.
    expect(await poolInDatabase(webId)).toMatchObject({ reserved: 5, cpuUsed: 12 });
    const second = await failure(k8s().updateNodePool({ nodePool: { id: webId, nodeCount: 4 }, updateMask: { paths: ["node_count"] } }));
    expect(second).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "OPERATION_IN_PROGRESS",
      metadata: { operation_id: scaled.operation!.id },
    });
    await startAgent();
    expect(await settled(scaled.operation!.id)).toBe(OperationState.SUCCEEDED);
    const view = await k8s().getKubernetesCluster({ id: clusterId });
    expect(view.cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    expect(view.nodes.filter((n) => n.nodePoolId === webId && n.state === VirtualMachineState.RUNNING)).toHaveLength(5);
    expect(await poolInDatabase(webId)).toEqual({
      names: ["np-web-1", "np-web-2", "np-web-3", "np-web-4", "np-web-5"],
      reserved: 5,
      cpuUsed: 12,
    });
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("refuses a scale over quota as a whole, leaving no reservation and no operation", async () => {
    const em = t.server.db.em();
    const count = async () =>
      (await em.execute<{ n: number }[]>("select count(*)::int as n from operation where tenant_id = ?", [cloud.tenantId]))[0]!.n;
    const operations = await count();
    // 6 nodes use 12 of 15 vCPU: two more (4 vCPU) do not fit, though one would.
    const refused = await failure(k8s().updateNodePool({ nodePool: { id: webId, nodeCount: 7 }, updateMask: { paths: ["node_count"] } }));
    expect(refused).toMatchObject({ code: Code.ResourceExhausted, reason: "QUOTA_EXCEEDED" });
    expect(refused.metadata).toMatchObject({ limit: "15", asked: "4", used: "12" });
    expect(await poolInDatabase(webId)).toMatchObject({ reserved: 5, cpuUsed: 12 });
    expect(await count()).toBe(operations);
    expect((await k8s().getKubernetesCluster({ id: clusterId })).cluster!.nodePools[0]!.nodeCount).toBe(5);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("scales down 5 → 2, the newest nodes first, their reservations released as the agent confirms", async () => {
    const scaled = await k8s().updateNodePool({ nodePool: { id: webId, nodeCount: 2 }, updateMask: { paths: ["node_count"] } });
    expect(scaled.nodePool!.nodeCount).toBe(2);
    expect(await settled(scaled.operation!.id)).toBe(OperationState.SUCCEEDED);
    expect(await poolInDatabase(webId)).toEqual({ names: ["np-web-1", "np-web-2"], reserved: 2, cpuUsed: 6 });
    expect((await k8s().getKubernetesCluster({ id: clusterId })).cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("keeps min ≤ count ≤ max and a strategy that can progress; settings alone start no operation", async () => {
    const outside = await failure(
      k8s().updateNodePool({
        nodePool: { id: webId, autoscaling: { minNodeCount: 3, maxNodeCount: 6 } },
        updateMask: { paths: ["autoscaling"] },
      }),
    );
    expect(outside).toMatchObject({ code: Code.InvalidArgument, reason: "NODE_COUNT_OUT_OF_BOUNDS" });
    const bounded = await k8s().updateNodePool({
      nodePool: { id: webId, autoscaling: { minNodeCount: 1, maxNodeCount: 4 }, upgradeStrategy: { maxSurge: 0, maxUnavailable: 1 } },
      updateMask: { paths: ["autoscaling", "upgrade_strategy"] },
    });
    expect(bounded.operation).toBeUndefined();
    expect(bounded.nodePool).toMatchObject({
      autoscaling: { minNodeCount: 1, maxNodeCount: 4 },
      upgradeStrategy: { maxSurge: 0, maxUnavailable: 1 },
    });
    const above = await failure(k8s().updateNodePool({ nodePool: { id: webId, nodeCount: 5 }, updateMask: { paths: ["node_count"] } }));
    expect(above).toMatchObject({ code: Code.InvalidArgument, reason: "NODE_COUNT_OUT_OF_BOUNDS" });
    const stale = await failure(
      k8s().updateNodePool({ nodePool: { id: webId, etag: "1", nodeCount: 3 }, updateMask: { paths: ["node_count"] } }),
    );
    expect(stale).toMatchObject({ code: Code.Aborted, reason: "ETAG_MISMATCH" });
    // A stranger does not see the pool.
    const stranger = await t.token(Role.TENANT_ADMIN, "np-stranger", await t.tenant("np-other"));
    expect(await failure(k8s(stranger).deleteNodePool({ id: webId }))).toMatchObject({ code: Code.NotFound });
  });

  it("undoes a scale or a new pool cancelled before any agent took it: old count, no reservation left", async () => {
    await agent.stop();
    const scaled = await k8s().updateNodePool({ nodePool: { id: webId, nodeCount: 4 }, updateMask: { paths: ["node_count"] } });
    expect(await poolInDatabase(webId)).toMatchObject({ reserved: 4, cpuUsed: 10 });
    await t.operations().cancelOperation({ id: scaled.operation!.id });
    expect(await settled(scaled.operation!.id)).toBe(OperationState.CANCELLED);
    expect(await poolInDatabase(webId)).toEqual({ names: ["np-web-1", "np-web-2"], reserved: 2, cpuUsed: 6 });
    const added = await k8s().createNodePool({ clusterId, nodePool: { name: "gone", nodeCount: 1, ...node() } });
    await t.operations().cancelOperation({ id: added.operation!.id });
    expect(await settled(added.operation!.id)).toBe(OperationState.CANCELLED);
    await startAgent();
    const view = await k8s().getKubernetesCluster({ id: clusterId });
    expect(view.cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    expect(view.cluster!.nodePools.map((pool) => [pool.name, pool.nodeCount])).toEqual([["web", 2]]);
    expect(await poolInDatabase(added.nodePool!.id)).toEqual({ names: [], reserved: 0, cpuUsed: 6 });
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("takes no scale while an admin has the cluster in MAINTENANCE, nor a new pool", async () => {
    await k8s().setKubernetesClusterStatus({ id: clusterId, status: KubernetesClusterStatus.MAINTENANCE, reason: "rack work" });
    const refused = await failure(k8s().updateNodePool({ nodePool: { id: webId, nodeCount: 3 }, updateMask: { paths: ["node_count"] } }));
    expect(refused).toMatchObject({ code: Code.FailedPrecondition, reason: "CLUSTER_MARKED", metadata: { status: "MAINTENANCE" } });
    const added = await failure(k8s().createNodePool({ clusterId, nodePool: { name: "later", nodeCount: 1, ...node() } }));
    expect(added).toMatchObject({ code: Code.FailedPrecondition, reason: "CLUSTER_MARKED" });
    expect(await poolInDatabase(webId)).toMatchObject({ reserved: 2, cpuUsed: 6 });
    // Settings are not a scale.
    const settings = await k8s().updateNodePool({
      nodePool: { id: webId, upgradeStrategy: { maxSurge: 2, maxUnavailable: 0 } },
      updateMask: { paths: ["upgrade_strategy"] },
    });
    expect(settings.nodePool!.upgradeStrategy).toMatchObject({ maxSurge: 2, maxUnavailable: 0 });
    await k8s().setKubernetesClusterStatus({ id: clusterId, status: KubernetesClusterStatus.ACTIVE });
  });

  it("is added with its nodes built and joined, and deleted with them, the last one too", async () => {
    const created = await k8s().createNodePool({ clusterId, nodePool: { name: "batch", nodeCount: 2, ...node() }, requestId: "np-batch" });
    expect(created.nodePool).toMatchObject({ name: "batch", nodeCount: 2, clusterId });
    const batchId = created.nodePool!.id;
    expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);
    expect(await poolInDatabase(batchId)).toMatchObject({ names: ["np-batch-1", "np-batch-2"], reserved: 2, cpuUsed: 10 });
    // A retry with the same request id answers the first result.
    const again = await k8s().createNodePool({ clusterId, nodePool: { name: "batch", nodeCount: 2, ...node() }, requestId: "np-batch" });
    expect(again.nodePool!.id).toBe(batchId);
    expect(again.operation!.id).toBe(created.operation!.id);
    const duplicate = await failure(k8s().createNodePool({ clusterId, nodePool: { name: "batch", nodeCount: 1, ...node() } }));
    expect(duplicate).toMatchObject({ code: Code.AlreadyExists });

    for (const id of [webId, batchId]) {
      const deleted = await k8s().deleteNodePool({ id });
      expect(await settled(deleted.operation!.id)).toBe(OperationState.SUCCEEDED);
    }
    const view = await k8s().getKubernetesCluster({ id: clusterId });
    expect(view.cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    expect(view.cluster!.nodePools).toEqual([]);
    expect(view.nodes.map((n) => n.name)).toEqual(["np-cp-1"]);
    expect(await poolInDatabase(batchId)).toEqual({ names: [], reserved: 0, cpuUsed: 2 });
    expect(await failure(k8s().deleteNodePool({ id: webId }))).toMatchObject({ code: Code.NotFound });
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });
});
