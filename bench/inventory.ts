// Issue 2's targets: Get and List (50 per page) of racks over gRPC and JSON with 32 concurrent
// clients on 10,000 racks, against the framework's ceiling on this machine (an empty RPC: health
// Check, no auth, no database). Target: Get ≥ 50% of the ceiling, List ≥ 25%.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import http from "node:http";
import { Health } from "../gen/es/grpc/health/v1/health_pb.js";
import { InventoryService } from "../gen/es/rackplane/v1/inventory_pb.js";
import { printResults, runLoad, startBenchServer, type LoadResult } from "./harness.js";

const racks = 10_000;
const concurrency = 32;
const seconds = Number(process.env.BENCH_SECONDS ?? 5);

const server = await startBenchServer();
try {
  const seedStarted = performance.now();
  const rackIds = await seedRacks(server.databaseUrl, racks);
  console.log(`seeded ${racks} racks (with their units) in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

  const auth = { authorization: `Bearer ${server.adminToken}` };
  const transport = createGrpcTransport({ baseUrl: server.url });
  const inventory = createClient(InventoryService, transport);
  const health = createClient(Health, transport);
  // Plain Connect JSON over keep-alive HTTP/1.1, one connection per worker at most.
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const json = (path: string, body: unknown, headers: Record<string, string> = auth) =>
    new Promise<unknown>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = http.request(
        `${server.url}/${path}`,
        {
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(chunks).toString())) : reject(new Error(`HTTP ${res.statusCode}`)),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  const pick = (worker: number, i: number) => rackIds[(worker * 7919 + i * 104729) % rackIds.length]!;

  const results: LoadResult[] = [];
  results.push(await runLoad("gRPC empty RPC (Health/Check) — ceiling", concurrency, seconds, () => health.check({})));
  results.push(await runLoad("gRPC GetRack", concurrency, seconds, (w, i) => inventory.getRack({ id: pick(w, i) }, { headers: auth })));
  results.push(
    await runLoad("gRPC ListRacks (50/page)", concurrency, seconds, (_w, i) =>
      inventory.listRacks(
        { pageSize: 50, filter: i % 2 === 0 ? "" : "status = RACK_STATUS_ACTIVE AND height_units >= 42" },
        { headers: auth },
      ),
    ),
  );
  results.push(
    await runLoad("JSON empty RPC (Health/Check) — ceiling", concurrency, seconds, () => json("grpc.health.v1.Health/Check", {}, {})),
  );
  results.push(
    await runLoad("JSON GetRack", concurrency, seconds, (w, i) => json("rackplane.v1.InventoryService/GetRack", { id: pick(w, i) })),
  );
  results.push(
    await runLoad("JSON ListRacks (50/page)", concurrency, seconds, (_w, i) =>
      json("rackplane.v1.InventoryService/ListRacks", {
        pageSize: 50,
        filter: i % 2 === 0 ? "" : "status = RACK_STATUS_ACTIVE AND height_units >= 42",
      }),
    ),
  );
  printResults(results);
  const [grpcCeiling, grpcGet, grpcList, jsonCeiling, jsonGet, jsonList] = results.map((r) => r.perSecond) as number[];
  console.log("\n| ratio to the ceiling | gRPC | JSON | target |");
  console.log("| --- | ---: | ---: | ---: |");
  console.log(`| GetRack | ${pct(grpcGet!, grpcCeiling!)} | ${pct(jsonGet!, jsonCeiling!)} | ≥ 50% |`);
  console.log(`| ListRacks | ${pct(grpcList!, grpcCeiling!)} | ${pct(jsonList!, jsonCeiling!)} | ≥ 25% |`);
} finally {
  await server.stop();
}

function pct(value: number, ceiling: number): string {
  return `${((100 * value) / ceiling).toFixed(0)}%`;
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
