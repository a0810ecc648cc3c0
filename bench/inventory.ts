// Get and List (50 per page) of racks over gRPC and JSON with 32 concurrent clients on 10,000
// racks, against the framework's ceiling on this machine (an empty RPC: health Check, no auth, no
// database). Issue 17's targets: a Get ≥ 75% of the ceiling, a filtered List of 50 ≥ 40%. gRPC is
// driven by the lean client (connect-node's own client cost more CPU than the server's empty call,
// so the ceiling was the load generator's); each row prints the CPU per call of the server,
// PostgreSQL and the load generator.
import pg from "pg";
import { Health } from "../gen/es/grpc/health/v1/health_pb.js";
import { InventoryService } from "../gen/es/rackplane/v1/inventory_pb.js";
import { cpuMeter, jsonClient, leanClient, percentOf, printResults, runLoad, startBenchServer, type LoadResult } from "./harness.js";

const racks = 10_000;
const concurrency = 32;
const seconds = Number(process.env.BENCH_SECONDS ?? 5);

const server = await startBenchServer();
try {
  const seedStarted = performance.now();
  const rackIds = await seedRacks(server.databaseUrl, racks);
  console.log(`seeded ${racks} racks (with their units) in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

  const auth = { authorization: `Bearer ${server.adminToken}` };
  const lean = leanClient(server.url, auth);
  const bare = leanClient(server.url, {}); // the ceiling's calls carry no token, as before
  const json = jsonClient(server.url, auth, concurrency);
  const cpu = cpuMeter(server.pid);
  const pick = (worker: number, i: number) => rackIds[(worker * 7919 + i * 104729) % rackIds.length]!;
  const filter = (i: number) => (i % 2 === 0 ? "" : "status = RACK_STATUS_ACTIVE AND height_units >= 42");
  const get = InventoryService.method.getRack;
  const list = InventoryService.method.listRacks;

  const results: LoadResult[] = [];
  const load = async (name: string, call: (w: number, i: number) => Promise<unknown>) =>
    results.push(await runLoad(name, concurrency, seconds, call, cpu));
  await load("gRPC empty RPC (Health/Check) — ceiling", () => bare.send(Health.method.check, {}));
  await load("gRPC GetRack", (w, i) => lean.send(get, { id: pick(w, i) }));
  await load("gRPC ListRacks (50/page)", (_w, i) => lean.send(list, { pageSize: 50, filter: filter(i) }));
  await load("JSON empty RPC (Health/Check) — ceiling", () => json("grpc.health.v1.Health/Check", {}, {}));
  await load("JSON GetRack", (w, i) => json("rackplane.v1.InventoryService/GetRack", { id: pick(w, i) }));
  await load("JSON ListRacks (50/page)", (_w, i) => json("rackplane.v1.InventoryService/ListRacks", { pageSize: 50, filter: filter(i) }));
  lean.close();
  bare.close();
  printResults(results);
  const [grpcCeiling, grpcGet, grpcList, jsonCeiling, jsonGet, jsonList] = results.map((r) => r.perSecond) as number[];
  console.log("\n| ratio to the ceiling | gRPC | JSON | target |");
  console.log("| --- | ---: | ---: | ---: |");
  console.log(`| GetRack | ${percentOf(grpcGet!, grpcCeiling!)} | ${percentOf(jsonGet!, jsonCeiling!)} | ≥ 75% |`);
  console.log(`| ListRacks | ${percentOf(grpcList!, grpcCeiling!)} | ${percentOf(jsonList!, jsonCeiling!)} | ≥ 40% |`);
} finally {
  await server.stop();
}

/** Seeds straight into PostgreSQL: the benchmark measures reads, and 10,000 racks with 420,000
 * unit rows load in seconds this way. */
async function seedRacks(databaseUrl: string, count: number): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`
      insert into region (id, version, create_time, update_time, name) values ('00000000-0000-7000-8000-000000000001', 1, now(), now(), 'bench');
      insert into datacenter (id, version, create_time, update_time, name, region_id) values ('00000000-0000-7000-8000-000000000002', 1, now(), now(), 'bench-dc', '00000000-0000-7000-8000-000000000001');
      insert into room (id, version, create_time, update_time, name, datacenter_id, region_id) values ('00000000-0000-7000-8000-000000000003', 1, now(), now(), 'bench-room', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001');
      insert into rack (id, version, create_time, update_time, name, room_id, datacenter_id, region_id, status, height_units, asn)
        select (lpad(to_hex(n), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 1, now(), now(), 'rack-' || n,
               '00000000-0000-7000-8000-000000000003', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001',
               case when n % 10 = 0 then 'MAINTENANCE' else 'ACTIVE' end, case when n % 2 = 0 then 42 else 48 end, 64512 + n % 1000
        from generate_series(16, ${count + 15}) n;
      insert into rack_unit (id, version, update_time, rack_id, position, status)
        select gen_random_uuid(), 1, now(), r.id, p, 'FREE' from rack r cross join lateral generate_series(1, r.height_units) p;
      analyze;
    `);
    const { rows } = await client.query<{ id: string }>("select id from rack order by id");
    return rows.map((row) => row.id);
  } finally {
    await client.end();
  }
}
