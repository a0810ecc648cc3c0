// Compiles a type-checked AIP-160 filter (see src/domain/filter.ts) into a MikroORM filter object.
// The parser has already rejected anything this cannot express, so a failure here is a bug.

import type { ObjectQuery } from "@mikro-orm/core";
import type { FilterExpr } from "../domain/filter.js";

type Compare = Extract<FilterExpr, { kind: "compare" }>;
type Condition = Record<string, unknown>;

const ORDERING = { "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte" } as const;

/**
 * Every node becomes an object with a single key (`$and`, `$or`, `$not` or a property), so two
 * comparisons on the same property never collide in one object; combine the result with other
 * conditions through `$and`, not by spreading.
 */
// `any` because which properties a filter touches is decided by the runtime schema, which
// TypeScript cannot see; a generic `ObjectQuery<T>`/`FilterQuery<T>` was tried, and MikroORM's
// recursive types then infer nonsense for T inside `em.find(Rack, { $and: [...] })`.
// biome-ignore lint/suspicious/noExplicitAny: see above
export function toFilterQuery(expr: FilterExpr): ObjectQuery<any> {
  return compile(expr);
}

function compile(expr: FilterExpr): Condition {
  switch (expr.kind) {
    case "and":
      return { $and: expr.args.map(compile) };
    case "or":
      return { $or: expr.args.map(compile) };
    case "not":
      return { $not: compile(expr.arg) };
    case "compare":
      return compileCompare(expr);
  }
}

function compileCompare(expr: Compare): Condition {
  const { op, value, type, match } = expr;
  if (op === ":") {
    if (type.kind === "string") return at(expr.property, { $ilike: `%${escapeLike(String(value))}%` });
    if (type.kind === "string_list") return at(expr.property, { $contains: [value] });
    throw new Error(`":" on a ${type.kind} field ${JSON.stringify(expr.field)} should have been rejected by the parser`);
  }
  if (match !== undefined) {
    if (op !== "=" && op !== "!=") {
      throw new Error(`wildcard with "${op}" on ${JSON.stringify(expr.field)} should have been rejected by the parser`);
    }
    const like = at(expr.property, { $like: likePattern(String(value), match) });
    // `$not` around the whole condition rather than `$nlike`, which MikroORM does not have.
    return op === "=" ? like : { $not: like };
  }
  switch (op) {
    case "=":
      return at(expr.property, { $eq: value });
    case "!=":
      return at(expr.property, { $ne: value });
    default:
      return at(expr.property, { [ORDERING[op]]: value });
  }
}

function likePattern(value: string, match: "prefix" | "suffix" | "contains"): string {
  const escaped = escapeLike(value);
  switch (match) {
    case "prefix":
      return `${escaped}%`;
    case "suffix":
      return `%${escaped}`;
    case "contains":
      return `%${escaped}%`;
  }
}

/** Backslash is PostgreSQL's default LIKE escape, so user text can never act as a wildcard. */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** `"location.city"` -> `{ location: { city: condition } }`, the shape MikroORM uses for embeddables. */
function at(property: string, condition: Condition): Condition {
  return property.split(".").reduceRight<Condition>((inner, key) => ({ [key]: inner }), condition);
}
