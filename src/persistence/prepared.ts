// Server-side prepared statements for the hottest statements (a VM creation's). MikroORM sends SQL
// with its parameters inlined, so PostgreSQL parses and plans every statement afresh; for a large
// statement that costs more than running it. A statement declared here is PREPAREd once on each
// pooled connection, the first time the connection is reserved after the migrations ran
// (`prepareOnReserve`, wired as MikroORM's onReserveConnection), and run with EXECUTE, which reuses
// the plan.
//
// Declare statements at module top level, so the registry is complete before the database opens.
import type { EntityManager } from "@mikro-orm/postgresql";
import { CompiledQuery } from "kysely";

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

interface RawConnection {
  executeQuery(query: CompiledQuery): Promise<unknown>;
}

/** Connections (of any pool in this process) on which every declared statement is prepared. */
const prepared = new WeakSet<object>();
let schemaReady = false;

/** Called once the migrations ran: before, the statements' tables may not exist yet. */
export function enablePreparedStatements(): void {
  schemaReady = true;
}

/** MikroORM's onReserveConnection: prepares every declared statement, in one round trip, on a
 * connection that has not got them yet. */
export async function prepareOnReserve(connection: unknown): Promise<void> {
  if (!schemaReady || prepared.has(connection as object) || registry.size === 0) return;
  // Generic plans from the first run: these statements' plans do not depend on their values, and a
  // custom plan would be planned afresh each time. (The setting only concerns prepared statements.)
  const statements = ["set plan_cache_mode = force_generic_plan", ...[...registry].map(([name, sql]) => `prepare ${name} as ${numbered(sql)}`)];
  await (connection as RawConnection).executeQuery(CompiledQuery.raw(statements.join(";\n")));
  prepared.add(connection as object);
}

/** Runs a declared statement. An array parameter goes as an array literal ('{"a","b"}'), which
 * takes the parameter's declared type as a quoted literal does. */
export async function executePrepared<T extends object[]>(em: EntityManager, statement: PreparedStatement, params: readonly unknown[]): Promise<T> {
  const values = params.map((param) => (Array.isArray(param) ? arrayLiteral(param) : param));
  return em.execute<T>(`execute ${statement.name}(${values.map(() => "?").join(", ")})`, values);
}

function arrayLiteral(items: readonly unknown[]): string {
  return `{${items.map((item) => `"${String(item).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")}}`;
}
