// Readiness against a real PostgreSQL: a busy pool is not a broken one. The probe asks the database
// on a connection of its own, so a pool whose every connection is taken but keeps handing them out
// (thousands of agents reconnecting at once) stays SERVING; a pool that hands nothing out for the
// probe's timeout with every connection held is wedged, and the replica leaves rotation until one
// comes back (server/database-health.ts).
import type { MikroORM } from "@mikro-orm/postgresql";
import type pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/es/grpc/health/v1/health_pb.js";
import { Database } from "../../src/app/database.js";
import { openDatabase } from "../../src/persistence/orm.js";
import { watchDatabase } from "../../src/server/database-health.js";
import { HealthStatus } from "../../src/server/health.js";
import { freshDatabaseUrl } from "../support/database.js";

let orm: MikroORM;
let pool: pg.Pool;
const timeoutMs = 300;
// For the busy pool: long enough that the probe's own select is never late on a loaded machine.
const busyTimeoutMs = 800;
const slack = 3_000;

beforeAll(async () => {
  orm = await openDatabase(await freshDatabaseUrl(), 2);
  pool = (await orm.em.getConnection().getNativeClient()) as pg.Pool;
});
afterAll(async () => {
  await orm?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the overall health is `status`. */
const healthIs = (health: HealthStatus, status: ServingStatus, timeout: number) =>
  expect.poll(() => health.get(""), { timeout, interval: 20 }).toBe(status);

it("stays SERVING while a full pool keeps handing out connections to a queue longer than the probe's timeout", async () => {
  const health = new HealthStatus();
  const watch = watchDatabase(new Database(orm), health, ["rackplane.v1.Example"], { intervalMs: 50, timeoutMs: busyTimeoutMs });
  try {
    const serving = () => health.get("") === ServingStatus.SERVING && health.get("rackplane.v1.Example") === ServingStatus.SERVING;
    await expect.poll(serving, { timeout: slack, interval: 20 }).toBe(true);
    // Forty callers, each taking a connection for 60 ms, on a pool of two: the last in the queue
    // waits about 40 × 60 / 2 = 1,200 ms, half again the probe's timeout, all through.
    let busy = true;
    let longestQueue = 0;
    let notServing = 0;
    const callers = Array.from({ length: 40 }, async () => {
      while (busy) await orm.em.fork().execute("select pg_sleep(0.06)");
    });
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      longestQueue = Math.max(longestQueue, pool.waitingCount);
      if (!serving()) notServing++;
      await sleep(10);
    }
    busy = false;
    await Promise.all(callers);
    expect(longestQueue).toBeGreaterThanOrEqual(30);
    expect(notServing).toBe(0);
    expect(watch.reason()).toBeUndefined();
  } finally {
    await watch.stop();
  }
});

it("goes NOT_SERVING, saying why, when every connection is held and none handed out; SERVING once one comes back", async () => {
  const health = new HealthStatus();
  const watch = watchDatabase(new Database(orm), health, [], { intervalMs: 50, timeoutMs });
  const held = await Promise.all([pool.connect(), pool.connect()]);
  // A caller queued behind them: the calls a wedged replica would keep taking.
  const queued = orm.em.fork().execute("select 1 as one");
  try {
    await healthIs(health, ServingStatus.NOT_SERVING, timeoutMs + slack);
    expect(watch.reason()).toMatch(/^database pool wedged: all 2 connections held and none handed out for \d+ ms \(1 callers waiting\)$/);
    held.pop()!.release();
    expect(await queued).toEqual([{ one: 1 }]);
    await healthIs(health, ServingStatus.SERVING, timeoutMs + slack);
    expect(watch.reason()).toBeUndefined();
  } finally {
    for (const client of held) client.release();
    await watch.stop();
  }
});

it("says the replica is overloaded, not the database unreachable, when its own event loop held the answer up", async () => {
  const health = new HealthStatus();
  const db = new Database(orm);
  // Once the probe has sent its question, the process stays busy for three of its timeouts: the
  // answer arrives, but nothing reads it in time.
  let holdUp = false;
  const open = db.probeConnection.bind(db);
  db.probeConnection = async () => {
    const connection = await open();
    const ask = connection.askPrimary.bind(connection);
    connection.askPrimary = (ms: number) => {
      const asked = ask(ms);
      if (holdUp) {
        holdUp = false;
        const until = Date.now() + 3 * timeoutMs;
        while (Date.now() < until) {
          // the event loop is held
        }
      }
      return asked;
    };
    return connection;
  };
  const watch = watchDatabase(db, health, [], { intervalMs: 50, timeoutMs });
  try {
    await healthIs(health, ServingStatus.SERVING, slack);
    holdUp = true;
    await healthIs(health, ServingStatus.NOT_SERVING, slack);
    expect(watch.reason()).toMatch(/^replica overloaded: its event loop was held up for \d+ ms; database probe took longer than 300 ms$/);
    await healthIs(health, ServingStatus.SERVING, slack);
  } finally {
    await watch.stop();
  }
});
