// Service meshes end to end (K8S-9) through the real server and the simulated agent: clusters bind
// PRIMARY and SECONDARY by agent jobs; a SECONDARY needs a PRIMARY; a cluster joins a mesh once; a
// CILIUM mesh takes Cilium clusters only; two concurrent removals of the last two primaries while
// a secondary remains: exactly one succeeds; a bound cluster is not deleted; another tenant sees
// nothing.
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import {
  KubernetesAddonService,
  ServiceMeshBindingStatus,
  ServiceMeshRole,
  ServiceMeshType,
} from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import { KubernetesCni, KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { failure } from "../support/failure.js";
import { bearer, startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let agent: Agent;
let cloud: Cloud;

const transport = (token: string) => createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(token)] });
const k8s = () => createClient(KubernetesService, transport(t.adminToken));
const addons = (token = t.adminToken) => createClient(KubernetesAddonService, transport(token));

beforeAll(async () => {
  t = await startTestServer();
  cloud = await buildCloud(t, { name: "sm", hosts: 6 });
  await k8s().createKubernetesVersion({ version: { version: "1.31.4" } });
  agent = createSimulatedAgent({
    servers: [t.url.replace("http://", "")],
    token: await t.token(Role.AGENT, "sm-simulator"),
    agentId: "sm-simulator",
    latencyMs: 10,
    concurrency: 16,
  });
  agent.start();
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await t?.close();
});

async function settled(operationId: string): Promise<OperationState> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { operation } = await t.operations().getOperation({ id: operationId });
    if (operation!.state !== OperationState.PENDING && operation!.state !== OperationState.RUNNING) return operation!.state;
    if (Date.now() > deadline) throw new Error(`operation ${operationId} still ${OperationState[operation!.state]}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function cluster(name: string, cni = KubernetesCni.CILIUM): Promise<string> {
  const node = { groupId: cloud.groupId, specificationId: cloud.specificationId, imageId: cloud.imageId };
  const created = await k8s().createKubernetesCluster({
    cluster: { name, tenantId: cloud.tenantId, version: "1.31.4", controlPlane: { count: 1, ...node }, network: { cni } },
  });
  expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);
  return created.cluster!.id;
}

async function bind(meshId: string, clusterId: string, role: ServiceMeshRole): Promise<string> {
  const bound = await addons().bindClusterToServiceMesh({ meshId, clusterId, role });
  expect(await settled(bound.operation!.id)).toBe(OperationState.SUCCEEDED);
  return bound.binding!.id;
}

describe("a service mesh", () => {
  let mesh = "";
  let p1 = "";
  let p2 = "";
  let s1 = "";
  let calico = "";

  beforeAll(async () => {
    [p1, p2, s1, calico] = await Promise.all([
      cluster("sm-p1"),
      cluster("sm-p2"),
      cluster("sm-s1"),
      cluster("sm-calico", KubernetesCni.CALICO),
    ]);
    mesh = (
      await addons().createServiceMesh({
        mesh: { name: "sm-mesh", tenantId: cloud.tenantId, type: ServiceMeshType.CILIUM, version: "1.16.1" },
      })
    ).mesh!.id;
  }, 120_000);

  it("takes a SECONDARY only once it has a PRIMARY, each cluster once, Cilium clusters only", async () => {
    expect(
      await failure(addons().bindClusterToServiceMesh({ meshId: mesh, clusterId: s1, role: ServiceMeshRole.SECONDARY })),
    ).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "MESH_PRIMARY_REQUIRED",
    });
    expect(
      await failure(addons().bindClusterToServiceMesh({ meshId: mesh, clusterId: calico, role: ServiceMeshRole.PRIMARY })),
    ).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "CNI_MISMATCH",
      metadata: { cni: "CALICO" },
    });
    await bind(mesh, p1, ServiceMeshRole.PRIMARY);
    await bind(mesh, p2, ServiceMeshRole.PRIMARY);
    const secondary = await bind(mesh, s1, ServiceMeshRole.SECONDARY);
    expect(await failure(addons().bindClusterToServiceMesh({ meshId: mesh, clusterId: s1, role: ServiceMeshRole.PRIMARY }))).toMatchObject({
      code: Code.AlreadyExists,
    });
    const bindings = (await addons().listServiceMeshBindings({ filter: `mesh_id = "${mesh}"` })).bindings;
    expect(bindings.map((b) => [b.clusterId, b.role, b.status])).toEqual([
      [p1, ServiceMeshRole.PRIMARY, ServiceMeshBindingStatus.BOUND],
      [p2, ServiceMeshRole.PRIMARY, ServiceMeshBindingStatus.BOUND],
      [s1, ServiceMeshRole.SECONDARY, ServiceMeshBindingStatus.BOUND],
    ]);
    expect(bindings[2]!.id).toBe(secondary);
  });

  it("two concurrent removals of the last two primaries while a secondary remains: exactly one succeeds", async () => {
    const bindings = (await addons().listServiceMeshBindings({ filter: `mesh_id = "${mesh}" AND role = SERVICE_MESH_ROLE_PRIMARY` }))
      .bindings;
    expect(bindings).toHaveLength(2);
    const outcomes = await Promise.allSettled(bindings.map((b) => addons().unbindClusterFromServiceMesh({ id: b.id })));
    const succeeded = outcomes.filter((outcome) => outcome.status === "fulfilled");
    const refused = outcomes.filter((outcome) => outcome.status === "rejected");
    expect(succeeded).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(await failure(Promise.reject((refused[0] as PromiseRejectedResult).reason))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "LAST_PRIMARY",
    });
    const operation = (succeeded[0] as PromiseFulfilledResult<{ operation?: { id: string } }>).value.operation!;
    expect(await settled(operation.id)).toBe(OperationState.SUCCEEDED);
    const left = (await addons().listServiceMeshBindings({ filter: `mesh_id = "${mesh}"` })).bindings;
    expect(left.filter((b) => b.role === ServiceMeshRole.PRIMARY)).toHaveLength(1);
    expect(left.filter((b) => b.role === ServiceMeshRole.SECONDARY)).toHaveLength(1);
  });

  it("a bound cluster is not deleted; a mesh with bindings is not deleted", async () => {
    expect(await failure(k8s().deleteKubernetesCluster({ id: s1 }))).toMatchObject({ code: Code.FailedPrecondition, reason: "MESH_BOUND" });
    expect(await failure(addons().deleteServiceMesh({ id: mesh }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "HAS_DEPENDENTS",
    });
  });

  it("is hidden from another tenant", async () => {
    const stranger = addons(await t.token(Role.TENANT_ADMIN, "sm-stranger", await t.tenant("sm-other")));
    expect(await failure(stranger.getServiceMesh({ id: mesh }))).toMatchObject({ code: Code.NotFound });
    expect(
      await failure(stranger.bindClusterToServiceMesh({ meshId: mesh, clusterId: calico, role: ServiceMeshRole.PRIMARY })),
    ).toMatchObject({
      code: Code.NotFound,
    });
    expect((await stranger.listServiceMeshBindings({})).bindings).toEqual([]);
    expect((await stranger.listServiceMeshes({})).meshes).toEqual([]);
  });

  it("unbinds the secondary, then the last primary, then goes", async () => {
    const [secondary] = (await addons().listServiceMeshBindings({ filter: `mesh_id = "${mesh}" AND role = SERVICE_MESH_ROLE_SECONDARY` }))
      .bindings;
    expect(await settled((await addons().unbindClusterFromServiceMesh({ id: secondary!.id })).operation!.id)).toBe(
      OperationState.SUCCEEDED,
    );
    const [primary] = (await addons().listServiceMeshBindings({ filter: `mesh_id = "${mesh}"` })).bindings;
    expect(await settled((await addons().unbindClusterFromServiceMesh({ id: primary!.id })).operation!.id)).toBe(OperationState.SUCCEEDED);
    await addons().deleteServiceMesh({ id: mesh });
    expect(await failure(addons().getServiceMesh({ id: mesh }))).toMatchObject({ code: Code.NotFound });
  });
});
