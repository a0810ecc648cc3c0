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
  const probe = async () => {
    if (running) return;
    running = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        db.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`database probe took longer than ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      if (!serving) log("info", "database reachable again; serving");
      set(true);
    } catch (error) {
      if (serving) log("error", "database unreachable; not serving until it answers again", errorFields(error));
      set(false);
    } finally {
      clearTimeout(timer);
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
