// List with AIP-160 filter and keyset pagination: `WHERE <scope> AND <filter> AND id > $after
// ORDER BY id LIMIT n+1`. Ids are time-ordered, so this is creation order, and every page costs an
// index range scan however deep the client pages (no OFFSET). A list with a sort schema also takes
// an AIP-132 order_by: then `WHERE … AND (col, id) > ($last_col, $last_id) ORDER BY col, id`
// (docs/api-conventions.md#sorting).
import type { EntityManager, EntityName, FilterQuery } from "@mikro-orm/postgresql";
import { parseFilter, type FilterSchema } from "../domain/filter.js";
import { type ListOrder, orderText, parseOrderBy, type SortSchema, sortKeyPart, sortKeyPattern, sortKeyValue } from "../domain/order-by.js";
import { decodePageToken, effectivePageSize, encodePageToken, type PageBinding, uuidKeyPart } from "../domain/page-token.js";
import { toFilterQuery } from "../persistence/filter-query.js";
import { queryOfShape } from "../persistence/query-shapes.js";
import { readRows } from "../persistence/reads.js";

export interface ListRequest {
  readonly pageSize: number;
  readonly pageToken: string;
  readonly filter: string;
  /** AIP-132 order; only lists given a `sort` schema take one. */
  readonly orderBy?: string;
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
  /** The fields order_by may name; without it a non-empty order_by is refused. */
  readonly sort?: SortSchema;
}

export async function listPage<T extends { id: string }>(
  em: EntityManager,
  entity: EntityName<T>,
  request: ListRequest,
  schema: FilterSchema,
  options: ListOptions<T> = {},
): Promise<Page<T>> {
  const pageSize = effectivePageSize(request.pageSize);
  const order = parseOrderBy(request.orderBy ?? "", options.sort ?? {});
  const binding = pageBinding(em, entity, request, options, order);
  const after = decodePageToken(request.pageToken, binding, order ? [sortKeyPattern(order), uuidKeyPart] : [uuidKeyPart]);
  const parsed = parseFilter(request.filter, schema);
  const conditions: FilterQuery<T>[] = [];
  if (options.scope) conditions.push(options.scope);
  if (parsed) conditions.push(toFilterQuery(parsed) as FilterQuery<T>);
  const descending = order ? order.descending : options.newestFirst === true;
  const past = descending ? "$lt" : "$gt";
  const direction = descending ? "desc" : "asc";
  if (after && order) {
    // (col, id) past (last col, last id), spelt out so the query builder maps the property.
    const value = sortKeyValue(order, after[0]!);
    conditions.push({ $or: [{ [order.property]: { [past]: value } }, { [order.property]: value, id: { [past]: after[1] } }] } as never);
  } else if (after) {
    conditions.push({ id: { [past]: after[0] } } as unknown as FilterQuery<T>);
  }
  const where = (conditions.length === 0 ? {} : conditions.length === 1 ? conditions[0] : { $and: conditions }) as FilterQuery<T>;
  // Plain rows, not managed entities: a page is read-only, and hydrating 50 entities into an
  // identity map costs more than the query.
  // The query builder writes the SQL, once per shape of the condition (persistence/query-shapes.ts);
  // it runs as a prepared statement (persistence/reads.ts).
  const orderBy = order ? { [order.property]: direction, id: direction } : { id: direction };
  const shapeKey = `${binding.list} ${JSON.stringify(orderBy)} ${pageSize + 1}`;
  const query = queryOfShape(shapeKey, where, (condition) =>
    em
      .createQueryBuilder(entity)
      .select("*")
      .where(condition as never)
      .orderBy(orderBy as never)
      .limit(pageSize + 1)
      .toQuery(),
  );
  const rows = await readRows(em, entity, query);
  const items = rows.slice(0, pageSize);
  const last = items.at(-1);
  if (rows.length <= pageSize || !last) return { items, nextPageToken: "" };
  const key = order ? [sortKeyPart(order, (last as Record<string, unknown>)[order.property]), last.id] : [last.id];
  return { items, nextPageToken: encodePageToken(binding, key) };
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
  order: ListOrder | undefined,
): PageBinding {
  return {
    list: em.getMetadata().get(entity).tableName,
    orderBy: order ? orderText(order) : options.newestFirst ? "id desc" : "id asc",
    filter: request.filter,
    scope: options.scope ? JSON.stringify(options.scope) : "",
  };
}
