// List with AIP-160 filter and keyset pagination: `WHERE <scope> AND <filter> AND id > $after
// ORDER BY id LIMIT n+1`. Ids are time-ordered, so this is creation order, and every page costs an
// index range scan however deep the client pages (no OFFSET).
import type { EntityManager, EntityName, FilterQuery } from "@mikro-orm/postgresql";
import { parseFilter, type FilterSchema } from "../domain/filter.js";
import { decodePageToken, effectivePageSize, encodePageToken, type PageBinding } from "../domain/page-token.js";
import { toFilterQuery } from "../persistence/filter-query.js";
import { readRows } from "../persistence/reads.js";

export interface ListRequest {
  readonly pageSize: number;
  readonly pageToken: string;
  readonly filter: string;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextPageToken: string;
}

export interface ListOptions<T> {
  /** Restricts what the caller may see (tenant isolation); combined with the filter by AND. */
  readonly scope?: FilterQuery<T>;
  /** Newest first (audit trails); otherwise oldest first. */
  readonly newestFirst?: boolean;
}

export async function listPage<T extends { id: string }>(
  em: EntityManager,
  entity: EntityName<T>,
  request: ListRequest,
  schema: FilterSchema,
  options: ListOptions<T> = {},
): Promise<Page<T>> {
  const pageSize = effectivePageSize(request.pageSize);
  const binding = pageBinding(em, entity, request, options);
  const after = decodePageToken(request.pageToken, binding)?.[0];
  const parsed = parseFilter(request.filter, schema);
  const conditions: FilterQuery<T>[] = [];
  if (options.scope) conditions.push(options.scope);
  if (parsed) conditions.push(toFilterQuery(parsed) as FilterQuery<T>);
  if (after) conditions.push({ id: options.newestFirst ? { $lt: after } : { $gt: after } } as unknown as FilterQuery<T>);
  const where = (conditions.length === 0 ? {} : conditions.length === 1 ? conditions[0] : { $and: conditions }) as FilterQuery<T>;
  // Plain rows, not managed entities: a page is read-only, and hydrating 50 entities into an
  // identity map costs more than the query.
  // The query builder writes the SQL; it runs as a prepared statement (persistence/reads.ts).
  const query = em
    .createQueryBuilder(entity)
    .select("*")
    .where(where as never)
    .orderBy({ id: options.newestFirst ? "desc" : "asc" } as never)
    .limit(pageSize + 1)
    .toQuery();
  const rows = await readRows(em, entity, query);
  const items = rows.slice(0, pageSize);
  const last = items.at(-1);
  return { items, nextPageToken: rows.length > pageSize && last ? encodePageToken(binding, [last.id]) : "" };
}

/**
 * What a page token of this list belongs to, derived here so no call site has to say it: the
 * entity's table, the order, the filter, and the scope the caller is held to (a tenant's rows, a
 * tenant's racks). The scope is built the same way on every page of one caller, so its JSON is a
 * stable key; a caller whose scope changed between pages gets INVALID_PAGE_TOKEN and starts again.
 */
function pageBinding<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  request: ListRequest,
  options: ListOptions<T>,
): PageBinding {
  return {
    list: em.getMetadata().get(entity).tableName,
    orderBy: options.newestFirst ? "id desc" : "id asc",
    filter: request.filter,
    scope: options.scope ? JSON.stringify(options.scope) : "",
  };
}
