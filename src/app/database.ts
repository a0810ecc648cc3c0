import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type pg from "pg";
import { poolGuardStats } from "../persistence/pool-guard.js";
import { ProbeConnection } from "../persistence/probe-connection.js";
import { poolSnapshot, type PoolSnapshot } from "../persistence/pool-trace.js";
import { readPoolOf } from "../persistence/reads.js";

/** The pool's counts: connections open and idle, callers waiting, and what the pool guard dropped. */
export interface PoolState {
  readonly total: number;
  /** The most it opens. */
  readonly max: number;
  readonly idle: number;
  readonly waiting: number;
  readonly idleErrors: number;
  readonly droppedReadOnly: number;
  readonly timedOut: number;
  readonly lostInUse: number;
  /** Connections handed out since it was made. */
  readonly checkouts: number;
}

/** The one handle use cases get to the database: every call works on its own forked EntityManager
 * (its own identity map), never on the global one. */
export class Database {
  constructor(readonly orm: MikroORM) {}

  em(): EntityManager {
    return this.orm.em.fork();
  }

  /** A connection of its own, outside the pool, for the readiness probe to ask the primary whether
   * it answers and takes writes (persistence/probe-connection.ts). The caller closes it. */
  async probeConnection(): Promise<ProbeConnection> {
    const pool = (await this.orm.em.getConnection().getNativeClient()) as pg.Pool;
    return new ProbeConnection(pool.options);
  }

  /** The pool's counts, for metrics: connections open and idle, callers waiting, and what the pool
   * guard dropped (persistence/pool-guard.ts). */
  async poolState(): Promise<PoolState> {
    const pool = (await this.orm.em.getConnection().getNativeClient()) as pg.Pool;
    return {
      total: pool.totalCount,
      max: pool.options.max ?? 10,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      ...poolGuardStats(pool),
    };
  }

  /** What the primary pool and the read pool (when there is one) are doing now, with the
   * connections held for `longerThanMs` or more: for diagnosing waits (persistence/pool-trace.ts). */
  async poolTrace(longerThanMs = 1_000): Promise<{ primary: PoolSnapshot; read?: PoolSnapshot }> {
    const pool = (await this.orm.em.getConnection().getNativeClient()) as pg.Pool;
    const read = readPoolOf(pool);
    return { primary: poolSnapshot(pool, longerThanMs), ...(read ? { read: poolSnapshot(read, longerThanMs) } : {}) };
  }
}
