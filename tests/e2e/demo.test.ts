// `npm start -- --demo` loads a realistic cloud once (loading it again duplicates nothing), with a
// small Kubernetes cluster its simulated agent makes ACTIVE.
import { afterAll, beforeAll, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import { KubernetesClusterStatus, KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { demoAgentToken, loadDemo, loadDemoCluster } from "../../src/demo.js";
import { bearer, startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

async function counts() {
  const [row] = await t.server.db.em().execute<Record<string, number>[]>(
    `select (select count(*)::int from region) as regions, (select count(*)::int from datacenter) as datacenters,
            (select count(*)::int from room) as rooms, (select count(*)::int from rack) as racks,
            (select count(*)::int from rack where asn is not null) as racks_with_asn,
            (select count(*)::int from baremetal) as hosts, (select count(*)::int from baremetal_group) as groups,
            (select count(*)::int from tenant) as tenants, (select count(*)::int from maintainer) as maintainers,
            (select count(*)::int from maintainer_group) as maintainer_groups, (select count(*)::int from resource_maintainer) as assignments,
            (select count(*)::int from baremetal_group_tenant_quota) as quotas`,
  );
  return row;
}

it("loads the demo cloud, and loading it again changes nothing", async () => {
  expect(await loadDemo(t.server.db)).toBe(true);
  const first = await counts();
  expect(first).toMatchObject({
    regions: 2,
    datacenters: 3,
    rooms: 6,
    racks: 60,
    racks_with_asn: 60,
    hosts: 1200,
    groups: 8,
    tenants: 10,
    maintainers: 20,
    maintainer_groups: 5,
  });
  expect(first!.assignments).toBeGreaterThan(100);
  expect(await loadDemo(t.server.db)).toBe(false);
  expect(await counts()).toEqual(first);
  // The demo is usable at once: a tenant can place a VM through its quota.
  const { tenants } = await t.clients().tenants.listTenants({ filter: 'name = "payments"' });
  const { quotas } = await t.clients().tenants.listBaremetalGroupTenantQuotas({ filter: `tenant_id = "${tenants[0]!.id}"` });
  const { specifications } = await t.compute().listVirtualMachineSpecifications({ filter: 'name = "s1.small"' });
  const { images } = await t.compute().listImages({ filter: 'name = "ubuntu-24.04"' });
  const { virtualMachine } = await t.compute().createVirtualMachine({
    tenantId: tenants[0]!.id,
    target: { case: "groupId", value: quotas[0]!.groupId },
    specificationId: specifications[0]!.id,
    imageId: images[0]!.id,
  });
  expect(virtualMachine?.name).toBe("payments-vm-001");
}, 120_000);

it("loads a small cluster that the demo's simulated agent makes ACTIVE", async () => {
  await loadDemoCluster(t.server.db, t.server.secrets);
  const agent = createSimulatedAgent({
    servers: [t.url.replace("http://", "")],
    token: await demoAgentToken(t.server.db),
    agentId: "demo-simulator",
    latencyMs: 20,
    concurrency: 8,
  });
  agent.start();
  try {
    const k8s = createClient(KubernetesService, createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(t.adminToken)] }));
    const [summary] = (await k8s.listKubernetesClusters({ filter: 'name = "storefront"' })).clusters;
    expect(summary).toMatchObject({ version: "1.31.4" });
    await expect
      .poll(async () => (await k8s.getKubernetesCluster({ id: summary!.id })).cluster!.status, { timeout: 30_000 })
      .toBe(KubernetesClusterStatus.ACTIVE);
    const view = await k8s.getKubernetesCluster({ id: summary!.id });
    expect(view.nodes.map((node) => [node.name, node.state])).toEqual([
      ["storefront-cp-1", VirtualMachineState.RUNNING],
      ["storefront-workers-1", VirtualMachineState.RUNNING],
      ["storefront-workers-2", VirtualMachineState.RUNNING],
    ]);
  } finally {
    await agent.stop();
  }
}, 120_000);
