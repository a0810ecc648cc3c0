// Bastions end to end (K8S-10) through the real server and the simulated agent: a BASTION VM serves
// two clusters and a cluster has two bastions; the cluster's list shows each bastion's state and
// address, the VM's list the clusters it serves; only a BASTION VM of the cluster's tenant is
// accepted, each pair once; another tenant sees nothing; deleting the VM or the cluster removes its
// associations, named in the delete's audit record. GetKubernetesCluster lists a cluster's bastions,
// GetVirtualMachine the clusters a VM serves.
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VirtualMachineRole, VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { KubernetesAddonService } from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import { KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
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
  cloud = await buildCloud(t, { name: "kb", hosts: 4 });
  await k8s().createKubernetesVersion({ version: { version: "1.31.4" } });
  agent = createSimulatedAgent({
    servers: [t.url.replace("http://", "")],
    token: await t.token(Role.AGENT, "kb-simulator"),
    agentId: "kb-simulator",
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

async function cluster(name: string): Promise<string> {
  const node = { groupId: cloud.groupId, specificationId: cloud.specificationId, imageId: cloud.imageId };
  const created = await k8s().createKubernetesCluster({
    cluster: { name, tenantId: cloud.tenantId, version: "1.31.4", controlPlane: { count: 1, ...node } },
  });
  expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);
  return created.cluster!.id;
}

async function vm(role: VirtualMachineRole, tenantId = cloud.tenantId): Promise<string> {
  const created = await t.compute().createVirtualMachine({
    tenantId,
    target: { case: "groupId", value: cloud.groupId },
    specificationId: cloud.specificationId,
    imageId: cloud.imageId,
    role,
  });
  expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);
  return created.virtualMachine!.id;
}

const associate = (clusterId: string, virtualMachineId: string) =>
  addons().createBastionAssociation({ association: { clusterId, virtualMachineId } });

async function auditOf(method: string, resourceId: string): Promise<string> {
  const { auditEvents: events } = await t
    .clients()
    .audit.listAuditEvents({ filter: `method = "rackplane.v1.${method}" AND resource_id = "${resourceId}"` });
  return events.map((event) => event.message).join("\n");
}

describe("bastions", () => {
  let one = "";
  let two = "";
  let jump = "";
  let spare = "";

  beforeAll(async () => {
    [one, two, jump, spare] = await Promise.all([
      cluster("kb-one"),
      cluster("kb-two"),
      vm(VirtualMachineRole.BASTION),
      vm(VirtualMachineRole.BASTION),
    ]);
  }, 120_000);

  it("a VM serves several clusters and a cluster has several bastions, with their state and address", async () => {
    await associate(one, jump);
    await associate(two, jump);
    await associate(one, spare);
    const ofOne = (await addons().listBastionAssociations({ filter: `cluster_id = "${one}"` })).associations;
    expect(ofOne.map((a) => a.virtualMachineId).sort()).toEqual([jump, spare].sort());
    for (const a of ofOne) {
      expect(a.virtualMachineState).toBe(VirtualMachineState.RUNNING);
      expect(a.ipAddresses.length).toBeGreaterThan(0);
      expect(a.clusterName).toBe("kb-one");
    }
    const ofJump = (await addons().listBastionAssociations({ filter: `virtual_machine_id = "${jump}"` })).associations;
    expect(ofJump.map((a) => a.clusterName).sort()).toEqual(["kb-one", "kb-two"]);

    // The views: the cluster's lists its bastions (by VM name) with state and address, the VM's the
    // clusters it serves (by cluster name); a VM serving none lists none.
    const view = await k8s().getKubernetesCluster({ id: one });
    const names = new Map(
      await Promise.all([jump, spare].map(async (id) => [id, (await t.compute().getVirtualMachine({ id })).virtualMachine!.name] as const)),
    );
    expect(view.bastions.map((b) => b.virtualMachineId)).toEqual([jump, spare].sort((a, b) => (names.get(a)! < names.get(b)! ? -1 : 1)));
    for (const bastion of view.bastions) {
      expect(bastion).toMatchObject({ clusterId: one, clusterName: "kb-one", virtualMachineState: VirtualMachineState.RUNNING });
      expect(bastion.virtualMachineName).toBe(names.get(bastion.virtualMachineId));
      expect(bastion.ipAddresses.length).toBeGreaterThan(0);
    }
    expect((await k8s().getKubernetesCluster({ id: two })).bastions.map((b) => b.virtualMachineId)).toEqual([jump]);
    const served = (await t.compute().getVirtualMachine({ id: jump })).servedClusters;
    expect(served.map((c) => [c.id, c.name])).toEqual([
      [one, "kb-one"],
      [two, "kb-two"],
    ]);
    expect((await t.compute().getVirtualMachine({ id: spare })).servedClusters.map((c) => c.name)).toEqual(["kb-one"]);
  });

  it("takes only a BASTION VM of the cluster's tenant, each pair once", async () => {
    expect(await failure(associate(one, jump))).toMatchObject({ code: Code.AlreadyExists });
    const worker = await vm(VirtualMachineRole.UNSPECIFIED);
    expect(await failure(associate(one, worker))).toMatchObject({ code: Code.FailedPrecondition, reason: "NOT_A_BASTION" });
    const otherTenant = await t.tenant("kb-other");
    await t.clients().tenants.createBaremetalGroupTenantQuota({
      quota: {
        tenantId: otherTenant,
        groupId: cloud.groupId,
        cpu: { kind: { case: "percent", value: 10 } },
        memoryMib: { kind: { case: "percent", value: 10 } },
        storageGib: { kind: { case: "percent", value: 10 } },
      },
    });
    const foreign = await vm(VirtualMachineRole.BASTION, otherTenant);
    expect(await failure(associate(one, foreign))).toMatchObject({ code: Code.FailedPrecondition, reason: "TENANT_MISMATCH" });
    const stranger = addons(await t.token(Role.TENANT_ADMIN, "kb-stranger", otherTenant));
    expect(await failure(stranger.createBastionAssociation({ association: { clusterId: one, virtualMachineId: foreign } }))).toMatchObject({
      code: Code.NotFound,
    });
    expect((await stranger.listBastionAssociations({})).associations).toEqual([]);
    const [any] = (await addons().listBastionAssociations({})).associations;
    expect(await failure(stranger.getBastionAssociation({ id: any!.id }))).toMatchObject({ code: Code.NotFound });
    expect(await failure(stranger.deleteBastionAssociation({ id: any!.id }))).toMatchObject({ code: Code.NotFound });
  });

  it("a removed association is gone; a stale etag is refused", async () => {
    const [pair] = (await addons().listBastionAssociations({ filter: `cluster_id = "${one}" AND virtual_machine_id = "${spare}"` }))
      .associations;
    expect(await failure(addons().deleteBastionAssociation({ id: pair!.id, etag: "99" }))).toMatchObject({ code: Code.Aborted });
    await addons().deleteBastionAssociation({ id: pair!.id, etag: pair!.etag });
    expect(await failure(addons().getBastionAssociation({ id: pair!.id }))).toMatchObject({ code: Code.NotFound });
    await associate(two, spare);
  });

  it("deleting the VM removes its associations, audited", async () => {
    const before = (await addons().listBastionAssociations({ filter: `virtual_machine_id = "${jump}"` })).associations;
    expect(before).toHaveLength(2);
    const deleted = await t.compute().deleteVirtualMachine({ id: jump });
    expect((await addons().listBastionAssociations({ filter: `virtual_machine_id = "${jump}"` })).associations).toEqual([]);
    expect(await settled(deleted.operation!.id)).toBe(OperationState.SUCCEEDED);
    const audited = await auditOf("ComputeService/DeleteVirtualMachine", jump);
    for (const association of before) expect(audited).toContain(association.id);
    expect((await k8s().getKubernetesCluster({ id: one })).bastions).toEqual([]);
  });

  it("deleting the cluster removes its associations, audited", async () => {
    const before = (await addons().listBastionAssociations({ filter: `cluster_id = "${two}"` })).associations;
    expect(before.map((a) => a.virtualMachineId)).toEqual([spare]);
    const deleted = await k8s().deleteKubernetesCluster({ id: two });
    expect((await addons().listBastionAssociations({ filter: `cluster_id = "${two}"` })).associations).toEqual([]);
    expect(await settled(deleted.operation!.id)).toBe(OperationState.SUCCEEDED);
    expect(await auditOf("KubernetesService/DeleteKubernetesCluster", two)).toContain(before[0]!.id);
  });
});
