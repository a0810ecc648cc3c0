// rackctl on Kubernetes clusters, end to end as in rackctl.test.ts: the real bin in its own process
// against a real server holding the demo cloud and its cluster "storefront" (built by a simulated
// agent). `describe cluster` prints the agent's latest health report (none yet, stale, fresh), and
// `get scalingevents` lists the autoscaler's decision that a fresh report with unschedulable pods
// caused, as a table (golden, times and ids masked), JSON and YAML.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubernetesAddonService } from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import { KubernetesClusterStatus, KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { demoAgentToken, loadDemo, loadDemoCluster } from "../../src/demo.js";
import { bearer, startTestServer, type TestServer } from "../support/server.js";
import { golden, rackctlIn } from "../support/rackctl.js";

const dir = mkdtempSync(join(tmpdir(), "rackctl-k8s-"));
let t: TestServer;
let agent: Agent;
let agentToken: string;

const rackctl = rackctlIn(dir);

/** Times and ids vary from run to run: golden files hold placeholders. */
const masked = (text: string) =>
  text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>")
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<id>");

/** The block of describe's output from `Health:` to the next blank line. */
const healthBlock = (text: string) => text.slice(text.indexOf("\nHealth:\n") + 1, text.indexOf("\n\nNodes:\n") + 1);

const k8s = () => createClient(KubernetesService, createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(t.adminToken)] }));
const addons = () => createClient(KubernetesAddonService, createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(agentToken)] }));

beforeAll(async () => {
  t = await startTestServer();
  await loadDemo(t.server.db);
  await loadDemoCluster(t.server.db, t.server.secrets);
  agentToken = await demoAgentToken(t.server.db);
  agent = createSimulatedAgent({
    servers: [t.url.replace("http://", "")],
    token: agentToken,
    agentId: "cli-k8s-simulator",
    latencyMs: 20,
    concurrency: 8,
  });
  agent.start();
  writeFileSync(join(dir, "admin.token"), t.adminToken);
  const login = await rackctl(["login", "--server", t.url, "--token-file", join(dir, "admin.token")]);
  expect(login.code).toBe(0);
}, 120_000);
afterAll(async () => {
  await agent?.stop({ graceMs: 100 });
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("rackctl on Kubernetes clusters", () => {
  it("describes a cluster's health (none, stale, fresh) and lists the scaling event it caused", async () => {
    const [summary] = (await k8s().listKubernetesClusters({ filter: 'name = "storefront"' })).clusters;
    const clusterId = summary!.id;
    await expect
      .poll(async () => (await k8s().getKubernetesCluster({ id: clusterId })).cluster!.status, { timeout: 60_000 })
      .toBe(KubernetesClusterStatus.ACTIVE);
    await expect.poll(async () => (await k8s().getKubernetesCluster({ id: clusterId })).cluster!.activeOperationId).toBe("");

    // No report yet.
    golden("clusters.txt", (await rackctl(["get", "clusters"])).stdout);
    const before = await rackctl(["describe", "cluster", "storefront", "--tenant", "web"]);
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/^Name: +storefront$/m);
    expect(before.stdout).toMatch(/^Status: +ACTIVE$/m);
    expect(before.stdout).toMatch(/^ {2}workers: 2 nodes, autoscaling off \(/m);
    expect(healthBlock(before.stdout)).toBe("Health:\n  (no health report yet)\n");
    expect(before.stdout).toMatch(/^ {2}storefront-workers-2 +WORKER +workers +\S+ +RUNNING +1\.31\.4$/m);

    // A report observed ten minutes ago is past the staleness period (300 s): kept, marked STALE.
    const stale = new Date(Date.now() - 600_000);
    const first = await addons().reportKubernetesClusterHealth({
      clusterId,
      health: { observeTime: timestampFromDate(stale), readyNodeCount: 2, notReadyNodeCount: 1, runningPodCount: 14, failedPodCount: 1 },
    });
    expect(first.accepted).toBe(true);
    const staleView = await rackctl(["describe", "cluster", clusterId]);
    golden("describe-cluster-health-stale.txt", masked(healthBlock(staleView.stdout)));
    expect((await rackctl(["get", "clusters", "storefront", "--tenant", "web"])).stdout).toMatch(
      /ACTIVE +workersx2 +2\/3 ready \(stale\)\n$/,
    );

    // Autoscaling bounds on the pool, then a fresh report with pods that fit no node: one node more.
    const view = await k8s().getKubernetesCluster({ id: clusterId });
    const pool = view.cluster!.nodePools[0]!;
    await k8s().updateNodePool({
      nodePool: { id: pool.id, etag: pool.etag, autoscaling: { minNodeCount: 1, maxNodeCount: 3 } },
      updateMask: { paths: ["autoscaling"] },
    });
    const fresh = await addons().reportKubernetesClusterHealth({
      clusterId,
      health: {
        observeTime: timestampFromDate(new Date()),
        readyNodeCount: 3,
        runningPodCount: 20,
        pendingPodCount: 2,
        traffic: { requestsPerSecond: 12.5, ingressBytesPerSecond: 2_500_000n, egressBytesPerSecond: 900n },
        nodePools: [
          {
            nodePoolId: pool.id,
            unschedulablePodCount: 2,
            emptyNodes: [
              { virtualMachineId: view.nodes.at(-1)!.virtualMachineId, emptySinceTime: timestampFromDate(new Date(Date.now() - 120_000)) },
            ],
          },
        ],
      },
    });
    expect(fresh.accepted).toBe(true);
    const freshView = await rackctl(["describe", "cluster", "storefront", "--tenant", "web"]);
    golden("describe-cluster-health.txt", masked(healthBlock(freshView.stdout)));
    expect(freshView.stdout).toMatch(/^ {2}workers: 3 nodes, autoscaling 1-3 \(/m);

    // The decision, by pool name within its cluster, by pool id, and by cluster.
    const byName = await rackctl(["get", "scalingevents", "--node-pool", "workers", "--cluster", "storefront", "--tenant", "web"]);
    expect(byName.stderr).toBe("");
    golden("scalingevents.txt", masked(byName.stdout));
    expect((await rackctl(["get", "scalingevents", "--node-pool", pool.id])).stdout).toBe(byName.stdout);
    expect((await rackctl(["get", "scaling-events", "--cluster", clusterId])).stdout).toBe(byName.stdout);
    const [event, ...rest] = JSON.parse((await rackctl(["get", "scalingevents", "--node-pool", pool.id, "-o", "json"])).stdout);
    expect(rest).toEqual([]);
    expect(event).toMatchObject({
      nodePoolId: pool.id,
      clusterId,
      fromNodeCount: 2,
      toNodeCount: 3,
      reason: "NODE_POOL_SCALING_REASON_UNSCHEDULABLE_PODS",
      unschedulablePodCount: 2,
      outcome: "NODE_POOL_SCALING_OUTCOME_STARTED",
    });
    expect(event.operationId).toMatch(/^[0-9a-f-]{36}$/);
    const wide = await rackctl(["get", "scalingevents", "--node-pool", pool.id, "-o", "wide"]);
    expect(wide.stdout).toContain(event.operationId);
    expect((await rackctl(["get", "scalingevents", "--node-pool", pool.id, "-o", "yaml"])).stdout).toContain("toNodeCount: 3");
    const refused = await rackctl([
      "get",
      "scalingevents",
      "--filter",
      "outcome = NODE_POOL_SCALING_OUTCOME_REFUSED",
      "--cluster",
      clusterId,
    ]);
    expect(refused).toMatchObject({ code: 0, stdout: "", stderr: "No scalingevents found.\n" });
  }, 120_000);

  it("refuses a pool name without its cluster, an unknown pool, and --node-pool on other kinds", async () => {
    const unscoped = await rackctl(["get", "scalingevents", "--node-pool", "workers"]);
    expect(unscoped.code).toBe(2);
    expect(unscoped.stderr).toContain("--cluster");
    const unknown = await rackctl(["get", "scalingevents", "--node-pool", "gpu", "--cluster", "storefront", "--tenant", "web"]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('no node pool named "gpu"');
    expect((await rackctl(["get", "racks", "--node-pool", "workers"])).code).toBe(2);
    expect((await rackctl(["describe", "cluster", "no-such-cluster"])).code).toBe(3);
  });

  it("completes the new kinds and flags", async () => {
    const bash = (await rackctl(["completion", "bash"])).stdout;
    expect(bash).toContain("clusters scalingevents");
    expect(bash).toMatch(/get\) flags="[^"]*--node-pool[^"]*--cluster/);
  });
});
