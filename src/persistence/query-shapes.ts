// The SQL of a query-builder read, written once per shape. A list's SQL depends on the structure of
// its condition (which properties, which operators, how many values in a list) and not on the values
// themselves, yet MikroORM's query builder writes it afresh on every call (about half a millisecond
// of CPU for a filtered list). Here the builder runs once per shape, with each value replaced by a
// sentinel; where each sentinel lands among the parameters says which value goes where on later
// calls of the same shape, whose SQL is then only looked up.
//
// A shape is cached only when the builder treated every value as a plain parameter: each sentinel
// found among the parameters unchanged, none written into the SQL text, no parameter derived from
// one. The first real call of a shape is checked against the builder's own output too; anything
// else (a value the builder converts, inlines or copies) is built by the builder every time.
import type { ReadQuery } from "./reads.js";

/** A condition's values in the order met (depth first), and its shape: the same string for any two
 * conditions that differ only in their values. */
interface Flattened {
  readonly shape: string;
  readonly values: unknown[];
}

type Slot = { readonly value: number } | { readonly constant: unknown };

interface Entry {
  readonly sql: string;
  readonly slots: readonly Slot[];
  /** Checked against the builder's own output on a real call. */
  verified: boolean;
}

const shapes = new Map<string, Entry | null>();
/** Shapes kept per process; beyond, reads are built by the builder (no client can grow the map). */
const shapesKept = 2_000;

/**
 * The query `build` writes for `condition`, from the cache when this shape was seen. `build` must
 * write the query from `condition` alone (plus what `key` names: table, order, page size).
 */
export function queryOfShape(key: string, condition: unknown, build: (condition: unknown) => ReadQuery): ReadQuery {
  const flat = flatten(condition);
  if (flat === undefined) return build(condition);
  const shapeKey = `${key}\u0000${flat.shape}`;
  let entry = shapes.get(shapeKey);
  if (entry === undefined) {
    if (shapes.size >= shapesKept) return build(condition);
    entry = learn(condition, flat.values.length, build);
    shapes.set(shapeKey, entry);
  }
  if (entry === null) return build(condition);
  const params = entry.slots.map((slot) => ("value" in slot ? flat.values[slot.value] : slot.constant));
  if (!entry.verified) {
    const built = build(condition);
    if (built.sql !== entry.sql || !sameParams(built.params, params)) {
      shapes.set(shapeKey, null);
      return built;
    }
    entry.verified = true;
  }
  return { sql: entry.sql, params };
}

/** Builds the shape with sentinels; null when the builder did not treat every value as a plain
 * parameter. */
function learn(condition: unknown, count: number, build: (condition: unknown) => ReadQuery): Entry | null {
  let next = 0;
  const sentinels: unknown[] = [];
  const withSentinels = substitute(condition, (value) => {
    const sentinel = sentinelFor(value, next++);
    sentinels.push(sentinel);
    return sentinel;
  });
  let query: ReadQuery;
  try {
    query = build(withSentinels);
  } catch {
    return null;
  }
  if (query.sql.includes(marker)) return null;
  const found = new Set<number>();
  const slots: Slot[] = [];
  for (const param of query.params) {
    const at = sentinels.findIndex((sentinel) => same(sentinel, param));
    if (at >= 0) {
      found.add(at);
      slots.push({ value: at });
    } else if (typeof param === "string" && param.includes(marker)) {
      return null;
    } else if (param instanceof Date || Array.isArray(param) || (typeof param === "object" && param !== null)) {
      return null;
    } else {
      slots.push({ constant: param });
    }
  }
  return found.size === count ? { sql: query.sql, slots, verified: false } : null;
}

const marker = "\u0001";

/** A value of the same kind as `value`, recognisable among the parameters. */
function sentinelFor(value: unknown, n: number): unknown {
  if (typeof value === "number") return -987_654_321_000 - n - 0.25;
  if (typeof value === "bigint") return -987_654_321_000n - BigInt(n);
  if (value instanceof Date) return new Date(Date.UTC(1901, 0, 1) + n * 1000 + 7);
  return `${marker}Rq${n}x${marker}`;
}

function same(sentinel: unknown, param: unknown): boolean {
  if (sentinel instanceof Date) return param instanceof Date && param.getTime() === sentinel.getTime();
  return sentinel === param;
}

function sameParams(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((each, i) => (each instanceof Date ? same(each, b[i]) : each === b[i]));
}

/** Flattens a condition of plain objects, arrays and scalars; undefined for anything else (a class
 * instance other than Date), which the builder then writes every time. */
function flatten(condition: unknown): Flattened | undefined {
  const values: unknown[] = [];
  const parts: string[] = [];
  const walk = (node: unknown): boolean => {
    if (node === null || node === undefined || typeof node === "boolean") {
      parts.push(String(node));
      return true;
    }
    if (typeof node === "string" || typeof node === "number" || typeof node === "bigint" || node instanceof Date) {
      parts.push(node instanceof Date ? "?d" : `?${typeof node}`);
      values.push(node);
      return true;
    }
    if (Array.isArray(node)) {
      parts.push(`[${node.length}`);
      for (const each of node) if (!walk(each)) return false;
      parts.push("]");
      return true;
    }
    if (Object.getPrototypeOf(node) !== Object.prototype) return false;
    parts.push("{");
    for (const [key, each] of Object.entries(node)) {
      parts.push(JSON.stringify(key));
      if (!walk(each)) return false;
    }
    parts.push("}");
    return true;
  };
  return walk(condition) ? { shape: parts.join(""), values } : undefined;
}

/** A copy of `condition` with each value (in `flatten`'s order) replaced by `replace(value)`. */
function substitute(condition: unknown, replace: (value: unknown) => unknown): unknown {
  if (condition === null || condition === undefined || typeof condition === "boolean") return condition;
  if (typeof condition !== "object" || condition instanceof Date) return replace(condition);
  if (Array.isArray(condition)) return condition.map((each) => substitute(each, replace));
  return Object.fromEntries(Object.entries(condition).map(([key, each]) => [key, substitute(each, replace)]));
}
