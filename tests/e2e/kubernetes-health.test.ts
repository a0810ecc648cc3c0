// Cluster health end to end (K8S-11) through the real server and the simulated agent: the
// simulator's plausible report on the cluster's view (Get and List); a late report ignored; bad
// reports refused; only agents, and only inside their scope; one audit record per call; a cluster
// whose reports stop is flagged stale.
import { timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { KubernetesAddonService } from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import { KubernetesClusterStatus, KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { failure } from "../support/failure.js";
import { bearer, startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let agent: Agent;
let cloud: Cloud;
let agentToken = "";
let clusterId = "";
let poolId = "";

const transport = (token: string) => createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(token)] });
const k8s = (token = t.adminToken) => createClient(KubernetesService, transport(token));
const addons = (token = t.adminToken) => createClient(KubernetesAddonService, transport(token));

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  t = await startTestServer(undefined, { clusterHealthStaleMillis: 2_000 });
  cloud = await buildCloud(t, { name: "kh", hosts: 3 });
  await k8s().createKubernetesVersion({ version: { version: "1.31.4" } });
  agentToken = await t.token(Role.AGENT, "kh-simulator");
  agent = createSimulatedAgent({
    servers: [t.url.replace("http://", "")],
    token: agentToken,
    agentId: "kh-simulator",
    latencyMs: 20,
    concurrency: 16,
    observeIntervalMs: 200,
  });
  agent.start();
  const node = { groupId: cloud.groupId, specificationId: cloud.specificationId, imageId: cloud.imageId };
  const created = await k8s().createKubernetesCluster({
    cluster: {
      name: "kh",
      tenantId: cloud.tenantId,
      version: "1.31.4",
      controlPlane: { count: 1, ...node },
      nodePools: [{ name: "w", nodeCount: 2, ...node }],
    },
  });
  clusterId = created.cluster!.id;
  poolId = created.cluster!.nodePools[0]!.id;
  await eventually(
    () => k8s().getKubernetesCluster({ id: clusterId }),
    (view) => view.cluster!.status === KubernetesClusterStatus.ACTIVE,
    "the cluster to be ACTIVE",
  );
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await t?.close();
});

const report = (observeTime: Date, pending: number) => ({
  clusterId,
  health: {
    observeTime: timestampFromDate(observeTime),
    readyNodeCount: 3,
    notReadyNodeCount: 0,
    runningPodCount: 40,
    pendingPodCount: pending,
    failedPodCount: 1,
    nodePools: [{ nodePoolId: poolId, unschedulablePodCount: pending }],
  },
});

describe("cluster health", () => {
  it("the simulator's plausible report is on the cluster's view, Get and List alike", async () => {
    const view = await eventually(
      () => k8s().getKubernetesCluster({ id: clusterId }),
      (got) => got.cluster!.health !== undefined && got.cluster!.health.readyNodeCount === 3,
      "the simulator's health report",
    );
    const health = view.cluster!.health!;
    expect(health.notReadyNodeCount).toBe(0);
    expect(health.runningPodCount).toBeGreaterThanOrEqual(3 * 8);
    expect(health.stale).toBe(false);
    expect(health.traffic?.requestsPerSecond).toBeGreaterThan(0);
    expect(health.nodePools.map((pool) => pool.nodePoolId)).toEqual([poolId]);
    const { clusters } = await k8s().listKubernetesClusters({ filter: `name = "kh"` });
    expect(clusters[0]!.health?.readyNodeCount).toBe(3);
  });

  it("keeps the newer of two reports: a late one changes nothing", async () => {
    await agent.stop();
    const reporter = addons(agentToken);
    const future = new Date(Date.now() + 60_000);
    const first = await reporter.reportKubernetesClusterHealth(report(future, 7));
    expect(first.accepted).toBe(true);
    expect(first.health!.pendingPodCount).toBe(7);
    expect(first.health!.nodePools[0]!.unschedulablePodCount).toBe(7);
    const late = await reporter.reportKubernetesClusterHealth(report(new Date(future.getTime() - 1_000), 99));
    expect(late.accepted).toBe(false);
    expect(late.health!.pendingPodCount).toBe(7);
    const same = await reporter.reportKubernetesClusterHealth(report(future, 98));
    expect(same.accepted).toBe(false);
    const { cluster } = await k8s().getKubernetesCluster({ id: clusterId });
    expect(cluster!.health!.pendingPodCount).toBe(7);
    // One audit record per call, accepted or not.
    const { auditEvents } = await t.clients().audit.listAuditEvents({
      filter: `method = "rackplane.v1.KubernetesAddonService/ReportKubernetesClusterHealth" AND resource_id = "${clusterId}" AND principal = "kh-simulator"`,
      pageSize: 1000,
    });
    const messages = auditEvents.filter((event) => event.result === "OK").map((event) => event.message);
    expect(messages.slice(0, 3)).toEqual([
      "superseded: a report as new or newer is stored",
      "superseded: a report as new or newer is stored",
      "nodes 3 ready, 0 not; pods 40 running, 7 pending, 1 failed",
    ]);
  });

  it("refuses bad reports, changing nothing", async () => {
    const reporter = addons(agentToken);
    const stranger = await failure(
      reporter.reportKubernetesClusterHealth({
        ...report(new Date(), 1),
        health: { ...report(new Date(), 1).health, nodePools: [{ nodePoolId: cloud.groupId }] },
      }),
    );
    expect([stranger.code, stranger.reason, stranger.fields]).toEqual([
      Code.InvalidArgument,
      "NODE_POOL_NOT_IN_CLUSTER",
      ["health.node_pools[0].node_pool_id"],
    ]);
    const old = await failure(reporter.reportKubernetesClusterHealth(report(new Date(Date.now() - 2 * 86_400_000), 1)));
    expect([old.code, old.fields]).toEqual([Code.InvalidArgument, ["health.observe_time"]]);
    const noTime = await failure(reporter.reportKubernetesClusterHealth({ clusterId, health: { readyNodeCount: 1 } }));
    expect(noTime.code).toBe(Code.InvalidArgument);
    const emptyLater = await failure(
      reporter.reportKubernetesClusterHealth({
        clusterId,
        health: {
          observeTime: timestampNow(),
          nodePools: [
            {
              nodePoolId: poolId,
              emptyNodes: [{ virtualMachineId: cloud.hostIds[0]!, emptySinceTime: timestampFromDate(new Date(Date.now() + 3_600_000)) }],
            },
          ],
        },
      }),
    );
    expect([emptyLater.code, emptyLater.fields]).toEqual([Code.InvalidArgument, ["health.node_pools[0].empty_nodes[0].empty_since_time"]]);
    const missing = await failure(reporter.reportKubernetesClusterHealth({ ...report(new Date(), 1), clusterId: cloud.groupId }));
    expect([missing.code, missing.reason]).toEqual([Code.NotFound, "RESOURCE_NOT_FOUND"]);
    const { cluster } = await k8s().getKubernetesCluster({ id: clusterId });
    expect(cluster!.health!.pendingPodCount).toBe(7);
  });

  it("takes reports from agents only, inside their scope; other tenants see no cluster", async () => {
    const admin = await failure(addons().reportKubernetesClusterHealth(report(new Date(), 1)));
    expect([admin.code, admin.reason]).toEqual([Code.PermissionDenied, "ROLE_NOT_ALLOWED"]);
    const other = await buildCloud(t, { name: "kh-other", hosts: 1 });
    const { secret } = await t
      .clients()
      .identity.createToken({ principal: "kh-confined", role: Role.AGENT, agentScope: { groupIds: [other.groupId] } });
    const outside = await failure(addons(secret).reportKubernetesClusterHealth(report(new Date(Date.now() + 120_000), 1)));
    expect([outside.code, outside.reason]).toEqual([Code.NotFound, "RESOURCE_NOT_FOUND"]);
    const stranger = await t.token(Role.TENANT_ADMIN, "kh-stranger", other.tenantId);
    expect((await failure(k8s(stranger).getKubernetesCluster({ id: clusterId }))).code).toBe(Code.NotFound);
    expect((await k8s(stranger).listKubernetesClusters({})).clusters).toEqual([]);
    const { cluster } = await k8s().getKubernetesCluster({ id: clusterId });
    expect(cluster!.health!.pendingPodCount).toBe(7);
  });

  it("flags a cluster stale once its reports stop for longer than the configured period", async () => {
    const reporter = addons(agentToken);
    await reporter.reportKubernetesClusterHealth(report(new Date(Date.now() + 600_000), 0));
    expect((await k8s().getKubernetesCluster({ id: clusterId })).cluster!.health!.stale).toBe(false);
    // The stored report's time is ten minutes ahead of the clock; one from now on is "older" and
    // ignored, so the stale check is made on a fresh cluster's report instead.
    const node = { groupId: cloud.groupId, specificationId: cloud.specificationId, imageId: cloud.imageId };
    const quiet = await k8s().createKubernetesCluster({
      cluster: { name: "kh-quiet", tenantId: cloud.tenantId, version: "1.31.4", controlPlane: { count: 1, ...node } },
    });
    const id = quiet.cluster!.id;
    await reporter.reportKubernetesClusterHealth({ clusterId: id, health: { observeTime: timestampNow(), readyNodeCount: 1 } });
    expect((await k8s().getKubernetesCluster({ id })).cluster!.health!.stale).toBe(false);
    const stale = await eventually(
      () => k8s().listKubernetesClusters({ filter: `name = "kh-quiet"` }),
      (page) => page.clusters[0]!.health?.stale === true,
      "the quiet cluster to read stale",
    );
    expect(stale.clusters[0]!.health!.readyNodeCount).toBe(1);
    expect((await k8s().getKubernetesCluster({ id })).cluster!.health!.stale).toBe(true);
  });
});
