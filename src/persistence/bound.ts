// A statement with its values bound as parameters rather than inlined. MikroORM's em.execute writes
// every value into the SQL text, so a statement over a batch (a thousand observations: ten arrays
// of a thousand values) costs the server escaping them all and PostgreSQL parsing them all as SQL
// literals. Here the text stays the same whatever the batch and each array travels as one bound
// parameter; it runs on the EntityManager's connection, inside its transaction if it is in one.
import type { EntityManager } from "@mikro-orm/postgresql";
import { CompiledQuery } from "kysely";

/** Runs `sql` (with `?` placeholders, none inside literals) with `params` bound; an array parameter
 * binds as one PostgreSQL array (cast it: `?::uuid[]`). */
export async function executeBound<T extends object>(em: EntityManager, sql: string, params: readonly unknown[]): Promise<T[]> {
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  try {
    const result = await em.getKysely().executeQuery<T>(CompiledQuery.raw(text, [...params]));
    return [...result.rows];
  } catch (error) {
    throw em
      .getPlatform()
      .getExceptionConverter()
      .convertException(error as Error);
  }
}
