// Every kind registered with the operation engine (src/app/lifecycles.ts) has each of its handlers
// exercised through the real server: a scenario per kind drives operations to their start, success,
// failure and cancellation and reports an observed state, and the test counts the calls each handler
// received. A kind registered without a scenario fails the test, so a new kind cannot join the
// engine untested.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ObservedState } from "../../gen/es/rackplane/v1/agent_pb.js";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import { OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { KubernetesClusterStatus, KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import {
  KubernetesAddonService,
  KubernetesClusterPluginStatus,
  ServiceMeshBindingStatus,
  ServiceMeshRole,
  ServiceMeshType,
} from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import { expireLeases } from "../../src/app/agents/leases.js";
import { lifecycles } from "../../src/app/lifecycles.js";
import type { Lifecycle } from "../../src/app/operations/lifecycle.js";
import { buildCloud, finishOperation, reservationDrift } from "../support/compute.js";
import { bearer, startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

const handlers = [
  "markStarted",
  "applySuccess",
  "applyFailure",
  "undoQueued",
  "placeOf",
  "acceptObserved",
] as const satisfies readonly (keyof Lifecycle)[];

/** Drives one kind's resources through every handler. */
const scenarios: Record<string, (t: TestServer) => Promise<void>> = {
  async virtual_machine(t) {
    const cloud = await buildCloud(t, { name: "lc", hosts: 2 });
    const compute = t.compute();
    const create = () =>
      compute.createVirtualMachine({
        tenantId: cloud.tenantId,
        target: { case: "groupId", value: cloud.groupId },
        specificationId: cloud.specificationId,
        imageId: cloud.imageId,
      });
    // Created (markStarted, applySuccess), then observed powered off (placeOf, acceptObserved).
    const built = await create();
    await finishOperation(t, built.operation!.id);
    const vm = built.virtualMachine!.id;
    const agent = t.agents(await t.token(Role.AGENT, "lc-agent"));
    expect((await agent.reportResourceState({ virtualMachineId: vm, state: ObservedState.STOPPED, reason: "off" })).state).toBe("STOPPED");
    // A start that fails returns the VM where it was (applyFailure).
    const start = await compute.startVirtualMachine({ id: vm });
    await finishOperation(t, start.operation!.id, {
      succeeded: false,
      error: { code: "UNAVAILABLE", reason: "AGENT_FAILED", message: "no", metadata: {} },
    });
    expect((await compute.getVirtualMachine({ id: vm })).virtualMachine!.state).toBe(VirtualMachineState.STOPPED);
    // A creation cancelled before any agent took it is withdrawn (undoQueued).
    const queued = await create();
    const cancelled = await t.operations().cancelOperation({ id: queued.operation!.id });
    expect(cancelled.operation!.state).toBe(OperationState.CANCELLED);
    expect((await compute.getVirtualMachine({ id: queued.virtualMachine!.id })).virtualMachine!.state).toBe(VirtualMachineState.DELETED);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  },

  async kubernetes_cluster(t) {
    const cloud = await buildCloud(t, { name: "lk", hosts: 2 });
    const k8s = createClient(KubernetesService, createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(t.adminToken)] }));
    await k8s.createKubernetesVersion({ version: { version: "1.31.4" } });
    const node = { groupId: cloud.groupId, specificationId: cloud.specificationId, imageId: cloud.imageId };
    const create = (name: string) =>
      k8s.createKubernetesCluster({
        cluster: {
          name,
          tenantId: cloud.tenantId,
          version: "1.31.4",
          controlPlane: { count: 1, ...node },
          nodePools: [{ name: "w", nodeCount: 1, ...node }],
        },
      });
    /** The operations a cluster operation's job waits for (its node VMs'). */
    const waited = async (operationId: string) =>
      (
        await t.server.db
          .em()
          .execute<{ ids: string[] }[]>("select wait_for_operation_ids as ids from job where operation_id = ?", [operationId])
      )[0]!.ids;
    // Built: its nodes first, then the bootstrap (markStarted, applySuccess).
    const built = await create("lk-one");
    for (const id of await waited(built.operation!.id)) await finishOperation(t, id);
    await finishOperation(t, built.operation!.id, { succeeded: true, facts: { endpoint: "https://10.9.9.9:6443" } });
    const id = built.cluster!.id;
    expect((await k8s.getKubernetesCluster({ id })).cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    // An agent reports a fault and the recovery (placeOf, acceptObserved).
    const agent = createClient(
      KubernetesService,
      createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(await t.token(Role.AGENT, "lk-agent"))] }),
    );
    const fault = await agent.setKubernetesClusterStatus({ id, status: KubernetesClusterStatus.ERROR, reason: "etcd lost quorum" });
    expect(fault.cluster!.status).toBe(KubernetesClusterStatus.ERROR);
    expect((await agent.setKubernetesClusterStatus({ id, status: KubernetesClusterStatus.ACTIVE })).cluster!.status).toBe(
      KubernetesClusterStatus.ACTIVE,
    );
    // A teardown that fails leaves the cluster ERROR (applyFailure).
    const deleted = await k8s.deleteKubernetesCluster({ id });
    for (const nodeOperation of await waited(deleted.operation!.id)) await finishOperation(t, nodeOperation);
    await finishOperation(t, deleted.operation!.id, {
      succeeded: false,
      error: { code: "UNAVAILABLE", reason: "AGENT_FAILED", message: "load balancer stuck", metadata: {} },
    });
    const failed = (await k8s.getKubernetesCluster({ id })).cluster!;
    expect(failed.status).toBe(KubernetesClusterStatus.ERROR);
    expect(failed.statusReason).toBe("load balancer stuck");
    // A creation cancelled before any agent took it is withdrawn with its nodes (undoQueued).
    const queued = await create("lk-two");
    const cancelled = await t.operations().cancelOperation({ id: queued.operation!.id });
    expect(cancelled.operation!.state).toBe(OperationState.CANCELLED);
    expect((await k8s.getKubernetesCluster({ id: queued.cluster!.id })).cluster!.status).toBe(KubernetesClusterStatus.DELETED);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    const [live] = await t.server.db
      .em()
      .execute<{ n: number }[]>("select count(*)::int as n from virtual_machine where cluster_id = ? and state <> 'DELETED'", [
        queued.cluster!.id,
      ]);
    expect(live!.n).toBe(0);
    // A node that fails to build fails the bootstrap waiting for it at once: the cluster is ERROR,
    // the other nodes keep their reservations until the cluster is deleted, and the delete cleans up.
    const broken = await create("lk-three");
    const [first, second] = await waited(broken.operation!.id);
    await finishOperation(t, first!, {
      succeeded: false,
      error: { code: "FAILED_PRECONDITION", reason: "AGENT_FAILED", message: "image missing", metadata: {} },
    });
    const bootstrap = (await t.operations().getOperation({ id: broken.operation!.id })).operation!;
    expect(bootstrap.state).toBe(OperationState.FAILED);
    expect(bootstrap.error).toMatchObject({ reason: "PREREQUISITE_FAILED" });
    expect((await k8s.getKubernetesCluster({ id: broken.cluster!.id })).cluster!.status).toBe(KubernetesClusterStatus.ERROR);
    await finishOperation(t, second!);
    const [held] = await t.server.db
      .em()
      .execute<{ n: number }[]>("select count(*)::int as n from virtual_machine where cluster_id = ? and reserved", [broken.cluster!.id]);
    expect(held!.n).toBe(1);
    const teardown = await k8s.deleteKubernetesCluster({ id: broken.cluster!.id });
    for (const nodeOperation of await waited(teardown.operation!.id)) await finishOperation(t, nodeOperation);
    await finishOperation(t, teardown.operation!.id);
    expect((await k8s.getKubernetesCluster({ id: broken.cluster!.id })).cluster!.status).toBe(KubernetesClusterStatus.DELETED);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    // A node that fails while its bootstrap's job is locked elsewhere leaves the bootstrap waiting
    // (settleWaiters skips locked jobs); the lease sweep's safety net fails it (failStrandedWaiters).
    const stranded = await create("lk-four");
    const [strandedNode, ...otherNodes] = await waited(stranded.operation!.id);
    await t.server.db.em().transactional(async (em) => {
      await em.execute("select id from job where operation_id = ? for update", [stranded.operation!.id]);
      await finishOperation(t, strandedNode!, {
        succeeded: false,
        error: { code: "FAILED_PRECONDITION", reason: "AGENT_FAILED", message: "image missing", metadata: {} },
      });
    });
    const operations = t.operations();
    expect((await operations.getOperation({ id: stranded.operation!.id })).operation!.state).not.toBe(OperationState.FAILED);
    await expireLeases(t.server.db);
    const swept = (await operations.getOperation({ id: stranded.operation!.id })).operation!;
    expect(swept.state).toBe(OperationState.FAILED);
    expect(swept.error).toMatchObject({ reason: "PREREQUISITE_FAILED", metadata: { operation_id: strandedNode } });
    for (const nodeOperation of otherNodes) await finishOperation(t, nodeOperation);
    const strandedTeardown = await k8s.deleteKubernetesCluster({ id: stranded.cluster!.id });
    for (const nodeOperation of await waited(strandedTeardown.operation!.id)) await finishOperation(t, nodeOperation);
    await finishOperation(t, strandedTeardown.operation!.id);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  },

  async kubernetes_cluster_plugin(t) {
    const cloud = await buildCloud(t, { name: "lp", hosts: 2 });
    const admin = createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(t.adminToken)] });
    const k8s = createClient(KubernetesService, admin);
    const addons = createClient(KubernetesAddonService, admin);
    // The cluster's scenario, on the same server, may have added the version already.
    await k8s.createKubernetesVersion({ version: { version: "1.31.4" } }).catch(() => undefined);
    await addons.createKubernetesPlugin({
      plugin: {
        name: "lp-ingress",
        versions: [
          { version: "1.0.0", kubernetesVersions: ["1.31"] },
          { version: "1.1.0", kubernetesVersions: ["1.31"] },
        ],
      },
    });
    const node = { groupId: cloud.groupId, specificationId: cloud.specificationId, imageId: cloud.imageId };
    const built = await k8s.createKubernetesCluster({
      cluster: { name: "lp-one", tenantId: cloud.tenantId, version: "1.31.4", controlPlane: { count: 1, ...node } },
      plugins: [{ plugin: "lp-ingress", version: "1.0.0" }],
    });
    const [bootstrapJob] = await t.server.db
      .em()
      .execute<{ ids: string[] }[]>("select wait_for_operation_ids as ids from job where operation_id = ?", [built.operation!.id]);
    for (const id of bootstrapJob!.ids) await finishOperation(t, id);
    await finishOperation(t, built.operation!.id, { succeeded: true, facts: { endpoint: "https://10.9.9.8:6443" } });
    // Installed once the cluster is ACTIVE (markStarted, applySuccess).
    const [installed] = (await addons.listKubernetesClusterPlugins({ filter: `cluster_id = "${built.cluster!.id}"` })).plugins;
    await finishOperation(t, installed!.activeOperationId);
    const id = installed!.id;
    expect((await addons.getKubernetesClusterPlugin({ id })).plugin!.status).toBe(KubernetesClusterPluginStatus.ACTIVE);
    // An agent sees it not running (placeOf, acceptObserved).
    const agent = createClient(
      KubernetesAddonService,
      createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(await t.token(Role.AGENT, "lp-agent"))] }),
    );
    const seen = await agent.reportKubernetesClusterPluginStatus({
      id,
      status: KubernetesClusterPluginStatus.INACTIVE,
      message: "crashloop",
    });
    expect(seen.plugin!.status).toBe(KubernetesClusterPluginStatus.INACTIVE);
    // An upgrade that fails leaves it ERROR on the version it had (applyFailure).
    const upgrade = await addons.upgradeKubernetesClusterPlugin({ id, version: "1.1.0" });
    await finishOperation(t, upgrade.operation!.id, {
      succeeded: false,
      error: { code: "FAILED_PRECONDITION", reason: "AGENT_FAILED", message: "chart rejected", metadata: {} },
    });
    expect((await addons.getKubernetesClusterPlugin({ id })).plugin).toMatchObject({
      status: KubernetesClusterPluginStatus.ERROR,
      statusMessage: "chart rejected",
      version: "1.0.0",
    });
    // An uninstall cancelled before any agent took it leaves it as it was (undoQueued).
    const uninstall = await addons.uninstallKubernetesClusterPlugin({ id });
    expect((await t.operations().cancelOperation({ id: uninstall.operation!.id })).operation!.state).toBe(OperationState.CANCELLED);
    expect((await addons.getKubernetesClusterPlugin({ id })).plugin!.status).toBe(KubernetesClusterPluginStatus.ERROR);
  },

  async service_mesh_binding(t) {
    const cloud = await buildCloud(t, { name: "lm", hosts: 2 });
    const admin = createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(t.adminToken)] });
    const k8s = createClient(KubernetesService, admin);
    const addons = createClient(KubernetesAddonService, admin);
    // Another scenario, on the same server, may have added the version already.
    await k8s.createKubernetesVersion({ version: { version: "1.31.4" } }).catch(() => undefined);
    const node = { groupId: cloud.groupId, specificationId: cloud.specificationId, imageId: cloud.imageId };
    const built = await k8s.createKubernetesCluster({
      cluster: { name: "lm-one", tenantId: cloud.tenantId, version: "1.31.4", controlPlane: { count: 1, ...node } },
    });
    const [bootstrapJob] = await t.server.db
      .em()
      .execute<{ ids: string[] }[]>("select wait_for_operation_ids as ids from job where operation_id = ?", [built.operation!.id]);
    for (const id of bootstrapJob!.ids) await finishOperation(t, id);
    await finishOperation(t, built.operation!.id, { succeeded: true, facts: { endpoint: "https://10.9.9.7:6443" } });
    const mesh = (await addons.createServiceMesh({ mesh: { name: "lm-mesh", tenantId: cloud.tenantId, type: ServiceMeshType.ISTIO } }))
      .mesh!;
    const bound = await addons.bindClusterToServiceMesh({ meshId: mesh.id, clusterId: built.cluster!.id, role: ServiceMeshRole.PRIMARY });
    // Bound (markStarted, applySuccess).
    await finishOperation(t, bound.operation!.id);
    const id = bound.binding!.id;
    // An agent sees it failing (placeOf, acceptObserved).
    const agent = createClient(
      KubernetesAddonService,
      createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(await t.token(Role.AGENT, "lm-agent"))] }),
    );
    const seen = await agent.reportServiceMeshBindingStatus({
      id,
      status: ServiceMeshBindingStatus.ERROR,
      message: "east-west gateway down",
    });
    expect(seen.binding!.status).toBe(ServiceMeshBindingStatus.ERROR);
    // An unbind cancelled before any agent took it leaves it as it was (undoQueued).
    const queued = await addons.unbindClusterFromServiceMesh({ id });
    expect((await t.operations().cancelOperation({ id: queued.operation!.id })).operation!.state).toBe(OperationState.CANCELLED);
    // An unbind that fails leaves it ERROR (applyFailure).
    const unbind = await addons.unbindClusterFromServiceMesh({ id });
    await finishOperation(t, unbind.operation!.id, {
      succeeded: false,
      error: { code: "UNAVAILABLE", reason: "AGENT_FAILED", message: "control plane unreachable", metadata: {} },
    });
    const [binding] = (await addons.listServiceMeshBindings({ filter: `mesh_id = "${mesh.id}"` })).bindings;
    expect(binding).toMatchObject({ status: ServiceMeshBindingStatus.ERROR, statusMessage: "control plane unreachable" });
  },
};

describe("the operation engine's registered kinds", () => {
  it("each have a scenario", () => {
    expect(lifecycles.length).toBeGreaterThan(0);
    expect(lifecycles.map((lifecycle) => lifecycle.resourceType).filter((type) => !scenarios[type])).toEqual([]);
  });

  it.each(lifecycles.map((lifecycle) => [lifecycle.resourceType, lifecycle] as const))(
    "%s: every handler is called through the server",
    async (_type, lifecycle) => {
      const spies = handlers.map((name) => [name, vi.spyOn(lifecycle, name)] as const);
      try {
        await scenarios[lifecycle.resourceType]!(t);
        expect(spies.filter(([, spy]) => spy.mock.calls.length === 0).map(([name]) => name)).toEqual([]);
      } finally {
        for (const [, spy] of spies) spy.mockRestore();
      }
    },
  );
});
