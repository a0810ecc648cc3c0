// biome-ignore-all lint/suspicious/noExplicitAny: the generated clients are called by method name from the kinds table
// Names to ids and back, and whole lists through the pages: a name is looked up with the List
// filter `name = "…"` (within a scope such as a room or a tenant where names are only unique
// there); an id is always accepted as it is.
import type { Connection } from "./connection.js";
import { NotFoundError, UsageError } from "./errors.js";
import { findKind, type Kind } from "./kinds.js";

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isId = (text: string) => uuid.test(text);

export function kindOf(word: string): Kind {
  const kind = findKind(word);
  if (!kind) throw new UsageError(`unknown kind "${word}" (see \`rackctl get --help\` for the kinds)`);
  return kind;
}

export function call(connection: Connection, kind: Kind, method: string | undefined, request: object): Promise<any> {
  if (!method) throw new UsageError(`${kind.name} do not support this verb`);
  return (connection.client(kind.service) as any)[method](request);
}

export const quote = (text: string) => JSON.stringify(text);

/** Every row matching the filter, page after page, stopping after `limit` rows (0: all). */
export async function listAll(
  connection: Connection,
  kind: Kind,
  filter: string,
  limit = 0,
  onPage?: (count: number) => void,
): Promise<any[]> {
  if (filter && !kind.filter) throw new UsageError(`${kind.name} cannot be filtered`);
  const rows: any[] = [];
  let pageToken = "";
  do {
    const pageSize = limit > 0 ? Math.min(1000, limit - rows.length) : 1000;
    const response = await call(connection, kind, kind.methods.list, { pageSize, pageToken, ...(kind.filter ? { filter } : {}) });
    rows.push(...response[kind.listField]);
    onPage?.(rows.length);
    pageToken = response.nextPageToken ?? "";
  } while (pageToken && (limit === 0 || rows.length < limit));
  return limit > 0 ? rows.slice(0, limit) : rows;
}

/** The filter clause a scope flag adds (`room_id = "…"`), resolving its own name first. */
export async function scopeFilter(connection: Connection, kind: Kind, options: object): Promise<string> {
  const value = kind.scope ? (options as Record<string, unknown>)[kind.scope.flag] : undefined;
  if (!kind.scope || typeof value !== "string") return "";
  const id = await resolveId(connection, kindOf(kind.scope.kind), value, options);
  return `${kind.scope.filterField} = ${quote(id)}`;
}

export const and = (...clauses: string[]) =>
  clauses
    .filter(Boolean)
    .map((clause) => (clauses.filter(Boolean).length > 1 ? `(${clause})` : clause))
    .join(" AND ");

/** One resource by id or by name (in scope), read in full. */
export async function resolveOne(connection: Connection, kind: Kind, reference: string, options: object = {}): Promise<any> {
  if (isId(reference)) {
    if (kind.methods.get) return (await call(connection, kind, kind.methods.get, { id: reference }))[kind.field];
    const [row] = await listAll(connection, kind, `id = ${quote(reference)}`, 1);
    if (!row) throw new NotFoundError(`${kind.name} ${reference} does not exist`);
    return row;
  }
  if (!kind.nameField) throw new UsageError(`${kind.name} are named by id only`);
  const rows = await listAll(
    connection,
    kind,
    and(`${kind.nameField} = ${quote(reference)}`, await scopeFilter(connection, kind, options)),
    2,
  );
  if (rows.length === 0) throw new NotFoundError(`no ${kind.name} named "${reference}"`);
  if (rows.length > 1) {
    const hint = kind.scope ? ` (name its ${kind.scope.flag} with --${kind.scope.flag}, or use the id)` : " (use the id)";
    throw new UsageError(`more than one of ${kind.name} is named "${reference}"${hint}`);
  }
  return rows[0];
}

export async function resolveId(connection: Connection, kind: Kind, reference: string, options: object = {}): Promise<string> {
  return isId(reference) ? reference : (await resolveOne(connection, kind, reference, options)).id;
}

/** The names of every resource the rows refer to, fetched once per distinct id (with the names of
 * their parts, such as a cluster's node pools). */
export async function referencedNames(connection: Connection, kind: Kind, rows: readonly any[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const reference of kind.refs ?? []) {
    const target = kindOf(reference.kind);
    const ids = [...new Set(rows.map(reference.id).filter(Boolean))].filter((id) => !names.has(id));
    // Few distinct ids: one Get each, eight at a time; many: one paged List of the whole kind.
    if (ids.length > 50 || !target.methods.get) {
      for (const row of await listAll(connection, target, "")) {
        names.set(row.id, row[target.nameField ?? "id"]);
        for (const [id, name] of target.partNames?.(row) ?? []) names.set(id, name);
      }
      continue;
    }
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(
        ids.slice(i, i + 8).map(async (id) => {
          try {
            const row = (await call(connection, target, target.methods.get, { id }))[target.field];
            names.set(id, row[target.nameField ?? "id"]);
            for (const [part, name] of target.partNames?.(row) ?? []) names.set(part, name);
          } catch {
            // A reference we may not read (or that is gone) stays an id.
          }
        }),
      );
    }
  }
  return names;
}
