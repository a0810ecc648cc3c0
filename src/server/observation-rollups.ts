// The hourly roll-up of observations (app/observations/history.ts) runs here, off the ingest path:
// every replica tries it on a timer and one at a time does it (an advisory lock), so a fleet of
// replicas needs no leader. A failed run is logged and retried on the next tick.
import type { Database } from "../app/database.js";
import { rollUpObservations } from "../app/observations/history.js";
import { errorFields, log } from "../log.js";

/** Starts rolling up every `intervalMs`; returns a function that stops and waits for a run under way. */
export function rollUpPeriodically(db: Database, intervalMs: number): () => Promise<void> {
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= rollUpObservations(db)
      .then((result) => {
        if (result && (result.samples > 0 || result.pruned > 0)) log("info", "rolled up observations", { ...result });
      })
      .catch((error: unknown) => log("warn", "observation roll-up failed; retrying on the next tick", errorFields(error)))
      .finally(() => (running = undefined));
  };
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
