import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";

/** The one handle use cases get to the database: every call works on its own forked EntityManager
 * (its own identity map), never on the global one. */
export class Database {
  constructor(readonly orm: MikroORM) {}

  em(): EntityManager {
    return this.orm.em.fork();
  }
}
