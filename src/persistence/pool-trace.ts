// What a pool is doing, for an operator (or a failing test) asking why calls wait: how many
// connections it has (open, idle, still connecting), how many callers wait for one, and for each
// connection held longer than a moment, for how long, the statement running on it (if any) and
// since when. A connection held with no statement running is held by its caller between statements
// (a transaction's work, or a caller that never released it); one with a statement running for long
// waits on the server (locks, synchronous replication) or on a socket that went silent.
//
// `tracePool` watches a pool through pg-pool's own events (connect, acquire, release, remove) and
// each connection's query calls; `poolSnapshot` reads the counts. The server logs snapshots of its
// pools every second when RACKPLANE_DB_TRACE_SECONDS is set (docs/deployment.md, "Diagnosing a
// wedged pool").
import type pg from "pg";

/** One held connection, as `poolSnapshot` reports it. */
export interface HeldConnection {
  /** How long ago the caller checked it out. */
  readonly heldMs: number;
  /** The start of the last statement sent on it (its first 80 characters). */
  readonly query?: string;
  /** How long ago that statement was sent. */
  readonly queryMs?: number;
  /** Whether that statement is still running (the connection waits for its answer). */
  readonly running: boolean;
}

export interface PoolSnapshot {
  /** Connections open or opening. */
  readonly total: number;
  readonly idle: number;
  /** Connections being opened (TCP, start-up, the pool guard's first question). */
  readonly connecting: number;
  /** Connections checked out by a caller. */
  readonly held: number;
  /** Callers waiting for a connection. */
  readonly waiting: number;
  /** The connections held for at least the snapshot's threshold, longest first (at most ten). */
  readonly longHeld: readonly HeldConnection[];
}

interface Traced {
  /** Checked-out connections and when they were checked out. */
  readonly held: Map<pg.PoolClient, number>;
}

interface LastQuery {
  text: string;
  at: number;
}

const traced = new WeakMap<pg.Pool, Traced>();
const lastQueries = new WeakMap<pg.ClientBase, LastQuery>();

/** Starts following `pool`'s connections (once per pool; later calls do nothing). */
export function tracePool(pool: pg.Pool): void {
  if (traced.has(pool)) return;
  const state: Traced = { held: new Map() };
  traced.set(pool, state);
  pool.on("connect", (client) => watchQueries(client));
  pool.on("acquire", (client) => state.held.set(client, Date.now()));
  pool.on("release", (_error, client) => state.held.delete(client));
  pool.on("remove", (client) => state.held.delete(client as pg.PoolClient));
}

/** `pool`'s counts now; connections held for `longerThanMs` or more are listed. */
export function poolSnapshot(pool: pg.Pool, longerThanMs = 1_000): PoolSnapshot {
  const now = Date.now();
  const state = traced.get(pool);
  const held = state ? [...state.held] : [];
  const longHeld = held
    .filter(([, since]) => now - since >= longerThanMs)
    .sort(([, a], [, b]) => a - b)
    .slice(0, 10)
    .map(([client, since]): HeldConnection => {
      const last = lastQueries.get(client);
      return {
        heldMs: now - since,
        ...(last ? { query: last.text, queryMs: now - last.at } : {}),
        running: isRunning(client),
      };
    });
  return {
    total: pool.totalCount,
    idle: pool.idleCount,
    connecting: Math.max(0, pool.totalCount - pool.idleCount - held.length),
    held: held.length,
    waiting: pool.waitingCount,
    longHeld,
  };
}

function watchQueries(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const first = args[0];
    const text = typeof first === "string" ? first : ((first as { text?: unknown } | null)?.text ?? "");
    // Only the start: a batch of creations sends one long text.
    lastQueries.set(client, { text: String(text).slice(0, 160).replace(/\s+/g, " ").slice(0, 80), at: Date.now() });
    return query(...args);
  };
}

/** Whether the client waits for the answer to a statement (node-postgres keeps it unexported). */
function isRunning(client: pg.ClientBase): boolean {
  const internal = client as unknown as { _getActiveQuery?: () => unknown; _queryQueue?: unknown[] };
  return Boolean(internal._getActiveQuery?.()) || (internal._queryQueue?.length ?? 0) > 0;
}
