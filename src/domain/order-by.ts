// AIP-132 `order_by` for lists that offer it: one field of the list's sort schema, optionally
// followed by `asc` (the default) or `desc`. The id breaks ties in the same direction, so the order
// is total and keyset paging stays exact: a page token carries the last row's sort value and id
// (src/app/list.ts). Sort fields are NOT NULL columns only, so no row falls outside the keyset.
import { InvalidArgumentError } from "./errors.js";

export type SortKind = "string" | "integer" | "timestamp";

export interface SortField {
  /** Entity property, e.g. "freeCpuCores". */
  readonly property: string;
  readonly kind: SortKind;
}

/** Key = API field name (snake_case). */
export type SortSchema = Readonly<Record<string, SortField>>;

export interface ListOrder {
  readonly field: string;
  readonly property: string;
  readonly kind: SortKind;
  readonly descending: boolean;
}

/** The order `orderBy` names, or undefined for the list's default (creation order). INVALID_ARGUMENT
 * / INVALID_ORDER_BY, naming the fields it takes, for anything else. */
export function parseOrderBy(orderBy: string, schema: SortSchema): ListOrder | undefined {
  const text = orderBy.trim();
  if (text === "") return undefined;
  const known = Object.keys(schema).join(", ");
  if (known === "") throw invalidOrder("order_by: this list has one order only (creation order)", known);
  if (text.includes(",")) throw invalidOrder(`order_by takes one field; this list sorts by one of: ${known}`, known);
  const [field = "", direction = "asc", ...rest] = text.split(/\s+/);
  if (!Object.hasOwn(schema, field)) {
    throw invalidOrder(`order_by: unknown field ${JSON.stringify(field.slice(0, 64))}; this list sorts by one of: ${known}`, known);
  }
  if (rest.length > 0 || (direction !== "asc" && direction !== "desc")) {
    throw invalidOrder(`order_by: after the field only "asc" or "desc" may follow, e.g. "${field} desc"`, known);
  }
  const sort = schema[field]!;
  return { field, property: sort.property, kind: sort.kind, descending: direction === "desc" };
}

/** The order's canonical text, for a page token's binding ("free_cpu" and "free_cpu asc" are one order). */
export function orderText(order: ListOrder): string {
  return `${order.field} ${order.descending ? "desc" : "asc"}, id ${order.descending ? "desc" : "asc"}`;
}

/** A row's sort value as a page-token key part. */
export function sortKeyPart(order: ListOrder, value: unknown): string {
  if (order.kind === "timestamp") return (value instanceof Date ? value : new Date(String(value))).toISOString();
  return String(value);
}

/** What a key part of this order must look like (the token's checksum already refuses edits). */
export function sortKeyPattern(order: ListOrder): RegExp {
  if (order.kind === "integer") return /^-?\d{1,20}$/;
  if (order.kind === "timestamp") return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
  return /^[\s\S]{0,1024}$/u;
}

/** A key part back to a value to compare the column with. */
export function sortKeyValue(order: ListOrder, part: string): string | number | Date {
  if (order.kind === "integer") return Number(part);
  if (order.kind === "timestamp") return new Date(part);
  return part;
}

function invalidOrder(message: string, known: string): InvalidArgumentError {
  return new InvalidArgumentError("INVALID_ORDER_BY", message, [{ field: "order_by", description: message }], { sortable_fields: known });
}
