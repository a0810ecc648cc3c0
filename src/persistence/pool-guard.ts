// Keeps the pool healthy through a failover. Two kinds of connection must not stay in it:
//
// - One on a server that cannot take writes. After a failover the proxy may, for a moment, still
//   send new connections to the old primary (now a standby), and a pooled connection opened before
//   may outlive the switch; both would go on failing every write with SQLSTATE 25006 for as long as
//   the pool keeps them. A new connection whose first question (`pg_is_in_recovery()`) says it
//   reached a standby is closed before anyone uses it; a pooled one that meets 25006 is destroyed
//   when it is released instead of going back to the pool, so the next checkout opens a fresh one
//   through the proxy.
// - One that stopped answering. A server that dies or is cut off mid-conversation (a proxy still
//   routing to it, a host gone) may leave the socket open with nothing ever coming back. Every wait
//   is bounded: opening a connection (`connectMs`), waiting for a free one (`checkoutMs`), each
//   query (`query_timeout`, after which the socket is destroyed, so the connection leaves the pool
//   wherever it is released — MikroORM's driver releases without an error), the first question,
//   and closing a connection (a socket whose polite goodbye gets no answer is destroyed).
//
// Without those bounds one silent connection was enough to wedge a replica for good: the pool slot
// it held never came back, and the readiness probe, retried every second, queued behind it.
// docs/deployment.md explains the failover this guards.
import pg from "pg";
import { tracePool } from "./pool-trace.js";

/** Counts an operator watches (exported as metrics by the server). */
export interface PoolGuardStats {
  /** Connections destroyed because they were on a read-only server. */
  droppedReadOnly: number;
  /** Errors the pool reported on idle connections (a server that went away). */
  idleErrors: number;
  /** Connections destroyed because a query (or the first question) got no answer in time. */
  timedOut: number;
  /** Connections that died while checked out, given back to the pool (destroyed) by the guard. */
  lostInUse: number;
  /** Connections handed out since the pool was made: whether a full pool is making progress. */
  checkouts: number;
}

/** The waits on the database, in milliseconds. */
export interface PoolTimeouts {
  /** Opening a connection (TCP, TLS, start-up). */
  readonly connectMs: number;
  /** Waiting for a free connection when the pool is full. Longer than connecting: a burst (ten
   * thousand agents reconnecting after a restart) queues for a while behind a healthy database, and
   * failing it after a connect's few seconds turned a queue into errors and retries. */
  readonly checkoutMs: number;
  /** One query, measured by the client: past it the connection is destroyed. Longer than the
   * server's `statement_timeout`, so a slow statement is cancelled by the server first. */
  readonly queryMs: number;
}

/** The default waits: 5 s to connect; 30 s for a free connection; 60 s for a query, or the URL's
 * `statement_timeout` plus 5 s when it sets one. */
export function poolTimeouts(settings: { connect_timeout?: number; statement_timeout?: number } = {}): PoolTimeouts {
  const connectMs = settings.connect_timeout !== undefined ? settings.connect_timeout * 1000 : 5_000;
  return {
    connectMs,
    checkoutMs: Math.max(connectMs, 30_000),
    queryMs: settings.statement_timeout ? settings.statement_timeout + 5_000 : 60_000,
  };
}

const stats = new WeakMap<pg.Pool, PoolGuardStats>();

/**
 * How long a pooled connection may sit idle before the pool closes it: minutes, not node-postgres's
 * ten seconds. A new PostgreSQL backend plans its first statements with a cold catalog cache (a
 * twelve-table read took ~30 ms to plan on a fresh backend against ~0.2 ms to run warm) and
 * re-prepares every named read, so closing connections between bursts made every burst pay that
 * again on each of them (issue 17's GetVirtualMachine at a million VMs).
 */
export const idleTimeoutMillis = 5 * 60_000;

/** TCP keep-alive on every connection: a peer that vanished without a word is noticed by the kernel
 * even on a connection with nothing to say (an idle pooled one, the notification listener). */
export const keepAlive = { keepAlive: true, keepAliveInitialDelayMillis: 10_000 } as const;

/**
 * The pool options that install the guard: MikroORM passes them to the pg Pool it makes
 * (`driverOptions`). A new connection first asks `pg_is_in_recovery()`; on a standby it is closed
 * at once and the checkout fails with 25006, which callers answer as UNAVAILABLE (retry shortly).
 */
export function poolGuardOptions(timeouts: PoolTimeouts = poolTimeouts()): {
  connectionTimeoutMillis: number;
  Client: typeof pg.Client;
  query_timeout: number;
  keepAlive: true;
  keepAliveInitialDelayMillis: number;
  idleTimeoutMillis: number;
  onConnect(client: pg.PoolClient): Promise<void>;
  onPoolCreated(pool: pg.Pool): void;
} {
  const counts: PoolGuardStats = { droppedReadOnly: 0, idleErrors: 0, timedOut: 0, lostInUse: 0, checkouts: 0 };
  return {
    // node-postgres's pool uses one option for both waits: the checkout's here, the connect's in
    // each connection it opens.
    connectionTimeoutMillis: timeouts.checkoutMs,
    Client: connectingWithin(timeouts.connectMs),
    query_timeout: timeouts.queryMs,
    ...keepAlive,
    idleTimeoutMillis,
    async onConnect(client) {
      // pg-pool closes a connection whose hook failed and only then answers the checkout: the close
      // must end too.
      boundEnd(client, timeouts.connectMs);
      // The first question gets the time a connection gets to open: a new connection that does not
      // answer it is as good as one that did not open.
      const { rows } = await client
        .query<{ standby: boolean }>(timedQuery("select pg_is_in_recovery() as standby", timeouts.connectMs))
        .catch((error: unknown) => {
          if (isReadTimeout(error)) {
            counts.timedOut++;
            throw Object.assign(new Error("a new connection did not answer its first question in time", { cause: error }), {
              code: "08006",
            });
          }
          throw error;
        });
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
      pool.on("acquire", () => counts.checkouts++);
      tracePool(pool);
    },
  };
}

/**
 * The read pool's share of the guard (reads.ts, `openReadPool`): a connection that dies while
 * checked out goes back to the pool destroyed. pg-pool listens for a connection's errors only while
 * it is idle, so without this a replica that went away under a read crashed the process with an
 * unheard 'error' event. A read pool's server may be a standby by design: nothing checks for one.
 */
export function readPoolGuard(): { onConnect(client: pg.PoolClient): void; onPoolCreated(pool: pg.Pool): void } {
  const counts: PoolGuardStats = { droppedReadOnly: 0, idleErrors: 0, timedOut: 0, lostInUse: 0, checkouts: 0 };
  return {
    onConnect: (client) => guardClient(client, counts),
    onPoolCreated(pool) {
      stats.set(pool, counts);
      // An idle connection whose server went away: the pool has dropped it already.
      pool.on("error", () => counts.idleErrors++);
      pool.on("acquire", () => counts.checkouts++);
    },
  };
}

/** A connection class whose connect gives up after `connectMs`, whatever the pool's own wait. */
export function connectingWithin(connectMs: number): typeof pg.Client {
  return class extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      // A copy with every own property as it is: the pool keeps the password non-enumerable (out of
      // logs), so a spread would drop it.
      const options: pg.ClientConfig =
        typeof config === "string"
          ? { connectionString: config }
          : Object.defineProperties({}, Object.getOwnPropertyDescriptors(config ?? {}));
      options.connectionTimeoutMillis = connectMs;
      super(options);
    }
  };
}

/** The guard's counts for `pool`, zero when it has none. */
export function poolGuardStats(pool: pg.Pool): PoolGuardStats {
  return stats.get(pool) ?? { droppedReadOnly: 0, idleErrors: 0, timedOut: 0, lostInUse: 0, checkouts: 0 };
}

/** A query with its own `query_timeout` (node-postgres reads it per query; its types omit it). */
export function timedQuery(text: string, timeoutMs: number): pg.QueryConfig {
  return { text, query_timeout: timeoutMs } as pg.QueryConfig;
}

/** node-postgres's error for a query that outlived `query_timeout`. */
export function isReadTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === "Query read timeout";
}

/** The socket under a node-postgres client (not part of its typed interface). */
export function destroySocket(client: pg.ClientBase): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/**
 * `client.end()` bounded: a polite close sends Terminate and waits for the server to hang up, which
 * a server that stopped answering never does. Past `ms` the socket is destroyed, which ends it.
 */
export function boundEnd(client: pg.Client, ms: number): void {
  const end = client.end.bind(client) as (callback?: (error?: Error) => void) => Promise<void> | undefined;
  (client as { end: unknown }).end = (callback?: (error?: Error) => void) => {
    const timer = setTimeout(() => destroySocket(client), ms);
    timer.unref();
    client.once("end", () => clearTimeout(timer));
    return end(callback);
  };
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
  let held = false;
  let releasedForHolder = false;
  Object.defineProperty(client, "release", {
    configurable: true,
    enumerable: false,
    get: () => (error?: Error | boolean) => {
      // The guard gave the connection back already (it died while held): the holder's own release
      // is then a no-op, not pg-pool's double-release error.
      if (!held && releasedForHolder) return;
      held = false;
      release?.(error || (readOnly ? new Error("connection reached a read-only server; destroyed") : undefined));
    },
    set: (assigned: (error?: Error | boolean) => void) => {
      release = assigned;
      held = true;
      releasedForHolder = false;
    },
  });
  // A connection that dies while checked out goes back to the pool at once, destroyed. Not every
  // holder gives a dead connection back: Kysely (under MikroORM's transactions) releases a
  // transaction's connection only after a COMMIT or ROLLBACK that succeeded, so when the server went
  // away mid-transaction (killed, failed over, cut by HAProxy) both fail and the connection stayed
  // checked out for good. Each such transaction took one pool slot for the life of the process; a
  // failover under load took most of them, and the replica's checkouts timed out long after the
  // database was back (docs/deployment.md, "The failover test").
  const lost = (error?: Error) => {
    if (!held) return;
    held = false;
    releasedForHolder = true;
    counts.lostInUse++;
    release?.(error ?? new Error("the connection ended while checked out; destroyed"));
  };
  client.on("end", () => lost());
  client.on("error", (error: Error) => lost(error));
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    // Only promise-returning calls are watched; a callback or a cursor reports its own errors (and
    // pg-pool's own `pool.query` releases a timed-out connection with the error, destroying it).
    if (result instanceof Promise) {
      result.catch((error: unknown) => {
        if (sqlState(error) === "25006") doom();
        else if (isReadTimeout(error)) {
          // The query is still outstanding on the connection: nothing else may queue behind it, and
          // whoever holds the connection releases it without an error. A dead socket leaves the pool
          // at release whatever is passed.
          counts.timedOut++;
          destroySocket(client);
        }
      });
    }
    return result;
  };
}

function sqlState(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}
