// Autoscaling end to end (K8S-5, automatic part) through two real servers on one database and the
// simulated agent, from synthetic health reports: up one node at a time to max and never past it;
// down to min by draining and removing the nodes reported empty long enough; nothing while the
// cluster is marked; a decision quota refuses recorded with its reason and not retried before the
// cool-down; reports for one pool racing on both servers make exactly one decision.
import { timestampFromDate, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import {
  KubernetesAddonService,
  NodePoolScalingOutcome,
  NodePoolScalingReason,
  type NodePoolScalingEvent,
} from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import { KubernetesClusterStatus, KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { freshDatabaseUrl } from "../support/database.js";
import { failure } from "../support/failure.js";
import { bearer, startTestServer, type TestServer } from "../support/server.js";

const cooldownMillis = 1_500;
const emptyMillis = 1_000;

let t: TestServer;
let t2: TestServer;
let agent: Agent;
let cloud: Cloud;
let agentToken = "";

const transport = (server: TestServer, token: string) => createGrpcTransport({ baseUrl: server.url, interceptors: [bearer(token)] });
const k8s = (token = t.adminToken) => createClient(KubernetesService, transport(t, token));
const addons = (token = t.adminToken, server = t) => createClient(KubernetesAddonService, transport(server, token));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Strictly increasing observe times, so no report is taken for a late one. */
let lastObserved = 0;
function observeTime(): Date {
  lastObserved = Math.max(lastObserved + 1, Date.now());
  return new Date(lastObserved);
}

beforeAll(async () => {
  const url = await freshDatabaseUrl();
  const options = { autoscaler: { cooldownMillis, emptyMillis } };
  t = await startTestServer(url, options);
  t2 = await startTestServer(url, options);
  cloud = await buildCloud(t, { name: "ka", hosts: 4 });
  await k8s().createKubernetesVersion({ version: { version: "1.31.4" } });
  agentToken = await t.token(Role.AGENT, "ka-simulator");
  agent = createSimulatedAgent({
    servers: [t.url.replace("http://", "")],
    token: agentToken,
    agentId: "ka-simulator",
    latencyMs: 20,
    concurrency: 16,
  });
  agent.start();
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await t2?.close();
  await t?.close();
});

/** A cluster of one control-plane node and one pool "w" with bounds, ACTIVE. */
async function cluster(name: string, where: Cloud, bounds: { min: number; max: number }): Promise<{ id: string; poolId: string }> {
  const node = { groupId: where.groupId, specificationId: where.specificationId, imageId: where.imageId };
  const created = await k8s().createKubernetesCluster({
    cluster: {
      name,
      tenantId: where.tenantId,
      version: "1.31.4",
      controlPlane: { count: 1, ...node },
      nodePools: [{ name: "w", nodeCount: bounds.min, autoscaling: { minNodeCount: bounds.min, maxNodeCount: bounds.max }, ...node }],
    },
  });
  const id = created.cluster!.id;
  await settled(id);
  return { id, poolId: created.cluster!.nodePools[0]!.id };
}

/** Waits until the cluster is ACTIVE with no operation under way. */
async function settled(id: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const view = await k8s().getKubernetesCluster({ id });
    if (view.cluster!.status === KubernetesClusterStatus.ACTIVE && view.cluster!.activeOperationId === "") return view;
    if (Date.now() > deadline) throw new Error(`cluster ${id} still ${KubernetesClusterStatus[view.cluster!.status]}`);
    await sleep(50);
  }
}

async function events(poolId: string): Promise<NodePoolScalingEvent[]> {
  return (await addons().listNodePoolScalingEvents({ filter: `node_pool_id = "${poolId}"` })).events;
}

function report(
  clusterId: string,
  poolId: string,
  figures: { unschedulable?: number; empty?: { id: string; forMillis: number }[] },
  server = t,
) {
  const at = observeTime();
  return addons(agentToken, server).reportKubernetesClusterHealth({
    clusterId,
    health: {
      observeTime: timestampFromDate(at),
      readyNodeCount: 2,
      pendingPodCount: figures.unschedulable ?? 0,
      nodePools: [
        {
          nodePoolId: poolId,
          unschedulablePodCount: figures.unschedulable ?? 0,
          emptyNodes: (figures.empty ?? []).map((node) => ({
            virtualMachineId: node.id,
            emptySinceTime: timestampFromDate(new Date(at.getTime() - node.forMillis)),
          })),
        },
      ],
    },
  });
}

const poolCount = async (clusterId: string) => (await k8s().getKubernetesCluster({ id: clusterId })).cluster!.nodePools[0]!.nodeCount;

describe("the autoscaler", () => {
  let ka = { id: "", poolId: "" };

  it("scales up one node per decision while pods fit no node, to max and never past it", async () => {
    ka = await cluster("ka", cloud, { min: 1, max: 3 });
    for (const target of [2, 3]) {
      await settled(ka.id);
      await sleep(cooldownMillis);
      expect((await report(ka.id, ka.poolId, { unschedulable: 5 })).accepted).toBe(true);
      expect(await poolCount(ka.id)).toBe(target);
      // Within the cool-down, and while the scale runs, another report decides nothing.
      await report(ka.id, ka.poolId, { unschedulable: 5 });
      expect(await poolCount(ka.id)).toBe(target);
    }
    const view = await settled(ka.id);
    expect(view.nodes.filter((node) => node.nodePoolId === ka.poolId)).toHaveLength(3);
    await sleep(cooldownMillis);
    await report(ka.id, ka.poolId, { unschedulable: 50 });
    expect(await poolCount(ka.id)).toBe(3);
    const made = await events(ka.poolId);
    expect(made.map((event) => [event.fromNodeCount, event.toNodeCount, event.reason, event.outcome, event.unschedulablePodCount])).toEqual(
      [
        [1, 2, NodePoolScalingReason.UNSCHEDULABLE_PODS, NodePoolScalingOutcome.STARTED, 5],
        [2, 3, NodePoolScalingReason.UNSCHEDULABLE_PODS, NodePoolScalingOutcome.STARTED, 5],
      ],
    );
    expect(made.every((event) => event.operationId !== "" && event.clusterId === ka.id && event.tenantId === cloud.tenantId)).toBe(true);
    // The report that caused a decision says so in its audit record.
    const { auditEvents } = await t.clients().audit.listAuditEvents({
      filter: `method = "rackplane.v1.KubernetesAddonService/ReportKubernetesClusterHealth" AND resource_id = "${ka.id}"`,
      pageSize: 100,
    });
    expect(
      auditEvents.filter((event) => event.message.includes("autoscaler: pool w")).map((event) => event.message.split("autoscaler: ")[1]),
    ).toEqual([`pool w 2 → 3 started ${made[1]!.operationId}`, `pool w 1 → 2 started ${made[0]!.operationId}`]);
  });

  it("scales down by draining and removing the nodes reported empty long enough, never below min", async () => {
    const view = await settled(ka.id);
    const workers = view.nodes.filter((node) => node.nodePoolId === ka.poolId).map((node) => node.virtualMachineId);
    expect(workers).toHaveLength(3);
    await sleep(cooldownMillis);
    const [a, b, c] = workers as [string, string, string];
    await report(ka.id, ka.poolId, {
      empty: [
        { id: a, forMillis: emptyMillis + 5_000 },
        { id: b, forMillis: emptyMillis + 4_000 },
        // Not empty long enough: stays.
        { id: c, forMillis: emptyMillis / 4 },
      ],
    });
    expect(await poolCount(ka.id)).toBe(1);
    const down = (await events(ka.poolId)).at(-1)!;
    expect([down.fromNodeCount, down.toNodeCount, down.reason, down.outcome]).toEqual([
      3,
      1,
      NodePoolScalingReason.EMPTY_NODES,
      NodePoolScalingOutcome.STARTED,
    ]);
    expect([...down.removedNodeIds].sort()).toEqual([a, b].sort());
    // Each removed node's delete job says to drain it first.
    const jobs = await t.server.db
      .em()
      .execute<{ drain: boolean }[]>(
        "select (payload->>'drain')::boolean as drain from job where kind = 'DELETE_VIRTUAL_MACHINE' and payload->>'virtualMachineId' = any(array[?]::text[])",
        [[a, b]],
      );
    expect(jobs.map((job) => job.drain)).toEqual([true, true]);
    const after = await settled(ka.id);
    expect(after.nodes.filter((node) => node.nodePoolId === ka.poolId).map((node) => node.virtualMachineId)).toEqual([c]);
    await sleep(cooldownMillis);
    await report(ka.id, ka.poolId, { empty: [{ id: c, forMillis: emptyMillis * 10 }] });
    expect(await poolCount(ka.id)).toBe(1);
    expect(await events(ka.poolId)).toHaveLength(3);
  });

  it("decides nothing while the cluster is marked MAINTENANCE", async () => {
    await k8s().setKubernetesClusterStatus({ id: ka.id, status: KubernetesClusterStatus.MAINTENANCE, reason: "rack work" });
    await sleep(cooldownMillis);
    expect((await report(ka.id, ka.poolId, { unschedulable: 9 })).accepted).toBe(true);
    expect(await poolCount(ka.id)).toBe(1);
    expect(await events(ka.poolId)).toHaveLength(3);
    await k8s().setKubernetesClusterStatus({ id: ka.id, status: KubernetesClusterStatus.ACTIVE });
  });

  it("records a decision quota refuses with its reason, and tries again only after the cool-down", async () => {
    // 4 vCPU: the control plane and the one worker (2 each) use all of it.
    const tight = await buildCloud(t, { name: "kq", hosts: 2, quotaCpu: 4n });
    const kq = await cluster("kq", tight, { min: 1, max: 3 });
    await report(kq.id, kq.poolId, { unschedulable: 2 });
    const [refused] = await events(kq.poolId);
    expect([refused!.fromNodeCount, refused!.toNodeCount, refused!.outcome, refused!.refusedReason, refused!.operationId]).toEqual([
      1,
      2,
      NodePoolScalingOutcome.REFUSED,
      "QUOTA_EXCEEDED",
      "",
    ]);
    expect(refused!.message).not.toBe("");
    const view = await k8s().getKubernetesCluster({ id: kq.id });
    expect([view.cluster!.nodePools[0]!.nodeCount, view.cluster!.activeOperationId]).toEqual([1, ""]);
    // Not looped: reports inside the cool-down add nothing.
    for (let i = 0; i < 3; i++) await report(kq.id, kq.poolId, { unschedulable: 2 });
    expect(await events(kq.poolId)).toHaveLength(1);
    await sleep(cooldownMillis);
    await report(kq.id, kq.poolId, { unschedulable: 2 });
    const again = await events(kq.poolId);
    expect(again.map((event) => [event.outcome, event.refusedReason])).toEqual([
      [NodePoolScalingOutcome.REFUSED, "QUOTA_EXCEEDED"],
      [NodePoolScalingOutcome.REFUSED, "QUOTA_EXCEEDED"],
    ]);
    // Another tenant sees none of it.
    const stranger = await t.token(Role.TENANT_ADMIN, "kq-stranger", cloud.tenantId);
    expect((await addons(stranger).listNodePoolScalingEvents({ filter: `node_pool_id = "${kq.poolId}"` })).events).toEqual([]);
    expect((await failure(addons(agentToken).listNodePoolScalingEvents({}))).code).toBe(Code.PermissionDenied);
  });

  it("makes one decision for one pool when reports race on two server processes", async () => {
    const kc = await cluster("kc", cloud, { min: 1, max: 5 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => report(kc.id, kc.poolId, { unschedulable: 4 }, i % 2 === 0 ? t : t2)),
    );
    expect(outcomes.filter((outcome) => outcome.status === "rejected")).toEqual([]);
    const made = await events(kc.poolId);
    expect(made.map((event) => [event.fromNodeCount, event.toNodeCount, event.outcome])).toEqual([[1, 2, NodePoolScalingOutcome.STARTED]]);
    expect(await poolCount(kc.id)).toBe(2);
    const view = await settled(kc.id);
    expect(view.nodes.filter((node) => node.nodePoolId === kc.poolId)).toHaveLength(2);
  });

  it("pages the events with a token (AIP-158 keyset)", async () => {
    const first = await addons().listNodePoolScalingEvents({ pageSize: 2 });
    expect(first.events).toHaveLength(2);
    expect(first.nextPageToken).not.toBe("");
    const rest = await addons().listNodePoolScalingEvents({ pageSize: 100, pageToken: first.nextPageToken });
    const ids = [...first.events, ...rest.events].map((event) => event.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(6);
    expect(rest.nextPageToken).toBe("");
  });

  it("lists newest first with order_by create_time desc, pages in that order, and refuses another order", async () => {
    const oldestFirst = (await addons().listNodePoolScalingEvents({ pageSize: 100 })).events.map((event) => event.id);
    const first = await addons().listNodePoolScalingEvents({ pageSize: 4, orderBy: "create_time desc" });
    const rest = await addons().listNodePoolScalingEvents({ pageSize: 100, orderBy: "create_time desc", pageToken: first.nextPageToken });
    const newestFirst = [...first.events, ...rest.events];
    expect(newestFirst.map((event) => event.id).sort()).toEqual([...oldestFirst].sort());
    const times = newestFirst.map((event) => timestampMs(event.createTime!));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(times[0]).toBeGreaterThan(times.at(-1)!);
    // A token holds to the order it was made with.
    expect(
      await failure(addons().listNodePoolScalingEvents({ pageSize: 100, orderBy: "create_time", pageToken: first.nextPageToken })),
    ).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_PAGE_TOKEN" });
    expect(await failure(addons().listNodePoolScalingEvents({ orderBy: "reason desc" }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_ORDER_BY",
    });
  });
});
