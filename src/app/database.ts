import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type pg from "pg";
import { poolGuardStats, timedQuery } from "../persistence/pool-guard.js";
import { poolSnapshot, type PoolSnapshot } from "../persistence/pool-trace.js";
import { readPoolOf } from "../persistence/reads.js";

/** The pool's counts: connections open and idle, callers waiting, and what the pool guard dropped. */
export interface PoolState {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
  readonly idleErrors: number;
  readonly droppedReadOnly: number;
  readonly timedOut: number;
  readonly lostInUse: number;
}

/** The one handle use cases get to the database: every call works on its own forked EntityManager
 * (its own identity map), never on the global one. */
export class Database {
  constructor(readonly orm: MikroORM) {}

  em(): EntityManager {
    return this.orm.em.fork();
  }

  /** Asks a pooled connection, past the ORM (and its query log), whether the server it reached
   * takes writes: the readiness probe's question. Throws when it does not answer within
   * `timeoutMs` once it has a connection (the connection is then destroyed, not pooled again), or
   * reached a standby. Getting a connection is bounded by the pool (persistence/pool-guard.ts). */
  async ping(timeoutMs = 2_000): Promise<void> {
    const pool = (await this.orm.em.getConnection().getNativeClient()) as pg.Pool;
    const { rows } = await pool.query<{ standby: boolean }>(timedQuery("select pg_is_in_recovery() as standby", timeoutMs));
    if (rows[0]?.standby) throw new Error("the database is a read-only standby, not a primary");
  }

  /** The pool's counts, for metrics: connections open and idle, callers waiting, and what the pool
   * guard dropped (persistence/pool-guard.ts). */
  async poolState(): Promise<PoolState> {
    const pool = (await this.orm.em.getConnection().getNativeClient()) as pg.Pool;
    return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, ...poolGuardStats(pool) };
  }

  /** What the primary pool and the read pool (when there is one) are doing now, with the
   * connections held for `longerThanMs` or more: for diagnosing waits (persistence/pool-trace.ts). */
  async poolTrace(longerThanMs = 1_000): Promise<{ primary: PoolSnapshot; read?: PoolSnapshot }> {
    const pool = (await this.orm.em.getConnection().getNativeClient()) as pg.Pool;
    const read = readPoolOf(pool);
    return { primary: poolSnapshot(pool, longerThanMs), ...(read ? { read: poolSnapshot(read, longerThanMs) } : {}) };
  }
}
