// A database that stops answering without closing anything (a server dead behind a proxy, a host
// cut off), through a relay that goes silent (tests/support/silent-proxy.ts). Every wait on it must
// end: a query, a checkout, a new connection's first question (the pool guard's), and the readiness
// probe; no pool slot may stay taken, and once the database answers again the pool works at once.
// Without these bounds one silent connection held its pool slot for good and readiness queued
// behind it: the wedged replica of docs/deployment.md ("What replicas do during a failover").
import type { MikroORM } from "@mikro-orm/postgresql";
import type pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/es/grpc/health/v1/health_pb.js";
import { Database } from "../../src/app/database.js";
import { isDatabaseUnavailable } from "../../src/app/database-errors.js";
import { openDatabase } from "../../src/persistence/orm.js";
import { poolGuardStats } from "../../src/persistence/pool-guard.js";
import { watchDatabase } from "../../src/server/database-health.js";
import { HealthStatus } from "../../src/server/health.js";
import { freshDatabaseUrl } from "../support/database.js";
import { type SilentProxy, startSilentProxy } from "../support/silent-proxy.js";

let proxy: SilentProxy;
let orm: MikroORM;
let pool: pg.Pool;
// connect_timeout=1: connecting and waiting for a free connection give up after 1 s; a query after
// statement_timeout + 5 s = 5.5 s.
const connectMs = 1_000;
const queryMs = 5_500;
// Room for a loaded machine: the bounds must hold, not be met to the millisecond.
const slack = 3_000;

beforeAll(async () => {
  proxy = await startSilentProxy(await freshDatabaseUrl());
  const url = new URL(proxy.url);
  url.searchParams.set("connect_timeout", "1");
  url.searchParams.set("statement_timeout", "500");
  orm = await openDatabase(url.toString(), 2);
  pool = (await orm.em.getConnection().getNativeClient()) as pg.Pool;
});
afterAll(async () => {
  proxy.mode = "open";
  await orm?.close();
  await proxy?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, timeoutMs: number, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The error `work` failed with, and how long it took to fail. */
async function failure(work: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  const error = await work().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "the call succeeded against a silent database").toBeDefined();
  return { error, ms: Date.now() - started };
}

it("gives up on a query the server never answers, as unavailable, and frees its connection", async () => {
  const em = orm.em.fork();
  await em.execute("select 1");
  const timedOut = poolGuardStats(pool).timedOut;
  proxy.mode = "silent";
  // Through MikroORM's driver, which releases a connection without an error: the guard destroys it.
  const { error, ms } = await failure(() => em.execute("select 1"));
  expect(isDatabaseUnavailable(error)).toBe(true);
  expect(ms).toBeGreaterThanOrEqual(queryMs - 100);
  expect(ms).toBeLessThan(queryMs + slack);
  expect(poolGuardStats(pool).timedOut).toBe(timedOut + 1);
  await until("the silent connection to leave the pool", slack, () => pool.totalCount === 0);

  // A new connection cannot open: the checkout gives up after the connect timeout.
  const refused = await failure(() => pool.query("select 1"));
  expect(isDatabaseUnavailable(refused.error)).toBe(true);
  expect(refused.ms).toBeLessThan(connectMs + slack);
  await until("the pool to hold nothing", slack, () => pool.totalCount === 0 && pool.waitingCount === 0);

  proxy.mode = "open";
  expect(await orm.em.fork().execute("select 1 as one")).toEqual([{ one: 1 }]);
});

it("gives a new connection's slot back when its first question gets no answer, and callers waiting for one", async () => {
  // Connections opened before keep working: hold them, so every call below needs a new one.
  const held = await Promise.all(Array.from({ length: pool.idleCount }, () => pool.connect()));
  proxy.mode = "silent-after-start-up";
  const timedOut = poolGuardStats(pool).timedOut;
  // Twice the pool: new connections whose first question hangs, and calls waiting for a free one.
  const failures = await Promise.all(Array.from({ length: 4 }, () => failure(() => orm.em.fork().execute("select 1"))));
  for (const { error, ms } of failures) {
    expect(isDatabaseUnavailable(error), String(error)).toBe(true);
    expect(ms).toBeLessThan(2 * connectMs + slack);
  }
  expect(poolGuardStats(pool).timedOut).toBeGreaterThan(timedOut);
  await until("the pool to hold only the connections held", slack, () => pool.totalCount === held.length && pool.waitingCount === 0);
  for (const client of held) client.release();

  proxy.mode = "open";
  const rows = await Promise.all(Array.from({ length: 4 }, () => orm.em.fork().execute("select 1 as one")));
  expect(rows.flat()).toEqual(Array.from({ length: 4 }, () => ({ one: 1 })));
});

it("keeps probing readiness without piling up on a silent database, and is ready once it answers", async () => {
  const health = new HealthStatus();
  const watch = watchDatabase(new Database(orm), health, [], { intervalMs: 100, timeoutMs: 300 });
  try {
    await until("the first probe", slack, () => proxy.connections > pool.totalCount);
    proxy.mode = "silent";
    await until("NOT_SERVING", 2_000 + slack, () => health.get("") === ServingStatus.NOT_SERVING);
    expect(watch.reason()).toMatch(/^database unreachable: /);
    // Many probe intervals of silence: the probe holds one connection of its own at most, dropped
    // and opened again on each probe, and takes nothing from the pool.
    for (let i = 0; i < 30; i++) {
      expect(proxy.connections - pool.totalCount).toBeLessThanOrEqual(1);
      expect(pool.waitingCount).toBe(0);
      await sleep(100);
    }
    proxy.mode = "open";
    await until("SERVING again", connectMs + 2_000 + slack, () => health.get("") === ServingStatus.SERVING);
    expect(watch.reason()).toBeUndefined();
  } finally {
    await watch.stop();
    proxy.mode = "open";
  }
});
