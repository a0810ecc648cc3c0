// Server-side prepared statements for the hottest statements (a VM creation's). MikroORM sends SQL
// with its parameters inlined, so PostgreSQL parses and plans every statement afresh; for a large
// statement that costs more than running it. A statement declared here is PREPAREd once on each
// connection a pipelined transaction uses (see pipelined-transaction.ts) and run there with EXECUTE,
// which reuses the plan. Run through anything else (an EntityManager), it is sent as plain SQL.
//
// Declare statements at module top level. One declared later is prepared on each connection the
// next time a pipelined transaction takes it.
import type pg from "pg";
import type { Sql } from "./sql.js";

export interface PreparedStatement {
  readonly name: string;
  /** The statement with `?` placeholders, as em.execute takes it. */
  readonly sql: string;
}

const registry = new Map<string, string>();

/** Declares a statement; `name` must be unique (a lower-case SQL identifier). */
export function preparedStatement(name: string, sql: string): PreparedStatement {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`prepared statement name ${name} is not a plain identifier`);
  if (registry.has(name) && registry.get(name) !== sql) throw new Error(`prepared statement ${name} is declared twice`);
  registry.set(name, sql);
  return { name, sql };
}

/** `?` placeholders to `$1, $2, …`. The statements declared here contain no `?` in literals. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** A session on which the declared statements are prepared. */
export interface PreparedSession {
  readonly preparedStatements: true;
}

/** How many of the declared statements (in declaration order) each connection has prepared. */
const preparedCount = new WeakMap<pg.ClientBase, number>();

/** Prepares the declared statements a connection has not got yet. */
export async function ensurePrepared(client: pg.ClientBase): Promise<void> {
  const done = preparedCount.get(client) ?? 0;
  if (done === registry.size) return;
  // Generic plans from the first run: these statements' plans do not depend on their values, and a
  // custom plan would be planned afresh each time. (The setting only concerns prepared statements.)
  if (done === 0) await client.query("set plan_cache_mode = force_generic_plan");
  // One query string per statement: PostgreSQL keeps the whole string a PREPARE came in as the
  // statement's source and copies it on every EXECUTE, so preparing them all in one string made each
  // run copy every declared statement's text (tens of kilobytes).
  for (const [name, sql] of [...registry].slice(done)) await client.query(`prepare ${name} as ${numbered(sql)}`);
  preparedCount.set(client, registry.size);
}

/** Runs a declared statement. An array parameter goes as an array literal ('{"a","b"}'), which
 * takes the parameter's type as a quoted literal does (so declare it with a cast: `?::uuid[]`). */
export async function executePrepared<T extends object[]>(sql: Sql, statement: PreparedStatement, params: readonly unknown[]): Promise<T> {
  if (!("preparedStatements" in sql)) return sql.execute<T>(statement.sql, params.map(parameter));
  const call = preparedCall(statement, params);
  return sql.execute<T>(call.sql, call.params);
}

/** The EXECUTE of a declared statement, for a session on which it is prepared. */
export function preparedCall(statement: PreparedStatement, params: readonly unknown[]): { sql: string; params: unknown[] } {
  return { sql: `execute ${statement.name}(${params.map(() => "?").join(", ")})`, params: params.map(parameter) };
}

function parameter(value: unknown): unknown {
  return Array.isArray(value) ? arrayLiteral(value) : value;
}

function arrayLiteral(items: readonly unknown[]): string {
  return `{${items.map((item) => `"${String(item).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")}}`;
}
