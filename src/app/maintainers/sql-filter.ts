// Compiles a type-checked AIP-160 filter (src/domain/filter.ts) into an SQL condition with `?`
// parameters, for the look-ups that are one hand-written query (a UNION) rather than an entity
// query. The schema's `property` is the SQL expression the field stands for; it comes from our own
// schema (filters.ts), never from the request, and every value is a bound parameter.
import type { FilterExpr, FilterValue } from "../../domain/filter.js";

export interface SqlCondition {
  readonly sql: string;
  readonly params: FilterValue[];
}

export function filterSql(expr: FilterExpr | undefined): SqlCondition {
  if (!expr) return { sql: "true", params: [] };
  const params: FilterValue[] = [];
  return { sql: compile(expr, params), params };
}

const ORDERING = { "=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=" } as const;

function compile(expr: FilterExpr, params: FilterValue[]): string {
  switch (expr.kind) {
    case "and":
      return `(${expr.args.map((arg) => compile(arg, params)).join(" and ")})`;
    case "or":
      return `(${expr.args.map((arg) => compile(arg, params)).join(" or ")})`;
    case "not":
      return `(not ${compile(expr.arg, params)})`;
    case "compare": {
      const { op, value, type, match, property } = expr;
      if (op === ":") {
        if (type.kind === "string") {
          params.push(`%${escapeLike(String(value))}%`);
          return `(${property} ilike ?)`;
        }
        if (type.kind === "string_list") {
          params.push(value);
          return `(? = any(${property}))`;
        }
        throw new Error(`":" on a ${type.kind} field ${JSON.stringify(expr.field)} should have been rejected by the parser`);
      }
      if (match !== undefined) {
        if (op !== "=" && op !== "!=")
          throw new Error(`wildcard with "${op}" on ${JSON.stringify(expr.field)} should have been rejected by the parser`);
        const escaped = escapeLike(String(value));
        params.push(match === "prefix" ? `${escaped}%` : match === "suffix" ? `%${escaped}` : `%${escaped}%`);
        return op === "=" ? `(${property} like ?)` : `(not ${property} like ?)`;
      }
      params.push(value);
      return `(${property} ${ORDERING[op]} ?)`;
    }
  }
}

/** Backslash is PostgreSQL's default LIKE escape, so user text can never act as a wildcard. */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
