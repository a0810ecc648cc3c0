import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type pg from "pg";

/** The one handle use cases get to the database: every call works on its own forked EntityManager
 * (its own identity map), never on the global one. */
export class Database {
  constructor(readonly orm: MikroORM) {}

  em(): EntityManager {
    return this.orm.em.fork();
  }

  /** Asks the database for `select 1` on a pooled connection, past the ORM (and its query log):
   * the health probe's question, whether the database answers at all. */
  async ping(): Promise<void> {
    const pool = (await this.orm.em.getConnection().getNativeClient()) as pg.Pool;
    await pool.query("select 1");
  }
}
