// Issue 19's target: ≥ 20,000 observations/s into one server process with its PostgreSQL, the reads
// unaffected (GetBaremetal's p99 alone and during ingest). Agents report batches of 1,000 host
// observations, each newer than the stored one (every row is an update, as in steady state).
//
// The load generator shares the machine's two cores with the server and PostgreSQL, so it must cost
// little: each agent encodes its batch once and, per call, only rewrites the observe time of each
// item in place (a real agent encodes on its own machine), and every call goes over lean HTTP/2
// clients (harness.ts leanClient) rather than connect-node's transport.
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { AgentService } from "../gen/es/rackplane/v1/agent_pb.js";
import { IdentityService, Role } from "../gen/es/rackplane/v1/identity_pb.js";
import { InventoryService } from "../gen/es/rackplane/v1/inventory_pb.js";
import { Health, ObservationReportSchema, PowerState } from "../gen/es/rackplane/v1/observation_pb.js";
import { cpuMeter, leanClient, printResults, runLoad, runPaced, startBenchServer } from "./harness.js";

const HOSTS = 4_000;
const BATCH = 1_000;
const AGENTS = 4;
const TARGET_PER_SECOND = 20_000;
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const server = await startBenchServer();
const admin = { authorization: `Bearer ${server.adminToken}` };
try {
  const hostIds = await seedHosts(server.databaseUrl);
  const { secret } = await createClient(IdentityService, createGrpcTransport({ baseUrl: server.url })).createToken(
    { principal: "bench-observer", role: Role.AGENT },
    { headers: admin },
  );
  // One connection per agent, as separate agents would have; reads share one.
  const agents = Array.from({ length: AGENTS }, (_, worker) => ({
    client: leanClient(server.url, { authorization: `Bearer ${secret}` }),
    batch: encodedBatch(hostIds.slice((worker * BATCH) % HOSTS, ((worker * BATCH) % HOSTS) + BATCH)),
  }));
  const reader = leanClient(server.url, admin);
  // Whole seconds, one more per call, starting half a day ago: every batch is newer than the last,
  // within the day a report may lag, for 43,200 calls.
  let clock = Math.floor(Date.now() / 1000) - 43_200;
  const report = async (worker: number) => {
    const { client, batch } = agents[worker]!;
    const response = await client.callEncoded(AgentService.method.reportObservations, batch.at(++clock));
    if (response.acceptedCount !== BATCH) throw new Error(`${response.acceptedCount} of ${BATCH} accepted`);
  };
  const read = (_worker: number, i: number) => reader.call(InventoryService.method.getBaremetal, { id: hostIds[i % HOSTS]! });
  const cpu = cpuMeter(server.pid);

  const readsAlone = await runLoad("GetBaremetal alone (4 clients)", 4, seconds, read, cpu);
  const ingest = await runLoad(`ReportObservations ×1,000 (${AGENTS} agents)`, AGENTS, seconds, report, cpu);
  const [ingestWithReads, readsDuring] = await Promise.all([
    runLoad(`ReportObservations ×1,000 (${AGENTS} agents) with reads`, AGENTS, seconds, report),
    runLoad("GetBaremetal during ingest (4 clients)", 4, seconds, read),
  ]);
  // The fleet's rate (issue 19: about 18,000 a second) offered on a schedule rather than as fast as
  // the machine goes: what reads see while ingest keeps up with the target and no more.
  const [pacedWithReads, readsDuringPaced] = await Promise.all([
    runPaced(
      `ReportObservations at ${TARGET_PER_SECOND.toLocaleString("en")}/s with reads`,
      TARGET_PER_SECOND / BATCH,
      AGENTS,
      seconds,
      report,
    ),
    runLoad("GetBaremetal during paced ingest (4 clients)", 4, seconds, read),
  ]);
  printResults([readsAlone, ingest, ingestWithReads, readsDuring, pacedWithReads, readsDuringPaced]);
  console.log(
    `\nobservations/s: ${Math.round(ingest.perSecond * BATCH)} alone, ${Math.round(ingestWithReads.perSecond * BATCH)} with reads, ${Math.round(pacedWithReads.perSecond * BATCH)} offered ${TARGET_PER_SECOND} with reads`,
  );
  for (const agent of agents) agent.client.close();
  reader.close();
} finally {
  await server.stop();
}

/**
 * A ReportObservationsRequest for `ids`, encoded once: each item's observe time is its last field,
 * a Timestamp of whole seconds (a 5-byte varint for any time between 1978 and 3058), so `at(seconds)`
 * rewrites those bytes in place and returns the same buffer.
 */
function encodedBatch(ids: readonly string[]): { at(seconds: number): Uint8Array } {
  const items = ids.map((id, i) => {
    const body = toBinary(
      ObservationReportSchema,
      create(ObservationReportSchema, {
        subject: { case: "baremetalId", value: id },
        powerState: PowerState.ON,
        health: Health.OK,
        cpuPercent: (i % 100) + 0.5,
        memoryUsedMib: 32_768n,
        storageUsedGib: 500n,
      }),
    );
    // observe_time (field 3, length-delimited) = Timestamp { seconds (field 1, varint) }.
    return [...body, 0x1a, 6, 0x08, 0, 0, 0, 0, 0];
  });
  const bytes: number[] = [];
  const offsets: number[] = [];
  for (const item of items) {
    bytes.push(0x0a, ...varint(item.length)); // observations (field 1, length-delimited)
    offsets.push(bytes.length + item.length - 5);
    bytes.push(...item);
  }
  const buffer = Uint8Array.from(bytes);
  return {
    at(seconds: number) {
      const encoded = varint(seconds);
      if (encoded.length !== 5) throw new Error("observe time out of the 5-byte varint range");
      for (const offset of offsets) buffer.set(encoded, offset);
      return buffer;
    },
  };
}

function varint(value: number): number[] {
  const out: number[] = [];
  for (; value >= 0x80; value = Math.floor(value / 0x80)) out.push((value % 0x80) | 0x80);
  out.push(value);
  return out;
}

/** HOSTS hosts in one group, written straight into the database (the bench measures ingest, not
 * host creation). */
async function seedHosts(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`
      insert into region (id, version, create_time, update_time, name) values ('00000000-0000-7000-8000-000000000001', 1, now(), now(), 'bench');
      insert into datacenter (id, version, create_time, update_time, name, region_id) values ('00000000-0000-7000-8000-000000000002', 1, now(), now(), 'bench-dc', '00000000-0000-7000-8000-000000000001');
      insert into room (id, version, create_time, update_time, name, datacenter_id, region_id) values ('00000000-0000-7000-8000-000000000003', 1, now(), now(), 'bench-room', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001');
      insert into rack (id, version, create_time, update_time, name, room_id, datacenter_id, region_id, status, height_units)
        values ('10000000-0000-7000-8000-000000000001', 1, now(), now(), 'rack', '00000000-0000-7000-8000-000000000003', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001', 'ACTIVE', 42);
      insert into baremetal_group (id, version, create_time, update_time, name, dimension, cpu_allocation_ratio, effective_cpu_total, effective_memory_mib_total, effective_storage_gib_total)
        values ('20000000-0000-7000-8000-000000000001', 1, now(), now(), 'group', 'PURPOSE', 1, 0, 0, 0);
      insert into baremetal (id, version, create_time, update_time, name, serial_number, cpu_cores, memory_mib, storage_gib,
                             effective_cpu_cores, effective_memory_mib, effective_storage_gib, status, status_change_time, group_id,
                             rack_id, first_position, height_units, room_id, datacenter_id, region_id)
        select ('30000000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 1, now(), now(), 'host-' || n, 'SN' || n, 64, 1048576, 100000,
               64, 1048576, 100000, 'ACTIVE', now(), '20000000-0000-7000-8000-000000000001', '10000000-0000-7000-8000-000000000001', 1, 1,
               '00000000-0000-7000-8000-000000000003', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001'
          from generate_series(0, ${HOSTS - 1}) n;
    `);
    const { rows } = await client.query<{ id: string }>("select id from baremetal order by id");
    return rows.map((row) => row.id);
  } finally {
    await client.end();
  }
}
