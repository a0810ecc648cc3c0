// The pool guard (src/persistence/pool-guard.ts) against real PostgreSQL: a connection that met a
// read-only server (SQLSTATE 25006) is destroyed when released, the others go back to the pool;
// the error reads as "database unavailable" (UNAVAILABLE with a retry hint on the wire); a
// connection whose server went away inside a transaction goes back to the pool (destroyed) even
// though MikroORM's transaction never releases it; and migrations run under an advisory lock, so
// replicas opening one database together all succeed.
import type { MikroORM } from "@mikro-orm/postgresql";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { isDatabaseUnavailable } from "../../src/app/database-errors.js";
import { openDatabase } from "../../src/persistence/orm.js";
import { poolGuardStats } from "../../src/persistence/pool-guard.js";
import { openReadPool, readBound, readPoolOf, withReplicaReads } from "../../src/persistence/reads.js";
import { poolSnapshot } from "../../src/persistence/pool-trace.js";
import { freshDatabaseUrl } from "../support/database.js";
import { startSilentProxy } from "../support/silent-proxy.js";
import { withDatabase } from "../support/global-setup.js";

let url = "";
let orm: MikroORM;
let pool: pg.Pool;
beforeAll(async () => {
  url = await freshDatabaseUrl();
  orm = await openDatabase(`${url}${url.includes("?") ? "&" : "?"}application_name=pool-guard-test&statement_timeout=45000`, 4);
  pool = (await orm.em.getConnection().getNativeClient()) as pg.Pool;
});
afterAll(async () => {
  await orm.close();
});

it("destroys a connection that met a read-only transaction and keeps the others", async () => {
  const healthy = await pool.connect();
  const readOnly = await pool.connect();
  const before = pool.totalCount;
  await readOnly.query("set session characteristics as transaction read only");
  const error = await readOnly.query("create table pool_guard_probe (x int)").catch((e: unknown) => e);
  expect((error as { code?: string }).code).toBe("25006");
  expect(isDatabaseUnavailable(error)).toBe(true);
  await healthy.query("select 1");
  readOnly.release();
  healthy.release();
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(pool.totalCount).toBe(before - 1);
  expect(poolGuardStats(pool).droppedReadOnly).toBe(1);
  // The connection kept is a writable one: a write through the pool works.
  await pool.query("create table pool_guard_probe (x int)");
});

it("gives back a connection whose server went away inside a MikroORM transaction", async () => {
  // Kysely releases a transaction's connection only after a COMMIT or ROLLBACK that worked; on a
  // dead connection both fail. Before the guard gave such connections back, each of these
  // transactions kept one of the pool's four slots for good.
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const before = poolGuardStats(pool).lostInUse;
  try {
    for (let i = 0; i < 4; i++) {
      const error = await orm.em
        .fork()
        .transactional(async (em) => {
          const [row] = await em.execute<{ pid: number }[]>("select pg_backend_pid() as pid");
          await admin.query("select pg_terminate_backend($1)", [row!.pid]);
          // The server's goodbye arrives while the transaction holds the connection between statements.
          await new Promise((resolve) => setTimeout(resolve, 100));
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(error)).toBe(true);
    }
  } finally {
    await admin.end();
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(pool.totalCount - pool.idleCount).toBe(0);
  expect(poolGuardStats(pool).lostInUse).toBe(before + 4);
  // All four slots are free: four connections at once.
  const clients = await Promise.all(Array.from({ length: 4 }, () => pool.connect()));
  for (const client of clients) client.release();
});

it("gives back, destroyed, a read-pool connection whose server went away under a read, without crashing", async () => {
  // pg-pool hears a connection's errors only while it is idle. A connection cut without a word from
  // the server (a killed primary, a proxy's cut) raises 'error' before its read fails, while the read
  // still holds it: unheard, that ends a Node process (a replica crashed so in test:ha).
  const proxy = await startSilentProxy(url);
  const close = await openReadPool(orm, proxy.url, 2);
  try {
    const em = orm.em.fork();
    const read = withReplicaReads(() => readBound(em, "select pg_sleep(1) as slept", []));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await proxy.close();
    // The read itself is served: a replica that cannot answer falls back to the primary.
    expect(await read).toEqual([{ slept: "" }]);
    const replica = readPoolOf(pool)!;
    expect(poolGuardStats(replica).lostInUse).toBe(1);
    expect(replica.totalCount - replica.idleCount).toBe(0);
  } finally {
    await close();
  }
});

it("traces the connections held, with their last statement and whether it still runs", async () => {
  const client = await pool.connect();
  try {
    const sleeping = client.query("select pg_sleep(1.5)");
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const during = poolSnapshot(pool, 1_000);
    expect(during.held).toBe(1);
    expect(during.longHeld).toEqual([expect.objectContaining({ query: "select pg_sleep(1.5)", running: true })]);
    expect(during.longHeld[0]!.queryMs).toBeGreaterThanOrEqual(1_000);
    await sleeping;
    // Held between statements: nothing running.
    expect(poolSnapshot(pool, 1_000).longHeld).toEqual([expect.objectContaining({ query: "select pg_sleep(1.5)", running: false })]);
  } finally {
    client.release();
  }
  const after = poolSnapshot(pool, 0);
  expect(after).toMatchObject({ held: 0, waiting: 0, longHeld: [] });
  expect(after.idle).toBe(after.total);
});

it("gives every pooled connection the settings of the database URL", async () => {
  const { rows } = await pool.query("select current_setting('application_name') as name, current_setting('statement_timeout') as timeout");
  expect(rows[0]).toEqual({ name: "pool-guard-test", timeout: "45s" });
});

it("runs the migrations once when several replicas open the database at the same time", async () => {
  // An empty database (no template): every migration is pending.
  const server = inject("postgresServerUrl");
  const name = `rackplane_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`).finally(() => admin.end());
  const fresh = withDatabase(server, name);
  const opened = await Promise.all(Array.from({ length: 3 }, () => openDatabase(fresh, 2)));
  try {
    for (const replica of opened) expect(await replica.migrator.getPending()).toEqual([]);
  } finally {
    await Promise.all(opened.map((replica) => replica.close()));
  }
});
