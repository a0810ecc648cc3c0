// Issue 13's targets on 10,000 hosts: admission and placement of a 100-node cluster in one request
// (p99 ≤ 250 ms), GetKubernetesCluster of a 100-node cluster (p99 ≤ 20 ms), and a 100-node rolling
// upgrade with the simulated agent answering at once — the control plane's overhead per step.
// Requests one at a time: these are latencies of single requests, not throughput.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { IdentityService, Role } from "../gen/es/rackplane/v1/identity_pb.js";
import { KubernetesClusterStatus, KubernetesService } from "../gen/es/rackplane/v1/kubernetes_pb.js";
import { OperationService, OperationState } from "../gen/es/rackplane/v1/operation_pb.js";
import { createSimulatedAgent } from "../src/agent/simulator.js";
import { cpuMeter, hostsSql, leanClient, startBenchServer, withClient, type CpuSplit } from "./harness.js";

const hostCount = Number(process.env.BENCH_HOSTS ?? 10_000);
const groupCount = 10;
const creations = Number(process.env.BENCH_CLUSTERS ?? 20);
const reads = Number(process.env.BENCH_READS ?? 500);
// BENCH_UPGRADE=0 skips the rolling upgrade (phase 3), for quick A/B runs of creation and read.
const upgrade = process.env.BENCH_UPGRADE !== "0";

const server = await startBenchServer();
try {
  await seed(server.databaseUrl);
  const transport = createGrpcTransport({ baseUrl: server.url });
  const headers = { authorization: `Bearer ${server.adminToken}` };
  const k8s = createClient(KubernetesService, transport);
  const meter = cpuMeter(server.pid);
  const operations = createClient(OperationService, transport);
  const group = (n: number) => `20000000-0000-7000-8000-${n.toString(16).padStart(12, "0")}`;
  const shape = { specificationId: "50000000-0000-7000-8000-000000000001", imageId: "60000000-0000-7000-8000-000000000001" };
  const request = (name: string, n: number) => ({
    cluster: {
      name,
      tenantId: "40000000-0000-7000-8000-000000000000",
      version: "1.31.4",
      controlPlane: { count: 3, groupId: group(0), ...shape },
      nodePools: [{ name: "workers", nodeCount: 97, groupId: group(1 + (n % (groupCount - 1))), ...shape }],
    },
  });

  // 1. Admission and placement of 100 nodes in one request (the clusters stay PROVISIONING: no agent).
  await k8s.createKubernetesCluster(request("warm-up", 0), { headers });
  const createMs: number[] = [];
  let lastClusterId = "";
  const createCpu = meter();
  for (let n = 0; n < creations; n++) {
    const started = performance.now();
    const { cluster } = await k8s.createKubernetesCluster(request(`bench-${n}`, n), { headers });
    createMs.push(performance.now() - started);
    lastClusterId = cluster!.id;
  }
  report(`CreateKubernetesCluster, 100 nodes on ${hostCount} hosts (target p99 ≤ 250 ms)`, createMs, createCpu, meter());

  // 2. Reading a 100-node cluster with every node, its host and state.
  // Timed over the lean client, answers not decoded: connect-node's client decoding 100 nodes took
  // its own share of the two cores (and its pauses) inside every measured call. One decoded as a check.
  const view = await k8s.getKubernetesCluster({ id: lastClusterId }, { headers });
  if (view.nodes.length !== 100) throw new Error(`the cluster has ${view.nodes.length} nodes`);
  const lean = leanClient(server.url, headers);
  const get = KubernetesService.method.getKubernetesCluster;
  for (let i = 0; i < 50; i++) await lean.send(get, { id: lastClusterId });
  const readMs: number[] = [];
  const readCpu = meter();
  for (let i = 0; i < reads; i++) {
    const started = performance.now();
    await lean.send(get, { id: lastClusterId });
    readMs.push(performance.now() - started);
  }
  lean.close();
  report("GetKubernetesCluster, 100 nodes (target p99 ≤ 20 ms)", readMs, readCpu, meter());

  if (upgrade) await rollingUpgrade();

  // 3. A 100-node rolling upgrade (1 control-plane node, 99 workers, surge 1): every batch is a surge
  // node's creation, the batch's step, the old node's deletion and the removal step, answered at once.
  async function rollingUpgrade(): Promise<void> {
    const identity = createClient(IdentityService, transport);
    const { secret } = await identity.createToken({ principal: "bench-agent", role: Role.AGENT }, { headers });
    const agent = createSimulatedAgent({
      servers: [server.url.replace("http://", "")],
      token: secret,
      agentId: "bench-agent",
      latencyMs: 0,
      concurrency: 64,
    });
    agent.start();
    try {
      const built = await k8s.createKubernetesCluster(
        {
          cluster: {
            ...request("rolling", 0).cluster,
            controlPlane: { count: 1, groupId: group(0), ...shape },
            nodePools: [{ name: "workers", nodeCount: 99, groupId: group(1), ...shape }],
          },
        },
        { headers },
      );
      await settle(operations, built.operation!.id, headers);
      const started = performance.now();
      const upgradeStart = new Date();
      const { operation } = await k8s.upgradeKubernetesCluster({ id: built.cluster!.id, version: "1.32.0" }, { headers });
      const state = await settle(operations, operation!.id, headers);
      const totalMs = performance.now() - started;
      console.log(`rolling upgrade of 100 nodes: ${(totalMs / 1000).toFixed(1)} s`);
      const view = await k8s.getKubernetesCluster({ id: built.cluster!.id }, { headers });
      if (state !== OperationState.SUCCEEDED || view.cluster!.status !== KubernetesClusterStatus.ACTIVE) {
        throw new Error(`the upgrade ended ${OperationState[state]}, the cluster ${KubernetesClusterStatus[view.cluster!.status]}`);
      }
      const [jobs] = await withClient(server.databaseUrl, (client) =>
        client.query<{ steps: number; nodes: number; total: number }>(
          `select count(*) filter (where kind in ('UPGRADE_KUBERNETES_NODES', 'REMOVE_KUBERNETES_NODES', 'UPGRADE_KUBERNETES_CLUSTER'))::int as steps,
                  count(*) filter (where kind in ('CREATE_VIRTUAL_MACHINE', 'DELETE_VIRTUAL_MACHINE'))::int as nodes, count(*)::int as total
             from job where (resource_id::text = $1 or payload->>'clusterId' = $1) and create_time >= $2`,
          [built.cluster!.id, upgradeStart],
        ),
      ).then((result) => result.rows);
      console.log(
        `rolling upgrade of 100 nodes: ${(totalMs / 1000).toFixed(1)} s for ${jobs!.total} jobs (${jobs!.steps} workflow steps, ${jobs!.nodes} node creations and deletions): ${(totalMs / jobs!.total).toFixed(1)} ms per job, ${(totalMs / 100).toFixed(0)} ms per node`,
      );
    } finally {
      await agent.stop();
    }
  }
} finally {
  await server.stop();
}

async function settle(operations: ReturnType<typeof createClient<typeof OperationService>>, id: string, headers: Record<string, string>) {
  for (;;) {
    const { operation } = await operations.getOperation({ id }, { headers });
    if (operation!.state !== OperationState.PENDING && operation!.state !== OperationState.RUNNING) return operation!.state;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Latencies, and the CPU the server and PostgreSQL spent per request between two meter readings
 * (steadier than latency on a shared machine). */
function report(name: string, samples: number[], cpuBefore: CpuSplit, cpuAfter: CpuSplit): void {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const per = (key: keyof CpuSplit) => ((cpuAfter[key] - cpuBefore[key]) / samples.length).toFixed(2);
  console.log(
    `${name}: n ${sorted.length}, p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms; CPU ms/request server ${per("server")}, PostgreSQL ${per("postgres")}`,
  );
}

/** 10,000 hosts of 64 cores (256 effective) in 10 groups, one tenant with room for every cluster,
 * a specification, an image and two versions. */
async function seed(databaseUrl: string): Promise<void> {
  await withClient(databaseUrl, (client) =>
    client.query(`
      ${hostsSql(hostCount, groupCount)}
      insert into tenant (id, version, create_time, update_time, name, kind)
        values ('40000000-0000-7000-8000-000000000000', 1, now(), now(), 'bench-tenant', 'PROJECT');
      insert into baremetal_group_tenant_quota (id, version, create_time, update_time, tenant_id, group_id, cpu_absolute, memory_mib_percent, storage_gib_percent)
        select gen_random_uuid(), 1, now(), now(), '40000000-0000-7000-8000-000000000000', g.id, 100000, 100, 100 from baremetal_group g;
      insert into virtual_machine_specification (id, version, create_time, update_time, name, vcpu, memory_mib, storage_gib)
        values ('50000000-0000-7000-8000-000000000001', 1, now(), now(), 'bench-small', 2, 4096, 40);
      insert into image (id, version, create_time, update_time, name, architecture, status)
        values ('60000000-0000-7000-8000-000000000001', 1, now(), now(), 'bench-image', 'X86_64', 'ACTIVE');
      analyze;
    `),
  );
  const transport = createGrpcTransport({ baseUrl: server.url });
  const k8s = createClient(KubernetesService, transport);
  const headers = { authorization: `Bearer ${server.adminToken}` };
  await k8s.createKubernetesVersion({ version: { version: "1.31.4" } }, { headers });
  await k8s.createKubernetesVersion({ version: { version: "1.32.0" } }, { headers });
}
