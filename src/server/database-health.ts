// Health follows the database: a replica whose PostgreSQL is down can answer nothing useful, so it
// says NOT_SERVING (grpc.health.v1) until a probe gets through again, and load balancers send the
// calls elsewhere. The pool recovers by itself: a connection that broke is dropped and a new one
// opened on the next checkout, so nothing here reconnects anything.
//
// Two questions, kept apart. Does the database answer and take writes? Asked on a connection of the
// probe's own (persistence/probe-connection.ts), so a busy pool does not make a healthy database look
// down. Is this replica's pool making progress? Judged from its counts: every connection held and
// none handed out for `timeoutMs` is a wedged pool (connections leaked, or all stuck on a silent
// server or a lock), and calls would wait on it for nothing. A full pool that keeps handing out
// connections — thousands of agents reconnecting at once — is busy, not broken, and stays SERVING:
// taking every replica out of rotation at once during such a burst would leave nowhere to go. A
// probe that fails while this process's own event loop was held up says so ("replica overloaded"):
// the answer may have been waiting to be read.
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Database, PoolState } from "../app/database.js";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/es/grpc/health/v1/health_pb.js";
import type { HealthStatus } from "./health.js";
import { errorFields, log } from "../log.js";

export interface DatabaseProbeOptions {
  /** How often the database is asked (default 1 s). */
  readonly intervalMs?: number;
  /** A probe that takes longer than this counts as failed, and a full pool that handed out nothing
   * for this long counts as wedged (default 2 s). */
  readonly timeoutMs?: number;
}

export interface DatabaseWatch {
  /** Why the replica is not serving, while it is not; undefined while it is. */
  reason(): string | undefined;
  stop(): Promise<void>;
}

/** Probes the database with `pg_is_in_recovery()` and watches the pool, and sets every service's
 * health from the answers. */
export function watchDatabase(
  db: Database,
  health: HealthStatus,
  services: readonly string[],
  options: DatabaseProbeOptions = {},
): DatabaseWatch {
  const intervalMs = options.intervalMs ?? 1_000;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const connection = db.probeConnection();
  let reason: string | undefined;
  let running: Promise<void> | undefined;
  let lastReport = 0;
  // How late this process's timers ran during each probe.
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  // The last time the pool had room or handed out a connection, and how many it had handed out.
  let progress = { at: Date.now(), checkouts: -1 };
  const probe = async () => {
    let timer: NodeJS.Timeout | undefined;
    let late = 0;
    // The probe's own query is bounded (askPrimary), and the next probe waits until it has settled:
    // probes never pile up, however long the database is silent. NOT_SERVING does not wait for it:
    // past `timeoutMs` the replica is not ready.
    loop.reset();
    const asked = connection.then((c) => c.askPrimary(timeoutMs));
    try {
      try {
        await Promise.race([
          asked,
          new Promise((_, reject) => {
            const due = Date.now() + timeoutMs;
            timer = setTimeout(() => {
              late = Date.now() - due;
              reject(new Error(`database probe took longer than ${timeoutMs} ms`));
            }, timeoutMs);
          }),
        ]);
      } catch (error) {
        // The pool's progress is judged afresh once the database answers again.
        progress = { at: Date.now(), checkouts: -1 };
        // An answer can be late because this process could not read it: its event loop held up
        // (thousands of agent streams opening at once). Not ready either way, but said as it is.
        // The loop's delays as measured so far, and how late the probe's own timer ran: a loop held
        // up just now shows in the timer before the measurement records it.
        const heldUpMs = Math.max(Math.round(loop.max / 1e6), late);
        if (heldUpMs >= timeoutMs / 2) {
          return await fail(
            "replica overloaded",
            "replica still overloaded",
            new Error(`its event loop was held up for ${heldUpMs} ms; ${error instanceof Error ? error.message : String(error)}`),
          );
        }
        return await fail("database unreachable", "database still unreachable", error);
      }
      const pool = await db.poolState();
      if (!wedged(pool)) return set(undefined, pool);
      await fail(
        "database pool wedged",
        "database pool still wedged",
        new Error(
          `all ${pool.total} connections held and none handed out for ${Date.now() - progress.at} ms (${pool.waiting} callers waiting)`,
        ),
        pool,
      );
    } finally {
      clearTimeout(timer);
      await asked.catch(() => undefined);
    }
  };
  const wedged = (pool: PoolState): boolean => {
    const now = Date.now();
    if (pool.idle > 0 || pool.total < pool.max || pool.checkouts !== progress.checkouts) progress = { at: now, checkouts: pool.checkouts };
    return now - progress.at >= timeoutMs;
  };
  const fail = async (what: string, stillWhat: string, error: unknown, known?: PoolState) => {
    const first = !reason?.startsWith(what);
    if (first || Date.now() - lastReport >= 10_000) {
      lastReport = Date.now();
      // The pool's counts tell a database that is down (connections failing, none held) from a pool
      // that is wedged (connections held or callers waiting while the database answers others).
      log(first ? "error" : "warn", first ? `${what}; not serving until it recovers` : stillWhat, {
        ...errorFields(error),
        pool: known ?? (await db.poolState()),
        // Which connections are held, and on what statement.
        pools: await db.poolTrace().catch(() => undefined),
      });
    }
    set(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  };
  const set = (why: string | undefined, pool?: PoolState) => {
    if (reason !== undefined && why === undefined) log("info", "database reachable and pool moving again; serving", { pool });
    reason = why;
    const status = why === undefined ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    for (const service of ["", ...services]) if (health.get(service) !== status) health.set(service, status);
  };
  const interval = setInterval(() => {
    running ??= probe()
      .catch((error: unknown) => log("warn", "readiness probe failed", errorFields(error)))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  interval.unref();
  return {
    reason: () => reason,
    async stop() {
      clearInterval(interval);
      loop.disable();
      await running;
      await (await connection).close();
    },
  };
}
