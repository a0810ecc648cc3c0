// Issue 19's target: ≥ 20,000 observations/s into one server process with its PostgreSQL, the reads
// unaffected (GetBaremetal's p99 alone and during ingest). Agents report batches of 1,000 host
// observations, each newer than the stored one (every row is an update, as in steady state).
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import pg from "pg";
import { AgentService } from "../gen/es/rackplane/v1/agent_pb.js";
import { IdentityService, Role } from "../gen/es/rackplane/v1/identity_pb.js";
import { InventoryService } from "../gen/es/rackplane/v1/inventory_pb.js";
import { Health, PowerState } from "../gen/es/rackplane/v1/observation_pb.js";
import { cpuMeter, printResults, runLoad, startBenchServer } from "./harness.js";

const HOSTS = 4_000;
const BATCH = 1_000;
const server = await startBenchServer();
const admin = { authorization: `Bearer ${server.adminToken}` };
const transport = createGrpcTransport({ baseUrl: server.url });
try {
  const hostIds = await seedHosts(server.databaseUrl);
  const { secret } = await createClient(IdentityService, transport).createToken(
    { principal: "bench-observer", role: Role.AGENT },
    { headers: admin },
  );
  const agents = createClient(AgentService, transport);
  const inventory = createClient(InventoryService, transport);
  const agentHeaders = { authorization: `Bearer ${secret}` };
  let clock = Date.now() - 3_600_000;
  const report = (worker: number) => {
    const first = (worker * BATCH) % HOSTS;
    const observeTime = timestampFromMs(++clock);
    return agents.reportObservations(
      {
        observations: hostIds.slice(first, first + BATCH).map((id, i) => ({
          subject: { case: "baremetalId", value: id },
          observeTime,
          powerState: PowerState.ON,
          health: Health.OK,
          cpuPercent: (i % 100) + 0.5,
          memoryUsedMib: 32_768n,
          storageUsedGib: 500n,
        })),
      },
      { headers: agentHeaders },
    );
  };
  const read = (_worker: number, i: number) => inventory.getBaremetal({ id: hostIds[i % HOSTS]! }, { headers: admin });
  const cpu = cpuMeter(server.pid);

  const readsAlone = await runLoad("GetBaremetal alone (4 clients)", 4, 5, read, cpu);
  const ingest = await runLoad("ReportObservations ×1,000 (4 agents)", 4, 10, report, cpu);
  const [ingestWithReads, readsDuring] = await Promise.all([
    runLoad("ReportObservations ×1,000 (4 agents) with reads", 4, 10, report),
    runLoad("GetBaremetal during ingest (4 clients)", 4, 10, read),
  ]);
  printResults([readsAlone, ingest, ingestWithReads, readsDuring]);
  console.log(
    `\nobservations/s: ${Math.round(ingest.perSecond * BATCH)} alone, ${Math.round(ingestWithReads.perSecond * BATCH)} with reads`,
  );
} finally {
  await server.stop();
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
