// Reads on prepared statements. MikroORM runs every statement as a simple-protocol query with its
// values inlined, so PostgreSQL parses and plans each read afresh; for a one-row read by primary
// key that is most of the read's cost in the database, and a large share of a list's. Reads outside
// a transaction go through here instead: the same SQL (for a list, the text MikroORM's query
// builder writes), its values sent as parameters, as a named statement that each pooled connection
// parses once and then only binds and executes (node-postgres keeps a connection's prepared
// statements by name). Rows become plain objects with their properties by MikroORM's own mapping,
// exactly as the query builder's `execute(…, true)` made them.
//
// A read inside a transaction stays on the transaction's connection (the caller's EntityManager).
// With a read pool (DATABASE_READ_URL, a streaming replica), a read outside a transaction made
// within `withReplicaReads` (a Get or List call: docs/deployment.md, "Read routing") goes to it
// instead; every other read, and every write, stays on the primary.
// Statement texts are named up to `namedTexts` per process (a few per resource in practice: every
// filter of one structure shares a text); texts beyond that run unnamed (parsed each time), so no
// client can make the server keep an unbounded number of statements on its connections.
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import type { EntityManager, EntityName, MikroORM } from "@mikro-orm/postgresql";
import pg from "pg";
import { executeBound } from "./bound.js";
import { boundEnd, connectingWithin, idleTimeoutMillis, keepAlive, poolTimeouts, readPoolGuard } from "./pool-guard.js";
import { connectionSettings } from "./connection-settings.js";
import { tracePool } from "./pool-trace.js";

/** A statement with `?` placeholders (MikroORM's) and its values. */
export interface ReadQuery {
  readonly sql: string;
  readonly params: readonly unknown[];
}

const namedTexts = 2_000;
const names = new Map<string, string>();

/** The rows of `query`, mapped to `entity`'s properties; on the caller's transaction if it is in
 * one, otherwise as a prepared statement on a pooled connection. */
export async function readRows<T extends object>(em: EntityManager, entity: EntityName<T>, query: ReadQuery): Promise<T[]> {
  const meta = em.getMetadata().get(entity);
  const driver = em.getDriver();
  const text = numbered(query.sql, query.params.length);
  if (em.isInTransaction() || text === undefined) {
    const rows = await em.execute<Record<string, unknown>[]>(query.sql, [...query.params]);
    return rows.map((row) => driver.mapResult(row as never, meta) as unknown as T);
  }
  const rows = await readPrepared(em, text, query.params);
  return rows.map((row) => driver.mapResult(row as never, meta) as unknown as T);
}

/** A row of `entity`'s table (its columns by name, as `select *` returns them) as MikroORM maps it. */
export function mapRow<T extends object>(em: EntityManager, entity: EntityName<T>, row: Record<string, unknown>): T {
  return em.getDriver().mapResult(row as never, em.getMetadata().get(entity)) as unknown as T;
}

/** The plain rows of `sql`, every `?` a bound parameter (an array binds as one PostgreSQL array:
 * cast it, `?::uuid[]`): bound on the caller's transaction if it is in one, otherwise a prepared
 * statement on a pooled connection, as `readRows`. */
export async function readBound<T extends object>(em: EntityManager, sql: string, params: readonly unknown[]): Promise<T[]> {
  const text = numbered(sql, params.length);
  if (em.isInTransaction() || text === undefined) return executeBound<T>(em, sql, params);
  return (await readPrepared(em, text, params)) as T[];
}

/** Runs `text` ($n placeholders) as a named statement outside any transaction: on the read pool
 * within `withReplicaReads` when there is one, otherwise on the primary. */
async function readPrepared(em: EntityManager, text: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> {
  const pool = (await em.getConnection().getNativeClient()) as pg.Pool;
  const name = statementName(text);
  const values = params as unknown[];
  const started = performance.now();
  const statement = name ? { name, text, values } : { text, values };
  const replica = replicaReads.getStore() ? readPools.get(pool) : undefined;
  // A replica that cannot answer is no reason to fail a read the primary can serve.
  const run = (config: pg.QueryConfig) =>
    replica
      ? runOnPool(replica, config).catch((error: unknown) => fallBack(error, () => runOnPool(pool, config)))
      : runOnPool(pool, config);
  let result: pg.QueryResult;
  try {
    result = await run(statement);
  } catch (error) {
    if (!(name && isStalePlan(error))) throw convert(em, error);
    // A migration changed a table this statement reads (a column added under `select *`): the
    // connection's prepared statement can never run again, so the connection goes and the read runs
    // once more, unnamed. Each connection heals so on its first such read.
    try {
      result = await run({ text, values });
    } catch (retryError) {
      throw convert(em, retryError);
    }
  }
  // In MikroORM's query log too (debug: ["query"]), as every other statement is.
  const logger = em.config.getLogger();
  if (logger.isEnabled("query")) {
    logger.logQuery({
      query: text,
      params: [...params],
      took: Math.round(performance.now() - started),
      results: result.rowCount ?? 0,
    });
  }
  return result.rows;
}

/** Runs one statement on a pooled connection; a connection whose prepared statement went stale
 * is closed instead of going back to the pool. */
async function runOnPool(pool: pg.Pool, config: pg.QueryConfig): Promise<pg.QueryResult> {
  const client = await pool.connect();
  try {
    const result = await client.query(config);
    client.release();
    return result;
  } catch (error) {
    client.release(isStalePlan(error) ? (error as Error) : undefined);
    throw error;
  }
}

/** PostgreSQL's answer to EXECUTE of a statement whose result's columns changed since PREPARE. */
function isStalePlan(error: unknown): boolean {
  return (error as { code?: string }).code === "0A000" && /cached plan must not change result type/.test(String((error as Error).message));
}

function convert(em: EntityManager, error: unknown): Error {
  return em
    .getPlatform()
    .getExceptionConverter()
    .convertException(error as Error);
}

/** The row of `entity` with this primary key, or undefined. */
export async function readRowById<T extends object>(em: EntityManager, entity: EntityName<T>, id: string): Promise<T | undefined> {
  const [row] = await readRows(em, entity, { sql: byIdSql(em, entity), params: [id] });
  return row;
}

const byIdTexts = new Map<string, string>();

function byIdSql<T extends object>(em: EntityManager, entity: EntityName<T>): string {
  const meta = em.getMetadata().get(entity);
  let sql = byIdTexts.get(meta.className);
  if (!sql) {
    const key = meta.properties[meta.primaryKeys[0]!]!.fieldNames[0]!;
    sql = `select * from "${meta.tableName}" where "${key}" = ?`;
    byIdTexts.set(meta.className, sql);
  }
  return sql;
}

/** `?` placeholders as `$1, $2, …`; undefined when the count does not match the values (a `?` that
 * is not a placeholder, such as a JSON operator): such a statement runs as MikroORM runs it. */
function numbered(sql: string, count: number): string | undefined {
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  return n === count ? text : undefined;
}

function statementName(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < namedTexts) {
    name = `read_${createHash("sha1").update(text).digest("hex").slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

const replicaReads = new AsyncLocalStorage<true>();
/** The read pool of each primary pool that has one. */
const readPools = new WeakMap<pg.Pool, pg.Pool>();

/** Runs `work` with its reads outside transactions allowed on the read pool (when there is one):
 * for calls that only read and accept the replica's lag. */
export function withReplicaReads<T>(work: () => T): T {
  return replicaReads.run(true, work);
}

/** The read pool beside `primary`, if one is open. */
export function readPoolOf(primary: pg.Pool): pg.Pool | undefined {
  return readPools.get(primary);
}

/**
 * Opens the read pool beside `orm`'s (primary) pool on `readUrl`: `size` connections with the
 * primary's type parsers (rows map the same), its bounds on every wait and its handling of a
 * connection that dies while checked out (pool-guard.ts), but no check that the server takes
 * writes. Returns the function that closes it.
 */
export async function openReadPool(orm: MikroORM, readUrl: string, size: number): Promise<() => Promise<void>> {
  const primary = (await orm.em.getConnection().getNativeClient()) as pg.Pool;
  const timeouts = poolTimeouts(connectionSettings(readUrl));
  const guard = readPoolGuard();
  const replica = new pg.Pool({
    connectionString: readUrl,
    max: size,
    types: (primary.options as { types?: pg.CustomTypesConfig }).types,
    connectionTimeoutMillis: timeouts.checkoutMs,
    Client: connectingWithin(timeouts.connectMs),
    query_timeout: timeouts.queryMs,
    ...keepAlive,
    idleTimeoutMillis,
    onConnect: (client: pg.PoolClient) => {
      boundEnd(client, timeouts.connectMs);
      guard.onConnect(client);
    },
  } as unknown as pg.PoolConfig);
  guard.onPoolCreated(replica);
  tracePool(replica);
  readPools.set(primary, replica);
  return async () => {
    readPools.delete(primary);
    await replica.end();
  };
}

/** Runs `primary` when `error` says the replica could not be reached or did not answer (no
 * SQLSTATE, or a connection-class one); rethrows an error of the statement itself. */
function fallBack<T>(error: unknown, primary: () => Promise<T>): Promise<T> {
  const sqlState = error instanceof pg.DatabaseError ? (error.code ?? "") : "";
  if (sqlState === "" || sqlState.startsWith("08") || sqlState.startsWith("57P")) return primary();
  throw error;
}
