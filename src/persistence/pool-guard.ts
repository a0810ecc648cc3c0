// Keeps connections to a server that cannot take writes out of the pool. After a failover the proxy
// may, for a moment, still send new connections to the old primary (now a standby), and a pooled
// connection opened before may outlive the switch; both would go on failing every write with
// SQLSTATE 25006 for as long as the pool keeps them. A new connection whose first question
// (`pg_is_in_recovery()`) says it reached a standby is closed before anyone uses it; a pooled one
// that meets 25006 is destroyed when it is released instead of going back to the pool, so the next
// checkout opens a fresh one through the proxy.
// docs/deployment.md explains the failover this guards.
import type pg from "pg";

/** Counts an operator watches (exported as metrics by the server). */
export interface PoolGuardStats {
  /** Connections destroyed because they were on a read-only server. */
  droppedReadOnly: number;
  /** Errors the pool reported on idle connections (a server that went away). */
  idleErrors: number;
}

const stats = new WeakMap<pg.Pool, PoolGuardStats>();

/**
 * The pool options that install the guard: MikroORM passes them to the pg Pool it makes
 * (`driverOptions`). A new connection first asks `pg_is_in_recovery()`; on a standby it is closed
 * at once and the checkout fails with 25006, which callers answer as UNAVAILABLE (retry shortly).
 */
export function poolGuardOptions(): { onConnect(client: pg.PoolClient): Promise<void>; onPoolCreated(pool: pg.Pool): void } {
  const counts: PoolGuardStats = { droppedReadOnly: 0, idleErrors: 0 };
  return {
    async onConnect(client) {
      const { rows } = await client.query<{ standby: boolean }>("select pg_is_in_recovery() as standby");
      if (rows[0]?.standby) {
        counts.droppedReadOnly++;
        throw Object.assign(new Error("the new connection reached a read-only standby; the proxy has not followed the failover yet"), {
          code: "25006",
        });
      }
      guardClient(client, counts);
    },
    onPoolCreated(pool) {
      stats.set(pool, counts);
      pool.on("error", () => counts.idleErrors++);
    },
  };
}

/** The guard's counts for `pool`, zero when it has none. */
export function poolGuardStats(pool: pg.Pool): PoolGuardStats {
  return stats.get(pool) ?? { droppedReadOnly: 0, idleErrors: 0 };
}

function guardClient(client: pg.PoolClient, counts: PoolGuardStats): void {
  let readOnly = false;
  const doom = () => {
    if (!readOnly) counts.droppedReadOnly++;
    readOnly = true;
  };
  // pg-pool assigns `release` at every checkout; passing it an error is its documented way to
  // destroy the connection rather than keep it. The accessor adds that error when the connection
  // turned out to be read-only.
  let release: ((error?: Error | boolean) => void) | undefined;
  Object.defineProperty(client, "release", {
    configurable: true,
    enumerable: false,
    get: () => (error?: Error | boolean) =>
      release?.(error || (readOnly ? new Error("connection reached a read-only server; destroyed") : undefined)),
    set: (assigned: (error?: Error | boolean) => void) => {
      release = assigned;
    },
  });
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    // Only promise-returning calls are watched; a callback or a cursor reports its own errors.
    if (result instanceof Promise) result.catch((error: unknown) => (sqlState(error) === "25006" ? doom() : undefined));
    return result;
  };
}

function sqlState(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}
