// Plugins on clusters end to end (K8S-8) through the real server and the simulated agent: plugins
// named at creation installed once the cluster is ACTIVE, by jobs that wait for its bootstrap; a
// version that does not support the cluster's release refused with both versions named (at
// creation nothing is left behind), a withdrawn one refused; upgrade and uninstall, one operation
// at a time, a cluster delete refused while one runs; an agent's status reports; the check a
// cluster upgrade calls; another tenant sees nothing; the records go with the cluster.
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import {
  KubernetesAddonService,
  KubernetesClusterPluginStatus,
  KubernetesPluginVersionStatus,
} from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import { KubernetesClusterStatus, KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { requirePluginsSupport } from "../../src/app/kubernetes/addons/cluster-plugins.js";
import { buildCloud, reservationDrift, type Cloud } from "../support/compute.js";
import { failure } from "../support/failure.js";
import { bearer, startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let agent: Agent;
let cloud: Cloud;

const transport = (token: string) => createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(token)] });
const k8s = (token = t.adminToken) => createClient(KubernetesService, transport(token));
const addons = (token = t.adminToken) => createClient(KubernetesAddonService, transport(token));

beforeAll(async () => {
  t = await startTestServer();
  cloud = await buildCloud(t, { name: "kp", hosts: 4 });
  await k8s().createKubernetesVersion({ version: { version: "1.31.4" } });
  await addons().createKubernetesPlugin({
    plugin: {
      name: "metrics-server",
      versions: [
        { version: "0.5.0", kubernetesVersions: ["1.29", "1.30"] },
        { version: "0.6.0", status: KubernetesPluginVersionStatus.WITHDRAWN, kubernetesVersions: ["1.31"] },
        { version: "0.7.1", kubernetesVersions: ["1.31"] },
        { version: "0.8.0", kubernetesVersions: ["1.31", "1.32.0"] },
      ],
    },
  });
  await addons().createKubernetesPlugin({
    plugin: { name: "cert-manager", versions: [{ version: "v1.15.3", kubernetesVersions: ["1.31"] }] },
  });
  await startAgent();
}, 120_000);

async function startAgent(): Promise<void> {
  agent = createSimulatedAgent({
    servers: [t.url.replace("http://", "")],
    token: await t.token(Role.AGENT, "kp-simulator"),
    agentId: "kp-simulator",
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
const clusterRequest = (name: string, plugins: { plugin: string; version: string }[]) => ({
  cluster: {
    name,
    tenantId: cloud.tenantId,
    version: "1.31.4",
    controlPlane: { count: 1, ...node() },
    nodePools: [{ name: "w", nodeCount: 1, ...node() }],
  },
  plugins,
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

describe("plugins on a cluster", () => {
  let clusterId = "";
  let metricsId = "";

  it("named at creation, are installed once the cluster is ACTIVE, as steps after its bootstrap", async () => {
    const created = await k8s().createKubernetesCluster(
      clusterRequest("kp-one", [
        { plugin: "metrics-server", version: "0.7.1" },
        { plugin: "cert-manager", version: "v1.15.3" },
      ]),
    );
    clusterId = created.cluster!.id;
    const listed = await addons().listKubernetesClusterPlugins({ filter: `cluster_id = "${clusterId}"` });
    expect(listed.plugins.map((p) => [p.plugin, p.version, p.status])).toEqual([
      ["metrics-server", "0.7.1", KubernetesClusterPluginStatus.INSTALLING],
      ["cert-manager", "v1.15.3", KubernetesClusterPluginStatus.INSTALLING],
    ]);
    // Each install job waits for the bootstrap.
    const waits = await t.server.db
      .em()
      .execute<{ ids: string[] }[]>(
        "select wait_for_operation_ids as ids from job where kind = 'INSTALL_KUBERNETES_PLUGIN' and payload->>'clusterId' = ?",
        [clusterId],
      );
    expect(waits.map((row) => row.ids)).toEqual([[created.operation!.id], [created.operation!.id]]);
    expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);
    for (const plugin of listed.plugins) expect(await settled(plugin.activeOperationId)).toBe(OperationState.SUCCEEDED);
    const after = await addons().listKubernetesClusterPlugins({ filter: `cluster_id = "${clusterId}"` });
    expect(after.plugins.map((p) => [p.plugin, p.status, p.activeOperationId])).toEqual([
      ["metrics-server", KubernetesClusterPluginStatus.ACTIVE, ""],
      ["cert-manager", KubernetesClusterPluginStatus.ACTIVE, ""],
    ]);
    metricsId = after.plugins[0]!.id;
    const view = await k8s().getKubernetesCluster({ id: clusterId });
    expect(view.cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    // The cluster's view lists its plugins by name, as the plugins' own reads show them.
    expect(view.plugins.map((p) => [p.plugin, p.version, p.status, p.statusMessage])).toEqual([
      ["cert-manager", "v1.15.3", KubernetesClusterPluginStatus.ACTIVE, ""],
      ["metrics-server", "0.7.1", KubernetesClusterPluginStatus.ACTIVE, ""],
    ]);
    expect(view.plugins[1]).toEqual((await addons().getKubernetesClusterPlugin({ id: metricsId })).plugin);
  });

  it("an incompatible version at creation refuses the whole cluster, naming both versions, and leaves nothing", async () => {
    const refused = await failure(
      k8s().createKubernetesCluster(clusterRequest("kp-two", [{ plugin: "metrics-server", version: "0.5.0" }])),
    );
    expect(refused).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "PLUGIN_VERSION_INCOMPATIBLE",
      metadata: { plugin: "metrics-server", plugin_version: "0.5.0", kubernetes_version: "1.31.4" },
    });
    expect(refused.message).toContain("0.5.0");
    expect(refused.message).toContain("1.31.4");
    const [rows] = await t.server.db
      .em()
      .execute<{ n: number }[]>("select count(*)::int as n from kubernetes_cluster where name = 'kp-two'");
    expect(rows!.n).toBe(0);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    const unknown = await failure(k8s().createKubernetesCluster(clusterRequest("kp-two", [{ plugin: "nope", version: "1" }])));
    expect(unknown).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
  });

  it("refuses a withdrawn, an incompatible or an unknown version, and a second install", async () => {
    const plugin = (await addons().getKubernetesClusterPlugin({ id: metricsId })).plugin!;
    expect(await failure(addons().upgradeKubernetesClusterPlugin({ id: metricsId, version: "0.6.0" }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "PLUGIN_VERSION_WITHDRAWN",
    });
    expect(await failure(addons().upgradeKubernetesClusterPlugin({ id: metricsId, version: "0.5.0" }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "PLUGIN_VERSION_INCOMPATIBLE",
      metadata: { plugin_version: "0.5.0", kubernetes_version: "1.31.4" },
    });
    expect(await failure(addons().upgradeKubernetesClusterPlugin({ id: metricsId, version: "9.9.9" }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "PLUGIN_VERSION_UNKNOWN",
      fields: ["version"],
    });
    expect(
      await failure(addons().installKubernetesClusterPlugin({ clusterId, plugin: { plugin: "metrics-server", version: "0.8.0" } })),
    ).toMatchObject({ code: Code.FailedPrecondition, reason: "PLUGIN_ALREADY_INSTALLED" });
    expect(await failure(addons().upgradeKubernetesClusterPlugin({ id: metricsId, version: "0.8.0", etag: "999" }))).toMatchObject({
      code: Code.Aborted,
      reason: "ETAG_MISMATCH",
    });
    expect((await addons().getKubernetesClusterPlugin({ id: metricsId })).plugin!.etag).toBe(plugin.etag);
  });

  it("blocks a cluster upgrade to a release an installed plugin does not support, naming both versions", async () => {
    const em = t.server.db.em();
    const cluster = { id: clusterId, kubernetesVersion: "1.31.4" };
    const blocked = await em.transactional((tx) => requirePluginsSupport(tx, cluster, "1.32.0")).catch((error: unknown) => error);
    expect(blocked).toMatchObject({
      reason: "PLUGIN_BLOCKS_UPGRADE",
      metadata: { plugin: "metrics-server", plugin_version: "0.7.1", kubernetes_version: "1.31.4", target_kubernetes_version: "1.32.0" },
    });
  });

  it("UpgradeKubernetesCluster is refused while a plugin does not support the target", async () => {
    await k8s().createKubernetesVersion({ version: { version: "1.32.0" } });
    expect(await failure(k8s().upgradeKubernetesCluster({ id: clusterId, version: "1.32.0" }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "PLUGIN_BLOCKS_UPGRADE",
      metadata: { kubernetes_version: "1.31.4", target_kubernetes_version: "1.32.0" },
    });
    expect((await k8s().getKubernetesCluster({ id: clusterId })).cluster!.status).toBe(KubernetesClusterStatus.ACTIVE);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });

  it("upgrades, then allows the cluster upgrade the old version blocked", async () => {
    const upgraded = await addons().upgradeKubernetesClusterPlugin({ id: metricsId, version: "0.8.0" });
    expect(upgraded.plugin).toMatchObject({ status: KubernetesClusterPluginStatus.UPGRADING, version: "0.7.1", targetVersion: "0.8.0" });
    expect(await settled(upgraded.operation!.id)).toBe(OperationState.SUCCEEDED);
    expect((await addons().getKubernetesClusterPlugin({ id: metricsId })).plugin).toMatchObject({
      status: KubernetesClusterPluginStatus.ACTIVE,
      version: "0.8.0",
      targetVersion: "",
    });
    // cert-manager v1.15.3 supports 1.31 alone: still blocked, by it now; a patch release is not.
    const blocked = await t.server.db
      .em()
      .transactional((tx) => requirePluginsSupport(tx, { id: clusterId, kubernetesVersion: "1.31.4" }, "1.32.0"))
      .catch((error: unknown) => error);
    expect(blocked).toMatchObject({ reason: "PLUGIN_BLOCKS_UPGRADE", metadata: { plugin: "cert-manager" } });
    await t.server.db.em().transactional((tx) => requirePluginsSupport(tx, { id: clusterId, kubernetesVersion: "1.31.4" }, "1.31.5"));
  });

  it("takes agents' status reports outside jobs", async () => {
    const reporter = addons(await t.token(Role.AGENT, "kp-reporter"));
    const inactive = await reporter.reportKubernetesClusterPluginStatus({
      id: metricsId,
      status: KubernetesClusterPluginStatus.INACTIVE,
      message: "deployment scaled to 0",
    });
    expect(inactive.plugin).toMatchObject({ status: KubernetesClusterPluginStatus.INACTIVE, statusMessage: "deployment scaled to 0" });
    const inView = (await k8s().getKubernetesCluster({ id: clusterId })).plugins.find((p) => p.id === metricsId);
    expect(inView).toMatchObject({ status: KubernetesClusterPluginStatus.INACTIVE, statusMessage: "deployment scaled to 0" });
    expect(
      await failure(reporter.reportKubernetesClusterPluginStatus({ id: metricsId, status: KubernetesClusterPluginStatus.ERROR })),
    ).toMatchObject({ code: Code.InvalidArgument, reason: "STATUS_MESSAGE_REQUIRED" });
    const back = await reporter.reportKubernetesClusterPluginStatus({ id: metricsId, status: KubernetesClusterPluginStatus.ACTIVE });
    expect(back.plugin).toMatchObject({ status: KubernetesClusterPluginStatus.ACTIVE, statusMessage: "" });
    expect(
      await failure(addons().reportKubernetesClusterPluginStatus({ id: metricsId, status: KubernetesClusterPluginStatus.ACTIVE })),
    ).toMatchObject({ code: Code.PermissionDenied });
  });

  it("is hidden from another tenant", async () => {
    const stranger = addons(await t.token(Role.TENANT_ADMIN, "kp-stranger", await t.tenant("kp-other")));
    expect(await failure(stranger.getKubernetesClusterPlugin({ id: metricsId }))).toMatchObject({ code: Code.NotFound });
    expect(await failure(stranger.uninstallKubernetesClusterPlugin({ id: metricsId }))).toMatchObject({ code: Code.NotFound });
    expect((await stranger.listKubernetesClusterPlugins({})).plugins).toEqual([]);
    const own = addons(await t.token(Role.TENANT_MEMBER, "kp-member", cloud.tenantId));
    expect((await own.listKubernetesClusterPlugins({})).plugins).toHaveLength(2);
  });

  it("takes one operation at a time; a cluster delete waits for none and is refused meanwhile", async () => {
    await agent.stop();
    const uninstall = await addons().uninstallKubernetesClusterPlugin({ id: metricsId });
    expect((await addons().getKubernetesClusterPlugin({ id: metricsId })).plugin!.status).toBe(KubernetesClusterPluginStatus.UNINSTALLING);
    expect(await failure(addons().upgradeKubernetesClusterPlugin({ id: metricsId, version: "0.7.1" }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "OPERATION_IN_PROGRESS",
      metadata: { operation_id: uninstall.operation!.id },
    });
    expect(await failure(k8s().deleteKubernetesCluster({ id: clusterId }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "OPERATION_IN_PROGRESS",
      metadata: { operation_id: uninstall.operation!.id },
    });
    await startAgent();
    expect(await settled(uninstall.operation!.id)).toBe(OperationState.SUCCEEDED);
    expect(await failure(addons().getKubernetesClusterPlugin({ id: metricsId }))).toMatchObject({ code: Code.NotFound });
  });

  it("keeps a catalogue plugin while installed; the records go with the cluster", async () => {
    const certManager = (await addons().listKubernetesPlugins({ filter: 'name = "cert-manager"' })).plugins[0]!;
    expect(await failure(addons().deleteKubernetesPlugin({ id: certManager.id }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "HAS_DEPENDENTS",
    });
    const deleted = await k8s().deleteKubernetesCluster({ id: clusterId });
    expect(await settled(deleted.operation!.id)).toBe(OperationState.SUCCEEDED);
    expect((await addons().listKubernetesClusterPlugins({ filter: `cluster_id = "${clusterId}"` })).plugins).toEqual([]);
    await addons().deleteKubernetesPlugin({ id: certManager.id });
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });
});

describe("plugins in a template", () => {
  it("are checked when the template is saved and at each creation, installed with the request's overriding them by name", async () => {
    const { plugin: ingress } = await addons().createKubernetesPlugin({
      plugin: { name: "ingress-nginx", versions: [{ version: "4.11.0", kubernetesVersions: ["1.31"] }] },
    });
    const shape = { version: "1.31.4", controlPlane: { count: 1, ...node() }, nodePools: [{ name: "w", nodeCount: 1, ...node() }] };
    let saves = 0;
    const save = (plugins: { plugin: string; version: string }[], version = shape.version) =>
      k8s().createKubernetesClusterTemplate({ template: { name: `kp-tpl-${++saves}`, ...shape, version, plugins } });
    // At save: against the template's version, which it must therefore name.
    expect(await failure(save([{ plugin: "metrics-server", version: "0.5.0" }]))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "PLUGIN_VERSION_INCOMPATIBLE",
      metadata: { plugin: "metrics-server", plugin_version: "0.5.0", kubernetes_version: "1.31.4" },
    });
    expect(await failure(save([{ plugin: "metrics-server", version: "9.9.9" }]))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "PLUGIN_VERSION_UNKNOWN",
    });
    expect(await failure(save([{ plugin: "nope", version: "1" }]))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "REFERENCE_NOT_FOUND",
    });
    expect(await failure(save([{ plugin: "metrics-server", version: "0.7.1" }], ""))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "TEMPLATE_PLUGINS_NEED_VERSION",
    });
    const { template: saved } = await save([
      { plugin: "metrics-server", version: "0.7.1" },
      { plugin: "ingress-nginx", version: "4.11.0" },
    ]);
    expect(saved!.plugins.map((p) => [p.plugin, p.version])).toEqual([
      ["metrics-server", "0.7.1"],
      ["ingress-nginx", "4.11.0"],
    ]);
    // An update is checked too, and makes a new revision.
    expect(
      await failure(
        k8s().updateKubernetesClusterTemplate({
          template: { id: saved!.id, plugins: [{ plugin: "metrics-server", version: "0.6.0" }] },
          updateMask: { paths: ["plugins"] },
        }),
      ),
    ).toMatchObject({ code: Code.FailedPrecondition, reason: "PLUGIN_VERSION_WITHDRAWN" });
    const { template: updated } = await k8s().updateKubernetesClusterTemplate({
      template: {
        id: saved!.id,
        plugins: [
          { plugin: "metrics-server", version: "0.8.0" },
          { plugin: "ingress-nginx", version: "4.11.0" },
        ],
      },
      updateMask: { paths: ["plugins"] },
    });
    expect(updated).toMatchObject({ revision: 2 });
    expect((await k8s().getKubernetesClusterTemplate({ id: saved!.id })).template!.plugins.map((p) => p.version)).toEqual([
      "0.8.0",
      "4.11.0",
    ]);

    // At creation: the template's plugins, the request's version winning for metrics-server.
    const created = await k8s().createKubernetesCluster({
      cluster: { name: "kp-from-tpl", tenantId: cloud.tenantId },
      templateId: saved!.id,
      plugins: [{ plugin: "metrics-server", version: "0.7.1" }],
    });
    expect(created.cluster).toMatchObject({ templateId: saved!.id, templateRevision: 2 });
    expect(await settled(created.operation!.id)).toBe(OperationState.SUCCEEDED);
    const view = await k8s().getKubernetesCluster({ id: created.cluster!.id });
    expect(view.plugins.map((p) => [p.plugin, p.version])).toEqual([
      ["ingress-nginx", "4.11.0"],
      ["metrics-server", "0.7.1"],
    ]);
    for (const plugin of view.plugins)
      expect(await settled(plugin.activeOperationId || created.operation!.id)).toBe(OperationState.SUCCEEDED);

    // And checked again at creation: a template plugin withdrawn since refuses the cluster whole.
    await addons().updateKubernetesPlugin({
      plugin: {
        id: ingress!.id,
        versions: [{ version: "4.11.0", status: KubernetesPluginVersionStatus.WITHDRAWN, kubernetesVersions: ["1.31"] }],
      },
      updateMask: { paths: ["versions"] },
    });
    expect(
      await failure(k8s().createKubernetesCluster({ cluster: { name: "kp-from-tpl-2", tenantId: cloud.tenantId }, templateId: saved!.id })),
    ).toMatchObject({ code: Code.FailedPrecondition, reason: "PLUGIN_VERSION_WITHDRAWN" });
    const [rows] = await t.server.db
      .em()
      .execute<{ n: number }[]>("select count(*)::int as n from kubernetes_cluster where name = 'kp-from-tpl-2'");
    expect(rows!.n).toBe(0);
    expect(await settled((await k8s().deleteKubernetesCluster({ id: created.cluster!.id })).operation!.id)).toBe(OperationState.SUCCEEDED);
    expect(await reservationDrift(t)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  });
});
