// Kubernetes clusters end to end (K8S-1..3, K8S-6, QUO-4) through the real server and the simulated
// agent: a 3 + 2×3 cluster reaches ACTIVE with its control plane on distinct hosts; Get shows every
// node with its pool, host and state; List filters and pages; a stranger gets NOT_FOUND; an issued
// kubeconfig's certificate verifies against the cluster's CA with the caller as subject; admins
// mark statuses; admission is all or none (checked in the database); a control plane that cannot
// have distinct hosts is refused naming the rule; delete releases everything.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { KubernetesClusterStatus, KubernetesCni, KubernetesNodeRole, KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { MaintainerRole, MaintainerService } from "../../gen/es/rackplane/v1/maintainer_pb.js";
import { OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { buildCloud, reservationDrift, type Cloud } from "../support/compute.js";
import { failure } from "../support/failure.js";
import { bearer, startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let agent: Agent;
let cloud: Cloud;
const dir = mkdtempSync(join(tmpdir(), "rackplane-k8s-"));

const k8s = (token = t.adminToken) =>
  createClient(KubernetesService, createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(token)] }));

beforeAll(async () => {
  t = await startTestServer();
  // Eight hosts of 16 vCPU; nodes of 2 vCPU.
  cloud = await buildCloud(t, { name: "kc", hosts: 8 });
  await k8s().createKubernetesVersion({ version: { version: "1.31.4" } });
  agent = createSimulatedAgent({
    servers: [t.url.replace("http://", "")],
    token: await t.token(Role.AGENT, "k8s-simulator"),
    agentId: "k8s-simulator",
    latencyMs: 20,
    concurrency: 16,
  });
  agent.start();
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A 3 + 2×3 cluster of the test cloud's tenant, or of `tenantId`. */
function clusterRequest(name: string, c: Cloud = cloud, tenantId = c.tenantId) {
  const node = { groupId: c.groupId, specificationId: c.specificationId, imageId: c.imageId };
  return {
    cluster: {
      name,
      tenantId,
      version: "1.31.4",
      controlPlane: { count: 3, ...node },
      nodePools: [
        { name: "web", nodeCount: 3, ...node, labels: { tier: "web" } },
        { name: "batch", nodeCount: 3, ...node },
      ],
      network: { cni: KubernetesCni.CALICO },
    },
  };
}

async function settled(operationId: string): Promise<OperationState> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { operation } = await t.operations().getOperation({ id: operationId });
    if (operation!.state !== OperationState.PENDING && operation!.state !== OperationState.RUNNING) return operation!.state;
    if (Date.now() > deadline) throw new Error(`operation ${operationId} still ${OperationState[operation!.state]}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a Kubernetes cluster", () => {
  let clusterId = "";

  it("is admitted, placed and reaches ACTIVE with its nodes built by their own jobs", async () => {
    const created = await k8s().createKubernetesCluster(clusterRequest("prod"));
    clusterId = created.cluster!.id;
    expect(created.cluster!.status).toBe(KubernetesClusterStatus.PROVISIONING);
    expect(created.operation!.resourceId).toBe(clusterId);
    expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);

    const view = await k8s().getKubernetesCluster({ id: clusterId });
    expect(view.cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    expect(view.cluster!.endpoint).toMatch(/^https:\/\/10\.\d+\.\d+\.\d+:6443$/);
    expect(view.cluster!.activeOperationId).toBe("");
    expect(view.tenant!.name).toBe("kc");
    expect(view.cluster!.nodePools.map((pool) => [pool.name, pool.nodeCount])).toEqual([
      ["web", 3],
      ["batch", 3],
    ]);
    expect(view.nodes).toHaveLength(9);
    expect(view.nodes.every((node) => node.state === VirtualMachineState.RUNNING && node.baremetal!.name.startsWith("kc-h"))).toBe(true);
    const controlPlane = view.nodes.filter((node) => node.role === KubernetesNodeRole.CONTROL_PLANE);
    expect(controlPlane.map((node) => node.name)).toEqual(["prod-cp-1", "prod-cp-2", "prod-cp-3"]);
    expect(new Set(controlPlane.map((node) => node.baremetal!.id)).size).toBe(3);
    const web = view.cluster!.nodePools.find((pool) => pool.name === "web")!;
    expect(view.nodes.filter((node) => node.nodePoolId === web.id).map((node) => node.name)).toEqual([
      "prod-web-1",
      "prod-web-2",
      "prod-web-3",
    ]);
    expect(view.nodes.every((node) => node.version === "1.31.4")).toBe(true);
    // A node VM shows its cluster and pool, and the cluster's VMs are a filter away.
    const worker = view.nodes.find((node) => node.name === "prod-web-2")!;
    const detail = await t.compute().getVirtualMachine({ id: worker.virtualMachineId });
    expect(detail.cluster).toMatchObject({ id: clusterId, name: "prod" });
    expect(detail.nodePool).toMatchObject({ id: web.id, name: "web" });
    expect(detail.virtualMachine!.clusterId).toBe(clusterId);
    expect((await t.compute().listVirtualMachines({ filter: `cluster_id = "${clusterId}"` })).virtualMachines).toHaveLength(9);
    // It goes with its cluster, never alone.
    const refused = await failure(t.compute().deleteVirtualMachine({ id: worker.virtualMachineId }));
    expect(refused).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "MANAGED_BY_CLUSTER",
      metadata: { cluster_id: clusterId, node_pool_id: web.id },
    });
    expect(refused.message).toContain("scale the pool down");

    // Each node VM records its cluster and pool; its scheduling record names them.
    const rows = await t.server.db
      .em()
      .execute<{ cluster_id: string; node_pool_id: string | null; reason: string; state: string }[]>(
        "select vm.cluster_id, vm.node_pool_id, r.reason, vm.state from virtual_machine vm join scheduling_record r on r.virtual_machine_id = vm.id where vm.cluster_id = ?",
        [clusterId],
      );
    expect(rows).toHaveLength(9);
    expect(rows.every((row) => row.reason.startsWith("cluster prod, "))).toBe(true);
    expect(rows.filter((row) => row.node_pool_id === web.id).every((row) => row.reason.includes("pool web"))).toBe(true);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("is listed with a filter, in pages, and only to its own tenant", async () => {
    const other = await k8s().createKubernetesCluster(clusterRequest("staging"));
    expect(await settled(other.operation!.id)).toBe(OperationState.SUCCEEDED);
    const first = await k8s().listKubernetesClusters({ pageSize: 1, filter: "status = KUBERNETES_CLUSTER_STATUS_ACTIVE AND cni = CALICO" });
    expect(first.clusters.map((c) => c.name)).toEqual(["prod"]);
    expect(first.clusters[0]!.nodePools).toHaveLength(2);
    const second = await k8s().listKubernetesClusters({
      pageSize: 1,
      pageToken: first.nextPageToken,
      filter: "status = KUBERNETES_CLUSTER_STATUS_ACTIVE AND cni = CALICO",
    });
    expect(second.clusters.map((c) => c.name)).toEqual(["staging"]);
    expect(second.nextPageToken).toBe("");
    expect((await k8s().listKubernetesClusters({ filter: 'version = "1.30.0"' })).clusters).toEqual([]);
    expect((await k8s().listKubernetesClusters({ filter: `tenant_id = "${cloud.tenantId}"` })).clusters).toHaveLength(2);

    const member = k8s(await t.token(Role.TENANT_MEMBER, "kc-member", cloud.tenantId));
    expect((await member.listKubernetesClusters({})).clusters).toHaveLength(2);
    const strangerTenant = await t.tenant("kc-stranger");
    const stranger = k8s(await t.token(Role.TENANT_ADMIN, "kc-stranger-admin", strangerTenant));
    expect((await stranger.listKubernetesClusters({})).clusters).toEqual([]);
    for (const call of [
      () => stranger.getKubernetesCluster({ id: clusterId }),
      () => stranger.issueKubeconfig({ clusterId }),
      () => stranger.deleteKubernetesCluster({ id: clusterId }),
    ]) {
      expect(await failure(call())).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
    }
    expect(await failure(k8s().deleteKubernetesCluster({ id: other.cluster!.id, etag: 'W/"999"' }))).toMatchObject({ code: Code.Aborted });
    expect(await settled((await k8s().deleteKubernetesCluster({ id: other.cluster!.id })).operation!.id)).toBe(OperationState.SUCCEEDED);
  });

  it("issues a kubeconfig whose certificate verifies against the cluster's CA, audited without the key", async () => {
    const member = k8s(await t.token(Role.TENANT_MEMBER, "kc-alice", cloud.tenantId));
    const issued = await member.issueKubeconfig({ clusterId, ttl: { seconds: 3600n } });
    const config = parse(issued.kubeconfig);
    expect(config.clusters[0].cluster.server).toBe((await k8s().getKubernetesCluster({ id: clusterId })).cluster!.endpoint);
    const ca = join(dir, "ca.pem");
    const cert = join(dir, "client.pem");
    writeFileSync(ca, Buffer.from(config.clusters[0].cluster["certificate-authority-data"], "base64"));
    writeFileSync(cert, Buffer.from(config.users[0].user["client-certificate-data"], "base64"));
    expect(execFileSync("openssl", ["verify", "-CAfile", ca, cert], { encoding: "utf8" })).toContain("OK");
    const subject = execFileSync("openssl", ["x509", "-in", cert, "-noout", "-subject", "-enddate", "-serial"], { encoding: "utf8" });
    expect(subject).toMatch(/CN\s*=\s*kc-alice/);
    expect(subject).toMatch(/O\s*=\s*rackplane:tenant-members/);
    expect(subject.toLowerCase()).toContain(`serial=${issued.serialNumber.toLowerCase()}`);
    const expires = Number(issued.expireTime!.seconds) * 1000;
    expect(Math.abs(expires - (Date.now() + 3600_000))).toBeLessThan(60_000);
    // The default is eight hours, and a day is the most.
    const byDefault = await member.issueKubeconfig({ clusterId });
    expect(Math.abs(Number(byDefault.expireTime!.seconds) * 1000 - (Date.now() + 8 * 3600_000))).toBeLessThan(60_000);
    expect(await failure(member.issueKubeconfig({ clusterId, ttl: { seconds: 90_000n } }))).toMatchObject({ code: Code.InvalidArgument });

    const events = await t.server.db
      .em()
      .execute<{ message: string; principal: string }[]>(
        "select message, principal from audit_event where method like '%IssueKubeconfig' and resource_id = ? and result = 'OK'",
        [clusterId],
      );
    expect(events.some((event) => event.principal === "kc-alice" && event.message.includes(issued.serialNumber))).toBe(true);
    expect(events.every((event) => !event.message.includes("PRIVATE KEY"))).toBe(true);
  });

  it("is marked by admins only, with a reason, and takes no kubeconfig for tenants while marked", async () => {
    const admin = k8s();
    expect(await failure(admin.setKubernetesClusterStatus({ id: clusterId, status: KubernetesClusterStatus.MAINTENANCE }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "STATUS_REASON_REQUIRED",
    });
    const tenantAdmin = k8s(await t.token(Role.TENANT_ADMIN, "kc-admin", cloud.tenantId));
    expect(
      await failure(tenantAdmin.setKubernetesClusterStatus({ id: clusterId, status: KubernetesClusterStatus.OFFLINE, reason: "x" })),
    ).toMatchObject({ code: Code.PermissionDenied });
    const marked = await admin.setKubernetesClusterStatus({
      id: clusterId,
      status: KubernetesClusterStatus.MAINTENANCE,
      reason: "kernel patch",
    });
    expect(marked.cluster!.status).toBe(KubernetesClusterStatus.MAINTENANCE);
    expect(marked.cluster!.statusReason).toBe("kernel patch");
    expect(await failure(tenantAdmin.issueKubeconfig({ clusterId }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "CLUSTER_NOT_READY",
    });
    const back = await admin.setKubernetesClusterStatus({ id: clusterId, status: KubernetesClusterStatus.ACTIVE });
    expect(back.cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
  });

  it("is deleted with every node VM, and every reservation is released", async () => {
    // While it lives, its tenant cannot be deleted (TEN-3); maintainers may be assigned to it.
    const refused = await failure(t.clients().tenants.deleteTenant({ id: cloud.tenantId }));
    expect(refused).toMatchObject({ code: Code.FailedPrecondition, reason: "TENANT_HAS_RESOURCES", metadata: { clusters: "1" } });
    const maintainers = createClient(MaintainerService, createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(t.adminToken)] }));
    const ann = (await maintainers.createMaintainer({ maintainer: { name: "kc-ann", account: "ann" } })).maintainer!;
    await maintainers.createResourceMaintainer({
      resourceMaintainer: {
        resource: { type: "k8s_cluster", id: clusterId },
        assignee: { case: "maintainerId", value: ann.id },
        role: MaintainerRole.OWNER,
      },
    });
    expect((await maintainers.listResourceMaintainers({ resource: { type: "k8s_cluster", id: clusterId } })).maintainers).toHaveLength(1);
    const deleted = await k8s().deleteKubernetesCluster({ id: clusterId });
    expect((await k8s().getKubernetesCluster({ id: clusterId })).cluster!.status).toBe(KubernetesClusterStatus.DELETING);
    expect(await settled(deleted.operation!.id)).toBe(OperationState.SUCCEEDED);
    const view = await k8s().getKubernetesCluster({ id: clusterId });
    expect(view.cluster!.status).toBe(KubernetesClusterStatus.DELETED);
    expect(view.nodes).toEqual([]);
    const em = t.server.db.em();
    const [left] = await em.execute<{ live: number; reserved: number }[]>(
      "select count(*) filter (where state <> 'DELETED')::int as live, count(*) filter (where reserved)::int as reserved from virtual_machine where cluster_id = ?",
      [clusterId],
    );
    expect(left).toEqual({ live: 0, reserved: 0 });
    const [usage] = await em.execute<{ cpu: number }[]>(
      "select coalesce(sum(cpu_cores_allocated), 0)::int as cpu from baremetal where group_id = ?",
      [cloud.groupId],
    );
    expect(usage!.cpu).toBe(0);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    expect(await failure(k8s().deleteKubernetesCluster({ id: clusterId }))).toMatchObject({ code: Code.NotFound });
    expect((await maintainers.listResourceMaintainers({ resource: { type: "k8s_cluster", id: clusterId } })).maintainers).toEqual([]);
  });
});

describe("admission of a cluster", () => {
  it("is all or none: one node over quota leaves no reservation", async () => {
    const c = await buildCloud(t, { name: "kq", hosts: 8, quotaCpu: 17n });
    await k8s()
      .createKubernetesVersion({ version: { version: "1.31.5" } })
      .catch(() => undefined);
    // Nine nodes of 2 vCPU ask 18 of a 17 vCPU quota.
    const refused = await failure(k8s().createKubernetesCluster(clusterRequest("over", c)));
    expect(refused).toMatchObject({ code: Code.ResourceExhausted, reason: "QUOTA_EXCEEDED" });
    expect(refused.metadata).toMatchObject({ limit: "17", asked: "18", used: "0" });
    const em = t.server.db.em();
    const [counts] = await em.execute<{ vms: number; clusters: number; jobs: number; used: number; allocated: number }[]>(
      `select (select count(*)::int from virtual_machine where tenant_id = ?) as vms,
              (select count(*)::int from kubernetes_cluster where tenant_id = ?) as clusters,
              (select count(*)::int from operation where tenant_id = ?) as jobs,
              (select cpu_used::int from baremetal_group_tenant_quota where tenant_id = ?) as used,
              (select coalesce(sum(cpu_cores_allocated), 0)::int from baremetal where group_id = ?) as allocated`,
      [c.tenantId, c.tenantId, c.tenantId, c.tenantId, c.groupId],
    );
    expect(counts).toEqual({ vms: 0, clusters: 0, jobs: 0, used: 0, allocated: 0 });
    // One node fewer fits.
    const request = clusterRequest("fits", c);
    request.cluster.nodePools[1]!.nodeCount = 2;
    const created = await k8s().createKubernetesCluster(request);
    expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);
    expect(await settled((await k8s().deleteKubernetesCluster({ id: created.cluster!.id })).operation!.id)).toBe(OperationState.SUCCEEDED);
  });

  it("puts the control plane on distinct hosts, and refuses naming the rule when there are too few", async () => {
    const c = await buildCloud(t, { name: "kd", hosts: 2 });
    const request = clusterRequest("tight", c);
    request.cluster.nodePools = [];
    const refused = await failure(k8s().createKubernetesCluster(request));
    expect(refused).toMatchObject({ code: Code.ResourceExhausted, reason: "INSUFFICIENT_CAPACITY" });
    expect(refused.metadata).toMatchObject({ rule: "CONTROL_PLANE_DISTINCT_HOSTS", needed: "3", available: "2" });
    const [vms] = await t.server.db
      .em()
      .execute<{ n: number }[]>("select count(*)::int as n from virtual_machine where tenant_id = ?", [c.tenantId]);
    expect(vms!.n).toBe(0);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("is refused, as is any change to its clusters, while the tenant is disabled (TEN-2)", async () => {
    const c = await buildCloud(t, { name: "kt", hosts: 4 });
    const request = clusterRequest("held", c);
    request.cluster.nodePools = [];
    const created = await k8s().createKubernetesCluster(request);
    expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);
    const { tenants } = t.clients();
    await tenants.disableTenant({ id: c.tenantId, reason: "unpaid" });
    const again = clusterRequest("more", c);
    again.cluster.nodePools = [];
    const tenantAdmin = k8s(await t.token(Role.TENANT_ADMIN, "kt-admin", c.tenantId));
    for (const call of [
      () => k8s().createKubernetesCluster(again),
      () => k8s().deleteKubernetesCluster({ id: created.cluster!.id }),
      () => tenantAdmin.issueKubeconfig({ clusterId: created.cluster!.id }),
    ]) {
      expect(await failure(call())).toMatchObject({ code: Code.FailedPrecondition, reason: "TENANT_DISABLED" });
    }
    await tenants.enableTenant({ id: c.tenantId });
    expect(await settled((await k8s().deleteKubernetesCluster({ id: created.cluster!.id })).operation!.id)).toBe(OperationState.SUCCEEDED);
  });

  it("refuses a version that is not in the catalogue, and a tenant principal acting for another tenant", async () => {
    const request = clusterRequest("nover");
    request.cluster.version = "1.29.0";
    expect(await failure(k8s().createKubernetesCluster(request))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "KUBERNETES_VERSION_UNKNOWN",
    });
    const otherTenant = await t.tenant("kc-other");
    const other = k8s(await t.token(Role.TENANT_ADMIN, "kc-other-admin", otherTenant));
    expect(await failure(other.createKubernetesCluster(clusterRequest("theirs")))).toMatchObject({ code: Code.PermissionDenied });
  });
});
