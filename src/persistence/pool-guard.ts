// Keeps connections to a server that cannot take writes out of the pool. After a failover the proxy
// may, for a moment, still send new connections to the old primary (now a standby), and a pooled
// connection opened before may outlive the switch; both would go on failing every write with
// SQLSTATE 25006 for as long as the pool keeps them. A connection that meets 25006, or whose first
// question (`pg_is_in_recovery()`) says it reached a standby, is destroyed when it is released
// instead of going back to the pool, so the next checkout opens a fresh one through the proxy.
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

/** Installs the guard on `pool` (before it opens its first connection). */
export function guardPool(pool: pg.Pool): void {
  const counts: PoolGuardStats = { droppedReadOnly: 0, idleErrors: 0 };
  stats.set(pool, counts);
  pool.on("error", () => counts.idleErrors++);
  pool.on("connect", (client) => guardClient(client, counts));
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
  // Queued ahead of whatever the first borrower sends: the answer is in before that returns.
  (query("select pg_is_in_recovery() as standby") as Promise<pg.QueryResult<{ standby: boolean }>>).then(
    (result) => (result.rows[0]?.standby ? doom() : undefined),
    () => undefined,
  );
}

function sqlState(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}
