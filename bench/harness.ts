// Shared benchmark plumbing: a throwaway PostgreSQL, the server in its own process (so load
// generation does not steal its event loop), and a closed-loop load runner.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";
import http2 from "node:http2";
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethodUnary,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import pg from "pg";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../src/persistence/embedded-postgres.js";

export interface BenchServer {
  readonly url: string;
  readonly databaseUrl: string;
  readonly adminToken: string;
  readonly pid: number;
  /** Milliseconds from spawning the server to its first ready answer (/readyz). */
  readonly readyMs: number;
  stop(): Promise<void>;
}

export interface BenchServerOptions {
  /** Start with `--demo` (the demo cloud and its simulated agent), as the console bench needs. */
  readonly demo?: boolean;
  /** A directory kept between runs (its PostgreSQL and the server's data dir), e.g. a large
   * dataset generated once; by default a throwaway one. */
  readonly keptDir?: string;
  /** PostgreSQL settings (`name=value`) for this dataset, e.g. a shared_buffers that holds it. */
  readonly pgSettings?: readonly string[];
}

export async function startBenchServer(options: BenchServerOptions = {}): Promise<BenchServer> {
  const dir = options.keptDir ?? mkdtempSync(join(tmpdir(), "rackplane-bench-"));
  // BENCH_PG_STATS=1 loads pg_stat_statements and prints where PostgreSQL spent its time at the end.
  const pgStats = process.env.BENCH_PG_STATS === "1";
  const database: EmbeddedDatabase = await startEmbeddedPostgres({
    dir: join(dir, "postgres"),
    durable: false,
    settings: [
      ...(options.pgSettings ?? []),
      ...(pgStats
        ? ["shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track_planning=on", "pg_stat_statements.track=all"]
        : []),
    ],
  });
  if (pgStats) await withClient(database.url, (client) => client.query("create extension if not exists pg_stat_statements"));
  const port = await freePort();
  // BENCH_PROFILE=dir writes a CPU profile of the server there, for finding where time goes.
  const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  // The server as `npm start` runs it (see package.json): compiled, with the same V8 young-generation cap.
  buildOnce();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...profile,
      "--enable-source-maps",
      "--max-semi-space-size=16",
      // BENCH_NODE_FLAGS: more V8 or Node flags for the server, e.g. --trace-gc to see its collections.
      ...(process.env.BENCH_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean),
      "dist/src/main.js",
      "--listen",
      `127.0.0.1:${port}`,
      "--data-dir",
      dir,
      ...(options.demo ? ["--demo"] : []),
    ],
    {
      env: { ...process.env, DATABASE_URL: database.url, RACKPLANE_LOG: "warn" },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const spawned = performance.now();
  for (;;) {
    const ready = await fetch(`${url}/readyz`).then(
      (res) => res.ok,
      () => false,
    );
    if (ready) break;
    if (performance.now() - spawned > 60_000) throw new Error("server did not become ready within a minute");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const readyMs = performance.now() - spawned;
  // /readyz answers before the first-start token file is written: wait for the file too.
  let adminToken = "";
  for (let tries = 0; adminToken === ""; tries++) {
    try {
      adminToken = readFileSync(join(dir, "admin.token"), "utf8").trim();
    } catch {
      if (tries > 300) throw new Error("the server wrote no admin token");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    databaseUrl: database.url,
    adminToken,
    pid: child.pid!,
    readyMs,
    async stop() {
      if (pgStats)
        await withClient(database.url, printStatementStats).catch((error: unknown) => console.error("statement statistics:", error));
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      await database.stop();
      if (!options.keptDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

let built = false;
/** `npm run build`, once per benchmark run. */
function buildOnce(): void {
  if (built) return;
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-b", "tsconfig.build.json"], { stdio: "inherit" });
  execFileSync(process.execPath, ["scripts/build-web.ts"], { stdio: "inherit" });
  built = true;
}

export interface LoadResult {
  readonly name: string;
  readonly requests: number;
  readonly errors: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU milliseconds per request, when the phase was given a `cpuMeter`. */
  readonly cpuPerRequest?: CpuSplit;
}

export interface CpuSplit {
  readonly server: number;
  readonly postgres: number;
  readonly loadGenerator: number;
}

/**
 * CPU time (user + system) taken so far by the server process, by every PostgreSQL process, and by
 * the client side — this process (the load generator) unless `client` says otherwise (rackctl's
 * processes, a browser's) — read from /proc. Two readings' difference over a phase's requests says
 * where each request's CPU went, which a profile of one process cannot.
 */
export function cpuMeter(serverPid: number, client: () => number = ownCpuMs): () => CpuSplit {
  return () => {
    let postgres = 0;
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      const found = ticksOf(pid);
      if (found?.comm === "postgres") postgres += found.ticks + found.reapedTicks;
    }
    const server = ticksOf(String(serverPid));
    return {
      server: (server?.ticks ?? 0) * msPerTick,
      postgres: postgres * msPerTick,
      loadGenerator: client(),
    };
  };
}

/** This process's CPU milliseconds. */
export function ownCpuMs(): number {
  const self = process.cpuUsage();
  return (self.user + self.system) / 1000;
}

/** CPU milliseconds of the child processes this one has run to their end (each rackctl run). */
export function reapedChildrenCpuMs(): number {
  return (ticksOf("self")?.reapedTicks ?? 0) * msPerTick;
}

/** CPU milliseconds of every process whose command name matches, with the children each has
 * reaped (a browser's processes). */
export function processesCpuMs(comm: RegExp): () => number {
  return () => {
    let ticks = 0;
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      const found = ticksOf(pid);
      if (found && comm.test(found.comm)) ticks += found.ticks + found.reapedTicks;
    }
    return ticks * msPerTick;
  };
}

const msPerTick = 10; // USER_HZ is 100 on Linux

/** A process's name, its own CPU ticks (utime + stime) and its reaped children's (cutime + cstime:
 * the postmaster's exited backends and autovacuum workers, a parent's finished runs). */
function ticksOf(pid: string): { comm: string; ticks: number; reapedTicks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return {
      comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
      ticks: Number(fields[11]) + Number(fields[12]),
      reapedTicks: Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return undefined; // the process exited between listing and reading
  }
}

/** What a meter's readings before and after `count` units of work say per unit, as
 * "server / PostgreSQL / client" milliseconds. */
export function cpuPer(before: CpuSplit, after: CpuSplit, count: number): string {
  return (["server", "postgres", "loadGenerator"] as const).map((key) => ((after[key] - before[key]) / count).toFixed(2)).join(" / ");
}

/** Runs `call` from `concurrency` workers in a closed loop for `seconds` after a short warm-up. */
export async function runLoad(
  name: string,
  concurrency: number,
  seconds: number,
  call: (worker: number, i: number) => Promise<unknown>,
  meter?: () => CpuSplit,
): Promise<LoadResult> {
  const warmUntil = performance.now() + 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = 0; performance.now() < warmUntil; i++) await call(worker, i).catch(() => {});
    }),
  );
  const phase = measuredPhase(meter);
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = 0; performance.now() < until; i++) await phase.time(performance.now(), () => call(worker, i));
    }),
  );
  return phase.result(name);
}

/**
 * Offers `perSecond` calls a second for `seconds`, on a fixed schedule, from `concurrency` workers
 * (a worker takes the next scheduled slot when it is free). Latency counts from the slot's time, not
 * from when a worker got to it, so a backlog shows in the figures instead of slowing the offer.
 */
export async function runPaced(
  name: string,
  perSecond: number,
  concurrency: number,
  seconds: number,
  call: (worker: number, i: number) => Promise<unknown>,
  meter?: () => CpuSplit,
): Promise<LoadResult> {
  const phase = measuredPhase(meter);
  const total = Math.round(perSecond * seconds);
  const started = performance.now() + 10;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let slot = next++; slot < total; slot = next++) {
        const due = started + (slot * 1000) / perSecond;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        await phase.time(due, () => call(worker, slot));
      }
    }),
  );
  return phase.result(name);
}

/** A load phase's tally: each call's latency from `since` (or its failure), the phase's length,
 * and, with a meter, the CPU its calls took. */
function measuredPhase(meter?: () => CpuSplit) {
  const latencies: number[] = [];
  let errors = 0;
  const cpuBefore = meter?.();
  const started = performance.now();
  return {
    async time(since: number, call: () => Promise<unknown>): Promise<void> {
      try {
        await call();
        latencies.push(performance.now() - since);
      } catch {
        errors++;
      }
    },
    result(name: string): LoadResult {
      const seconds = (performance.now() - started) / 1000;
      const cpuAfter = meter?.();
      latencies.sort((a, b) => a - b);
      const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
      const calls = Math.max(1, latencies.length + errors);
      const per = (key: keyof CpuSplit) => (cpuAfter![key] - cpuBefore![key]) / calls;
      return {
        name,
        requests: latencies.length,
        errors,
        perSecond: latencies.length / seconds,
        p50Ms: at(0.5),
        p99Ms: at(0.99),
        ...(cpuBefore && cpuAfter
          ? { cpuPerRequest: { server: per("server"), postgres: per("postgres"), loadGenerator: per("loadGenerator") } }
          : {}),
      };
    },
  };
}

/**
 * A lean client for load generation: unary calls over one HTTP/2 connection with node:http2 and
 * protobuf-es's binary codec, and nothing else, over gRPC or the Connect protocol. The machines here
 * have two cores shared by the load generator, the server and PostgreSQL; connect-node's gRPC client
 * costs about three times as much per call, all of it taken from the server's share.
 */
export function leanClient(baseUrl: string, headers: Record<string, string>, protocol: "grpc" | "connect" = "grpc") {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  const grpc = protocol === "grpc";
  /** The response's message bytes (unframed), or an error for a failed call. */
  const exchange = <I extends DescMessage, O extends DescMessage>(method: DescMethodUnary<I, O>, message: Uint8Array) => {
    // gRPC frames the message (a flag byte and its length); Connect's unary call sends it bare.
    let body: Uint8Array = message;
    if (grpc) {
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      body = frame;
    }
    const stream = session.request({
      ":method": "POST",
      ":path": `/${method.parent.typeName}/${method.name}`,
      ...(grpc
        ? { "content-type": "application/grpc+proto", te: "trailers" }
        : { "content-type": "application/proto", "connect-protocol-version": "1" }),
      ...headers,
    });
    stream.end(body);
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let failure: string | undefined = "no response";
      // gRPC's status comes in the headers of an early error, else in the trailers; Connect's is
      // the HTTP status, with the error as the body.
      const grpcStatus = (h: http2.IncomingHttpHeaders) => {
        const status = h["grpc-status"];
        if (status !== undefined)
          failure = status === "0" ? undefined : `grpc-status ${status}: ${decodeURIComponent(String(h["grpc-message"] ?? ""))}`;
      };
      stream.on("response", (h) => {
        if (grpc) grpcStatus(h);
        else failure = h[":status"] === 200 ? undefined : `HTTP ${h[":status"]}`;
      });
      stream.on("trailers", grpcStatus);
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", reject);
      stream.on("close", () => {
        const data = Buffer.concat(chunks);
        if (failure !== undefined) return reject(new Error(grpc ? failure : `${failure}: ${data.toString()}`));
        resolve(grpc ? data.subarray(5, 5 + data.readUInt32BE(1)) : data);
      });
    });
  };
  const encode = <I extends DescMessage>(method: DescMethodUnary<I, DescMessage>, request: MessageInitShape<I>) =>
    toBinary(method.input, create(method.input, request));
  const client = {
    /** A call and its decoded response. */
    call<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      request: MessageInitShape<I>,
    ): Promise<MessageShape<O>> {
      return client.callEncoded(method, encode(method, request));
    },
    /** `call` with the request already encoded: a bench that sends one large message again and
     * again (a batch of observations) patches its bytes instead of encoding it each time. */
    async callEncoded<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      message: Uint8Array,
    ): Promise<MessageShape<O>> {
      return fromBinary(method.output, await exchange(method, message));
    },
    /** A call whose response is not decoded (its size in bytes): for reads whose answer a
     * benchmark does not look at, so the load generator's decoding does not take the server's CPU. */
    async send<I extends DescMessage, O extends DescMessage>(method: DescMethodUnary<I, O>, request: MessageInitShape<I>): Promise<number> {
      return (await exchange(method, encode(method, request))).length;
    },
    close: () => session.close(),
  };
  return client;
}

/**
 * SQL for a bench cloud straight into PostgreSQL: one region, datacenter and room, racks of 21
 * two-unit hosts, `groupCount` groups and `hostCount` hosts of 64 cores (256 effective: ratio 4),
 * 512 GiB and 8,000 GiB, spread round-robin over the groups, the groups' effective totals kept.
 * Ids: racks 10…, groups 20…, hosts 30… followed by their number in hex.
 */
export function hostsSql(hostCount: number, groupCount: number): string {
  return `
      insert into region (id, version, create_time, update_time, name) values ('00000000-0000-7000-8000-000000000001', 1, now(), now(), 'bench');
      insert into datacenter (id, version, create_time, update_time, name, region_id) values ('00000000-0000-7000-8000-000000000002', 1, now(), now(), 'bench-dc', '00000000-0000-7000-8000-000000000001');
      insert into room (id, version, create_time, update_time, name, datacenter_id, region_id) values ('00000000-0000-7000-8000-000000000003', 1, now(), now(), 'bench-room', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001');
      insert into rack (id, version, create_time, update_time, name, room_id, datacenter_id, region_id, status, height_units)
        select ('10000000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 1, now(), now(), 'rack-' || n,
               '00000000-0000-7000-8000-000000000003', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001', 'ACTIVE', 42
          from generate_series(0, ${Math.ceil(hostCount / 21) - 1}) n;
      insert into baremetal_group (id, version, create_time, update_time, name, dimension, cpu_allocation_ratio)
        select ('20000000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 1, now(), now(), 'group-' || n, 'PURPOSE', 4
          from generate_series(0, ${groupCount - 1}) n;
      insert into baremetal (id, version, create_time, update_time, name, serial_number, cpu_cores, memory_mib, storage_gib,
                             effective_cpu_cores, effective_memory_mib, effective_storage_gib, status, status_change_time, group_id,
                             rack_id, first_position, height_units, room_id, datacenter_id, region_id)
        select ('30000000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 1, now(), now(), 'host-' || n, 'SN' || n, 64, 524288, 8000,
               256, 524288, 8000, 'ACTIVE', now(), ('20000000-0000-7000-8000-' || lpad(to_hex(n % ${groupCount}), 12, '0'))::uuid,
               ('10000000-0000-7000-8000-' || lpad(to_hex(n / 21), 12, '0'))::uuid, 1 + (n % 21) * 2, 2,
               '00000000-0000-7000-8000-000000000003', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001'
          from generate_series(0, ${hostCount - 1}) n;
      update baremetal_group g set effective_cpu_total = t.cpu, effective_memory_mib_total = t.memory, effective_storage_gib_total = t.storage
        from (select group_id, sum(effective_cpu_cores) as cpu, sum(effective_memory_mib) as memory, sum(effective_storage_gib) as storage
                from baremetal group by group_id) t where t.group_id = g.id;
`;
}

/** Connect JSON over keep-alive HTTP/1.1 (at most `connections` sockets): the parsed answer of
 * POST /<service>/<method>, or an error for a status other than 200. */
export function jsonClient(baseUrl: string, headers: Record<string, string>, connections: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  return (path: string, body: unknown, callHeaders: Record<string, string> = headers) =>
    new Promise<unknown>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = http.request(
        `${baseUrl}/${path}`,
        {
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload), ...callHeaders },
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
}

/** `value` as a percentage of `ceiling`. */
export function percentOf(value: number, ceiling: number): string {
  return `${((100 * value) / ceiling).toFixed(0)}%`;
}

export function printResults(results: readonly LoadResult[]): void {
  const cpu = results.some((r) => r.cpuPerRequest);
  console.log(`\n| benchmark | requests/s | p50 ms | p99 ms | errors |${cpu ? " CPU ms/request: server / PostgreSQL / load |" : ""}`);
  console.log(`| --- | ---: | ---: | ---: | ---: |${cpu ? " ---: |" : ""}`);
  for (const r of results) {
    const split = r.cpuPerRequest
      ? ` ${[r.cpuPerRequest.server, r.cpuPerRequest.postgres, r.cpuPerRequest.loadGenerator].map((ms) => ms.toFixed(2)).join(" / ")} |`
      : cpu
        ? " |"
        : "";
    console.log(`| ${r.name} | ${r.perSecond.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.errors} |${split}`);
  }
}

export async function withClient<T>(databaseUrl: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** The statements that took most of PostgreSQL's time (planning and execution), per call. Nested
 * statements (foreign-key checks, functions' statements) are listed too, and their time is also
 * counted in the statement that ran them. */
async function printStatementStats(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ calls: string; plan_ms: number; exec_ms: number; total_ms: number; query: string }>(
    `select calls, round((total_plan_time / nullif(calls, 0))::numeric, 3)::float as plan_ms, round((total_exec_time / nullif(calls, 0))::numeric, 3)::float as exec_ms,
            round((total_plan_time + total_exec_time)::numeric)::float as total_ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) as query
       from pg_stat_statements where query not like '%pg_stat_statements%' order by total_plan_time + total_exec_time desc limit 20`,
  );
  console.log("\n| calls | plan ms/call | exec ms/call | total ms | statement |\n| ---: | ---: | ---: | ---: | --- |");
  for (const row of rows)
    console.log(`| ${row.calls} | ${row.plan_ms} | ${row.exec_ms} | ${row.total_ms} | ${row.query.replaceAll("|", "\\|")} |`);
  const scans = await client.query<{
    relname: string;
    seq_scan: string;
    seq_tup_read: string;
    idx_scan: string;
    n_tup_hot_upd: string;
    n_tup_upd: string;
  }>(
    `select relname, seq_scan, seq_tup_read, idx_scan, n_tup_upd, n_tup_hot_upd from pg_stat_user_tables where seq_tup_read > 10000 or n_tup_upd > 1000 order by seq_tup_read desc limit 10`,
  );
  console.log(
    "\n| table | seq scans | rows read by seq scans | index scans | updates | HOT updates |\n| --- | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const row of scans.rows)
    console.log(`| ${row.relname} | ${row.seq_scan} | ${row.seq_tup_read} | ${row.idx_scan} | ${row.n_tup_upd} | ${row.n_tup_hot_upd} |`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The zero-overcommit check after a placement load: every host's counters equal the sum of its
 * reservations, no host is past its effective capacity, no tenant's counters drift or pass a limit.
 */
export async function overcommitCheck(databaseUrl: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const count = async (sql: string) => Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
    return {
      virtualMachines: await count("select count(*) as n from virtual_machine"),
      hostsWhoseCountersDrift:
        await count(`select count(*) as n from (select b.id from baremetal b left join virtual_machine vm on vm.baremetal_id = b.id and vm.reserved
        group by b.id having b.cpu_cores_allocated <> coalesce(sum(vm.cpu_cores), 0) or b.memory_mib_allocated <> coalesce(sum(vm.memory_mib), 0)) x`),
      hostsOvercommitted: await count(
        "select count(*) as n from baremetal where free_cpu_cores < 0 or free_memory_mib < 0 or free_storage_gib < 0",
      ),
      quotasWhoseCountersDrift:
        await count(`select count(*) as n from (select q.id from baremetal_group_tenant_quota q left join virtual_machine vm
        on vm.tenant_id = q.tenant_id and vm.group_id = q.group_id and vm.reserved group by q.id having q.cpu_used <> coalesce(sum(vm.cpu_cores), 0)) x`),
      quotasExceeded: await count("select count(*) as n from baremetal_group_tenant_quota where cpu_used > cpu_absolute"),
    };
  } finally {
    await client.end();
  }
}

/** How a server grouped VM creations into transactions (creation-batch.ts): its /metrics counters. */
export interface CreationBatching {
  /** Transactions that held more than one creation. */
  readonly batches: number;
  /** Creations committed in those. */
  readonly batched: number;
  /** Creations a batch handed on to run alone. */
  readonly handedOn: number;
  readonly failedBatches: number;
}

export async function creationBatching(serverUrl: string): Promise<CreationBatching> {
  const metrics = await (await fetch(`${serverUrl}/metrics`)).text();
  const counter = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(metrics)?.[1] ?? 0);
  return {
    batches: counter("rackplane_vm_creation_batches_total"),
    batched: counter("rackplane_vm_creations_batched_total"),
    handedOn: counter("rackplane_vm_creations_handed_on_total"),
    failedBatches: counter("rackplane_vm_creation_batches_failed_total"),
  };
}

/** The counters since `before` (or since the server started), as a line. */
export function describeBatching(now: CreationBatching, before?: CreationBatching): string {
  const since = (key: keyof CreationBatching) => now[key] - (before?.[key] ?? 0);
  const batches = since("batches");
  return (
    `batches: ${batches} holding ${since("batched")} creations (${batches ? (since("batched") / batches).toFixed(1) : "0"} per batch); ` +
    `handed on to run alone: ${since("handedOn")}; failed batches: ${since("failedBatches")}`
  );
}
