// Issue 4's target: placements per second with 64 concurrent clients on 10,000 hosts and 1,000
// tenants (target ≥ 500/s, p99 ≤ 100 ms), then the zero-overcommit check: every host's counters
// equal the sum of its reservations, no host is past its effective capacity, no tenant past a limit.
// Two phases: 500/s offered on a schedule by 64 clients, whose latency is the one at the target
// rate, and the most 64 closed-loop clients get (whose latency is 64 ÷ throughput, by Little's law).
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { ComputeService } from "../gen/es/rackplane/v1/compute_pb.js";
import {
  cpuMeter,
  creationBatching,
  describeBatching,
  hostsSql,
  leanClient,
  overcommitCheck,
  printResults,
  runLoad,
  runPaced,
  startBenchServer,
} from "./harness.js";

const hostCount = Number(process.env.BENCH_HOSTS ?? 10_000);
const tenantCount = Number(process.env.BENCH_TENANTS ?? 1_000);
const groupCount = 10;
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const targetRate = Number(process.env.BENCH_RATE ?? 500);

const server = await startBenchServer();
try {
  const seed = await seedCloud(server.databaseUrl);
  const headers = { authorization: `Bearer ${server.adminToken}` };
  // BENCH_CLIENT=connect uses connect-node's gRPC client instead of the lean one; lean-connect the
  // lean client over the Connect protocol.
  const lean = leanClient(server.url, headers, process.env.BENCH_CLIENT === "lean-connect" ? "connect" : "grpc");
  const compute = createClient(ComputeService, createGrpcTransport({ baseUrl: server.url }));
  let refused = 0;
  const createOne = async (worker: number, i: number) => {
    const n = worker * 1_000_003 + i * 7919;
    try {
      const request = {
        tenantId: seed.tenants[n % seed.tenants.length]!,
        target: { case: "groupId" as const, value: seed.groups[(n >> 3) % seed.groups.length]! },
        specificationId: seed.specification,
        imageId: seed.image,
      };
      const { virtualMachine } =
        process.env.BENCH_CLIENT === "connect"
          ? await compute.createVirtualMachine(request, { headers })
          : await lean.call(ComputeService.method.createVirtualMachine, request);
      if (!virtualMachine?.baremetalId) throw new Error("a creation answered without a host");
    } catch (error) {
      refused++;
      throw error;
    }
  };
  // The target rate offered on a schedule by 64 clients, to read the latency at that rate (after a
  // warm-up and the statistics autovacuum would have gathered); then as fast as 64 clients can go,
  // each sending its next create when the last one is answered, to read the throughput.
  await runPaced("warm-up", targetRate, 64, 2, createOne);
  await analyze();
  const cpu = cpuMeter(server.pid);
  const paced = await runPaced(`CreateVirtualMachine, ${targetRate}/s offered by 64 clients`, targetRate, 64, seconds, createOne, cpu);
  const saturated = await runLoad("CreateVirtualMachine, 64 clients, closed loop", 64, seconds, createOne, cpu);
  printResults([paced, saturated]);
  console.log(
    `\nplacements/s: ${saturated.perSecond.toFixed(0)} (target ≥ 500); offered ${targetRate}/s: p50 ${paced.p50Ms.toFixed(1)} ms, p99 ${paced.p99Ms.toFixed(1)} ms (target at 500/s: p99 ≤ 100 ms); refused: ${refused}`,
  );
  console.log(`zero-overcommit check: ${JSON.stringify(await overcommitCheck(server.databaseUrl))}`);
  console.log(describeBatching(await creationBatching(server.url)));
  lean.close();
} finally {
  await server.stop();
}

async function seedCloud(databaseUrl: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`
      ${hostsSql(hostCount, groupCount)}
      insert into tenant (id, version, create_time, update_time, name, kind)
        select ('40000000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 1, now(), now(), 'tenant-' || n, 'PROJECT'
          from generate_series(0, ${tenantCount - 1}) n;
      insert into baremetal_group_tenant_quota (id, version, create_time, update_time, tenant_id, group_id, cpu_absolute, memory_mib_percent, storage_gib_percent)
        select gen_random_uuid(), 1, now(), now(), t.id, g.id, 400, 100, 100 from tenant t cross join baremetal_group g;
      insert into virtual_machine_specification (id, version, create_time, update_time, name, vcpu, memory_mib, storage_gib)
        values ('50000000-0000-7000-8000-000000000001', 1, now(), now(), 'bench-small', 2, 4096, 40);
      insert into image (id, version, create_time, update_time, name, architecture, status)
        values ('60000000-0000-7000-8000-000000000001', 1, now(), now(), 'bench-image', 'X86_64', 'ACTIVE');
      analyze;
    `);
    const tenants = (await client.query<{ id: string }>("select id from tenant")).rows.map((row) => row.id);
    const groups = (await client.query<{ id: string }>("select id from baremetal_group")).rows.map((row) => row.id);
    return { tenants, groups, specification: "50000000-0000-7000-8000-000000000001", image: "60000000-0000-7000-8000-000000000001" };
  } finally {
    await client.end();
  }
}

/** What autovacuum does within a minute of the first rows: the tables this load fills started empty,
 * and plans made then (the foreign-key checks' among them) would scan them whole as they grow. */
async function analyze() {
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  try {
    await client.query("analyze virtual_machine, scheduling_record, operation, job, audit_event, name_sequence");
  } finally {
    await client.end();
  }
}
