// Two servers in one process keep their own settings: replicas of one database, one configured to
// read a cluster's health stale after 1 s, the other after 10 minutes, read the same 30-second-old
// report — stale on the first, fresh on the second, whichever started last. Settings reach the use
// cases as parameters, never through module state the second server's start would overwrite.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { KubernetesAddonService } from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import { KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { buildCloud } from "../support/compute.js";
import { freshDatabaseUrl } from "../support/database.js";
import { bearer, startTestServer, type TestServer } from "../support/server.js";

let patient: TestServer;
let strict: TestServer;
let agentToken = "";
let clusterId = "";

const k8s = (t: TestServer) =>
  createClient(KubernetesService, createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(t.adminToken)] }));
const addons = (t: TestServer) =>
  createClient(KubernetesAddonService, createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(agentToken)] }));

beforeAll(async () => {
  const databaseUrl = await freshDatabaseUrl();
  patient = await startTestServer(databaseUrl, { clusterHealthStaleMillis: 600_000 });
  strict = await startTestServer(databaseUrl, { clusterHealthStaleMillis: 1_000 });
  const cloud = await buildCloud(patient, { name: "ss", hosts: 1 });
  await k8s(patient).createKubernetesVersion({ version: { version: "1.31.4" } });
  agentToken = await patient.token(Role.AGENT, "ss-agent");
  const node = { groupId: cloud.groupId, specificationId: cloud.specificationId, imageId: cloud.imageId };
  const created = await k8s(patient).createKubernetesCluster({
    cluster: { name: "ss", tenantId: cloud.tenantId, version: "1.31.4", controlPlane: { count: 1, ...node } },
  });
  clusterId = created.cluster!.id;
}, 60_000);

afterAll(async () => {
  await strict?.close();
  await patient?.close();
});

describe("settings per server", () => {
  it("two servers in one process read the same cluster's health with their own staleness", async () => {
    const observeTime = timestampFromDate(new Date(Date.now() - 30_000));
    const stored = await addons(patient).reportKubernetesClusterHealth({ clusterId, health: { observeTime, readyNodeCount: 1 } });
    expect(stored.accepted).toBe(true);
    expect(stored.health!.stale).toBe(false);
    const again = await addons(strict).reportKubernetesClusterHealth({ clusterId, health: { observeTime, readyNodeCount: 1 } });
    expect(again.accepted).toBe(false);
    expect(again.health!.stale).toBe(true);

    expect((await k8s(patient).getKubernetesCluster({ id: clusterId })).cluster!.health!.stale).toBe(false);
    expect((await k8s(strict).getKubernetesCluster({ id: clusterId })).cluster!.health!.stale).toBe(true);
    const listed = async (t: TestServer) => (await k8s(t).listKubernetesClusters({ filter: `name = "ss"` })).clusters[0]!.health!.stale;
    expect(await listed(patient)).toBe(false);
    expect(await listed(strict)).toBe(true);
  });
});
