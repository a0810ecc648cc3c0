// Health follows the database: a replica whose PostgreSQL is down can answer nothing useful, so it
// says NOT_SERVING (grpc.health.v1) until a probe gets through again, and load balancers send the
// calls elsewhere. The pool recovers by itself: a connection that broke is dropped and a new one
// opened on the next checkout, so nothing here reconnects anything.
import type { Database } from "../app/database.js";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/es/grpc/health/v1/health_pb.js";
import type { HealthStatus } from "./health.js";
import { errorFields, log } from "../log.js";

export interface DatabaseProbeOptions {
  /** How often the database is asked (default 1 s). */
  readonly intervalMs?: number;
  /** A probe that takes longer than this counts as failed (default 2 s). */
  readonly timeoutMs?: number;
}

/** Probes the database with `select 1` and sets every service's health from the answer. Returns a
 * function that stops probing. */
export function watchDatabase(
  db: Database,
  health: HealthStatus,
  services: readonly string[],
  options: DatabaseProbeOptions = {},
): () => void {
  const intervalMs = options.intervalMs ?? 1_000;
  const timeoutMs = options.timeoutMs ?? 2_000;
  let serving = true;
  let running = false;
  let lastReport = 0;
  const probe = async () => {
    if (running) return;
    running = true;
    let timer: NodeJS.Timeout | undefined;
    // The probe's own query is bounded (db.ping), and the next probe waits until it has settled:
    // a probe never queues behind another for a pool connection, however long the database is
    // silent. NOT_SERVING does not wait for it: past `timeoutMs` the replica is not ready.
    const ping = db.ping(timeoutMs);
    try {
      await Promise.race([
        ping,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`database probe took longer than ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      if (!serving) log("info", "database reachable again; serving", { pool: await db.poolState() });
      set(true);
    } catch (error) {
      // The pool's counts tell a database that is down (connections failing, none held) from a pool
      // that is wedged (connections held or callers waiting while the database answers others).
      if (serving || Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        log(
          serving ? "error" : "warn",
          serving ? "database unreachable; not serving until it answers again" : "database still unreachable",
          {
            ...errorFields(error),
            pool: await db.poolState(),
            // Which connections are held, and on what statement.
            pools: await db.poolTrace().catch(() => undefined),
          },
        );
      }
      set(false);
    } finally {
      clearTimeout(timer);
      await ping.catch(() => undefined);
      running = false;
    }
  };
  const set = (up: boolean) => {
    serving = up;
    const status = up ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    for (const service of ["", ...services]) if (health.get(service) !== status) health.set(service, status);
  };
  const interval = setInterval(() => void probe(), intervalMs);
  interval.unref();
  return () => clearInterval(interval);
}
