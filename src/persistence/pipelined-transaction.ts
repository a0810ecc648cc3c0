// A transaction that costs no round trips of its own. MikroORM's `transactional` sends BEGIN and
// COMMIT as statements of their own, and every statement through it passes several layers; for the
// hottest mutation (a VM creation: two statements of its own) those two extra round trips and the
// layers were a large share of its cost. Here BEGIN travels with the first statement and COMMIT with
// the one the use case marks final, as one simple-protocol query string ("begin; …" / "…; commit"),
// on a connection of the same pool MikroORM uses. `executeAll` sends several statements in one such
// string (a batch of VM creations sends every creation's statement at once).
//
// Statements take `?` placeholders, filled with the same literals MikroORM's em.execute writes (see
// `formatStatement`), so the use case's helpers accept either this or an EntityManager (`Sql`).
// Errors are converted to MikroORM's exception classes, as em.execute does. A use case must not run
// anything after the final statement: its checks belong in that statement (see the
// `rackplane_require` function).
import type { MikroORM } from "@mikro-orm/postgresql";
import type pg from "pg";
import { ensurePrepared, type PreparedSession } from "./prepared.js";
import type { Sql, Statement } from "./sql.js";

export interface PipelinedTransaction extends Sql, PreparedSession {
  /** The next statement (or list of them) commits the transaction in the same round trip. */
  commitWithNext(): void;
  /** Runs the statements in order in one round trip, as one query string; the rows of each. If one
   * fails, those after it do not run and the transaction is aborted. */
  executeAll(statements: readonly Statement[]): Promise<object[][]>;
}

export async function pipelinedTransaction<R>(orm: MikroORM, work: (tx: PipelinedTransaction) => Promise<R>): Promise<R> {
  const platform = orm.em.getPlatform();
  const pool = (await orm.em.getConnection().getNativeClient()) as pg.Pool;
  const client = await pool.connect();
  let state = "new" as "new" | "open" | "done";
  let commitNext = false;
  let broken: Error | undefined;
  const tx: PipelinedTransaction = {
    preparedStatements: true,
    commitWithNext() {
      commitNext = true;
    },
    async execute<T extends object[]>(sql: string, params: readonly unknown[] = []): Promise<T> {
      const [rows] = await tx.executeAll([{ sql, params }]);
      return rows as T;
    },
    async executeAll(statements: readonly Statement[]): Promise<object[][]> {
      if (state === "done") throw new Error("the transaction is already committed: nothing may run after its final statement");
      if (statements.length === 0) throw new Error("no statements to run");
      const begin = state === "new";
      const commit = commitNext;
      const text = `${begin ? "begin;\n" : ""}${statements.map(({ sql, params }) => formatStatement(sql, params)).join(";\n")}${commit ? ";\ncommit" : ""}`;
      state = commit ? "done" : "open";
      commitNext = false;
      const result = (await client.query(text).catch((error: unknown) => {
        throw platform.getExceptionConverter().convertException(error as Error);
      })) as unknown as pg.QueryResult | pg.QueryResult[];
      const results = Array.isArray(result) ? result : [result];
      return results.slice(begin ? 1 : 0, (begin ? 1 : 0) + statements.length).map((each) => each.rows as object[]);
    },
  };
  try {
    await ensurePrepared(client);
    const value = await work(tx);
    if (state === "open") {
      state = "done";
      await client.query("commit");
    }
    return value;
  } catch (error) {
    // A failed statement leaves the transaction aborted (a COMMIT after it in the same string never
    // ran); end it. With no transaction open this is a harmless warning.
    if (state !== "new") await client.query("rollback").catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * `sql` with its `?` placeholders replaced by literals of `params`, meaning what MikroORM's
 * em.execute makes of them: strings, numbers, booleans, null, dates (as UTC timestamps), arrays as
 * comma-separated lists, other objects as JSON text; `\?` stands for a literal question mark.
 * (MikroORM's own formatter builds every string literal a character at a time, a visible share of
 * the server's time on the creation path.) Identifier placeholders, `??`, are not supported.
 */
export function formatStatement(sql: string, params: readonly unknown[]): string {
  if (params.length === 0) return sql;
  let text = "";
  let from = 0;
  let next = 0;
  for (let at = sql.indexOf("?"); at !== -1; at = sql.indexOf("?", from)) {
    if (sql[at - 1] === "\\") {
      text += `${sql.slice(from, at - 1)}?`;
      from = at + 1;
      continue;
    }
    if (sql[at + 1] === "?") throw new Error("identifier placeholders (??) are not supported in a pipelined transaction");
    if (next >= params.length) throw new Error(`the statement has more placeholders than its ${params.length} parameters`);
    text += sql.slice(from, at) + literal(params[next++]);
    from = at + 1;
  }
  if (next !== params.length) throw new Error(`the statement has ${next} placeholders for ${params.length} parameters`);
  return text + sql.slice(from);
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
      return quoted(value);
    case "number":
    case "boolean":
      return String(value);
    case "bigint":
      return quoted(String(value));
  }
  if (value instanceof Date) return `'${value.toISOString()}'`;
  if (Array.isArray(value)) return value.map(literal).join(", ");
  return quoted(JSON.stringify(value));
}

/** A string literal. With a backslash in the text, the escape-string form (E'…', backslashes doubled),
 * which reads the same whatever the server's standard_conforming_strings says. */
function quoted(text: string): string {
  const inner = text.includes("'") ? text.replaceAll("'", "''") : text;
  return text.includes("\\") ? ` E'${inner.replaceAll("\\", "\\\\")}'` : `'${inner}'`;
}
