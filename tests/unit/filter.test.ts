import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/domain/errors.js";
import {
  FILTER_LIMITS,
  parseFilter,
  type Comparator,
  type FilterExpr,
  type FilterSchema,
  type FilterValue,
} from "../../src/domain/filter.js";
import { toFilterQuery } from "../../src/persistence/filter-query.js";

const STATUS = {
  RACK_STATUS_ACTIVE: "ACTIVE",
  ACTIVE: "ACTIVE",
  RACK_STATUS_RETIRED: "RETIRED",
  RETIRED: "RETIRED",
} as const;

const schema: FilterSchema = {
  name: { type: { kind: "string" }, property: "name" },
  status: { type: { kind: "enum", values: STATUS }, property: "status" },
  height_units: { type: { kind: "integer" }, property: "heightUnits" },
  power_kw: { type: { kind: "number" }, property: "powerKw" },
  managed: { type: { kind: "boolean" }, property: "managed" },
  create_time: { type: { kind: "timestamp" }, property: "createdAt" },
  tags: { type: { kind: "string_list" }, property: "tags" },
  "location.city": { type: { kind: "string" }, property: "location.city" },
};

function cmp(field: string, op: Comparator, value: FilterValue, match?: "prefix" | "suffix" | "contains"): FilterExpr {
  const f = schema[field]!;
  return { kind: "compare", field, property: f.property, type: f.type, op, value, ...(match ? { match } : {}) };
}
const and = (...args: FilterExpr[]): FilterExpr => ({ kind: "and", args });
const or = (...args: FilterExpr[]): FilterExpr => ({ kind: "or", args });
const not = (arg: FilterExpr): FilterExpr => ({ kind: "not", arg });

describe("parseFilter + toFilterQuery: accepted filters", () => {
  const cases: { filter: string; ast: FilterExpr; query: Record<string, unknown> }[] = [
    { filter: 'name = "r1"', ast: cmp("name", "=", "r1"), query: { name: { $eq: "r1" } } },
    { filter: "name=r1", ast: cmp("name", "=", "r1"), query: { name: { $eq: "r1" } } },
    { filter: "name != r1", ast: cmp("name", "!=", "r1"), query: { name: { $ne: "r1" } } },
    {
      filter: "height_units >= 16",
      ast: cmp("height_units", ">=", 16),
      query: { heightUnits: { $gte: 16 } },
    },
    { filter: "height_units < -3", ast: cmp("height_units", "<", -3), query: { heightUnits: { $lt: -3 } } },
    { filter: "height_units = -0", ast: cmp("height_units", "=", 0), query: { heightUnits: { $eq: 0 } } },
    { filter: 'height_units = "42"', ast: cmp("height_units", "=", 42), query: { heightUnits: { $eq: 42 } } },
    { filter: "power_kw > 2.5", ast: cmp("power_kw", ">", 2.5), query: { powerKw: { $gt: 2.5 } } },
    { filter: "power_kw <= -1e3", ast: cmp("power_kw", "<=", -1000), query: { powerKw: { $lte: -1000 } } },
    { filter: "power_kw = .5", ast: cmp("power_kw", "=", 0.5), query: { powerKw: { $eq: 0.5 } } },
    { filter: "managed = true", ast: cmp("managed", "=", true), query: { managed: { $eq: true } } },
    { filter: "managed != false", ast: cmp("managed", "!=", false), query: { managed: { $ne: false } } },
    // Enums: the short and the fully qualified names, bare or quoted, all store the same value.
    { filter: "status = ACTIVE", ast: cmp("status", "=", "ACTIVE"), query: { status: { $eq: "ACTIVE" } } },
    {
      filter: "status = RACK_STATUS_RETIRED",
      ast: cmp("status", "=", "RETIRED"),
      query: { status: { $eq: "RETIRED" } },
    },
    {
      filter: "status != 'RACK_STATUS_ACTIVE'",
      ast: cmp("status", "!=", "ACTIVE"),
      query: { status: { $ne: "ACTIVE" } },
    },
    // Timestamps: offsets are applied, fractions kept to the millisecond.
    {
      filter: 'create_time > "2024-01-31T12:00:00Z"',
      ast: cmp("create_time", ">", new Date("2024-01-31T12:00:00Z")),
      query: { createdAt: { $gt: new Date("2024-01-31T12:00:00Z") } },
    },
    {
      filter: "create_time <= '2024-02-29T23:30:00.123456+01:30'",
      ast: cmp("create_time", "<=", new Date("2024-02-29T22:00:00.123Z")),
      query: { createdAt: { $lte: new Date("2024-02-29T22:00:00.123Z") } },
    },
    {
      filter: 'create_time = "0001-01-01T00:00:00Z"',
      ast: cmp("create_time", "=", new Date("0001-01-01T00:00:00Z")),
      query: { createdAt: { $eq: new Date("0001-01-01T00:00:00Z") } },
    },
    // Quoting and escapes; LIKE metacharacters from the user are escaped, `*` is the only wildcard.
    {
      filter: String.raw`name = "say \"hi\" \\ it's"`,
      ast: cmp("name", "=", String.raw`say "hi" \ it's`),
      query: { name: { $eq: String.raw`say "hi" \ it's` } },
    },
    {
      filter: String.raw`name = 'it\'s "fine"'`,
      ast: cmp("name", "=", `it's "fine"`),
      query: { name: { $eq: `it's "fine"` } },
    },
    { filter: 'name = "a\\tb\\nc"', ast: cmp("name", "=", "a\tb\nc"), query: { name: { $eq: "a\tb\nc" } } },
    { filter: 'name = ""', ast: cmp("name", "=", ""), query: { name: { $eq: "" } } },
    { filter: 'name = "AND"', ast: cmp("name", "=", "AND"), query: { name: { $eq: "AND" } } },
    {
      filter: "name = rack-*",
      ast: cmp("name", "=", "rack-", "prefix"),
      query: { name: { $like: "rack-%" } },
    },
    {
      filter: 'name = "*_01"',
      ast: cmp("name", "=", "_01", "suffix"),
      query: { name: { $like: "%\\_01" } },
    },
    {
      filter: 'name = "*50%*"',
      ast: cmp("name", "=", "50%", "contains"),
      query: { name: { $like: "%50\\%%" } },
    },
    {
      filter: String.raw`name = "a\\b*"`,
      ast: cmp("name", "=", String.raw`a\b`, "prefix"),
      query: { name: { $like: String.raw`a\\b%` } },
    },
    {
      // An escaped star is literal: no wildcard, plain equality.
      filter: String.raw`name = "\*star\*"`,
      ast: cmp("name", "=", "*star*"),
      query: { name: { $eq: "*star*" } },
    },
    { filter: "name = *", ast: cmp("name", "=", "", "prefix"), query: { name: { $like: "%" } } },
    { filter: "name = **", ast: cmp("name", "=", "", "prefix"), query: { name: { $like: "%" } } },
    {
      filter: "name != old*",
      ast: cmp("name", "!=", "old", "prefix"),
      query: { $not: { name: { $like: "old%" } } },
    },
    { filter: "name > b*", ast: cmp("name", ">", "b*"), query: { name: { $gt: "b*" } } },
    // `:` on strings is a case-insensitive substring; surrounding stars are redundant and dropped.
    { filter: "name:Edge", ast: cmp("name", ":", "Edge"), query: { name: { $ilike: "%Edge%" } } },
    { filter: 'name : "*1_0%*"', ast: cmp("name", ":", "1_0%"), query: { name: { $ilike: "%1\\_0\\%%" } } },
    { filter: "tags:gpu", ast: cmp("tags", ":", "gpu"), query: { tags: { $contains: ["gpu"] } } },
    {
      filter: String.raw`tags:"\*"`,
      ast: cmp("tags", ":", "*"),
      query: { tags: { $contains: ["*"] } },
    },
    {
      filter: 'location.city = "Berlin"',
      ast: cmp("location.city", "=", "Berlin"),
      query: { location: { city: { $eq: "Berlin" } } },
    },
    // Precedence: OR binds tighter than AND and than juxtaposition.
    {
      filter: "name = a AND name = b OR name = c",
      ast: and(cmp("name", "=", "a"), or(cmp("name", "=", "b"), cmp("name", "=", "c"))),
      query: { $and: [{ name: { $eq: "a" } }, { $or: [{ name: { $eq: "b" } }, { name: { $eq: "c" } }] }] },
    },
    {
      filter: "name = a OR name = b AND name = c",
      ast: and(or(cmp("name", "=", "a"), cmp("name", "=", "b")), cmp("name", "=", "c")),
      query: { $and: [{ $or: [{ name: { $eq: "a" } }, { name: { $eq: "b" } }] }, { name: { $eq: "c" } }] },
    },
    {
      filter: "name = a name = b OR name = c",
      ast: and(cmp("name", "=", "a"), or(cmp("name", "=", "b"), cmp("name", "=", "c"))),
      query: { $and: [{ name: { $eq: "a" } }, { $or: [{ name: { $eq: "b" } }, { name: { $eq: "c" } }] }] },
    },
    {
      filter: "(name = a AND name = b) OR name = c",
      ast: or(and(cmp("name", "=", "a"), cmp("name", "=", "b")), cmp("name", "=", "c")),
      query: { $or: [{ $and: [{ name: { $eq: "a" } }, { name: { $eq: "b" } }] }, { name: { $eq: "c" } }] },
    },
    // Implicit AND, flattened together with explicit AND and redundant parentheses.
    {
      filter: "height_units = 1 managed = true",
      ast: and(cmp("height_units", "=", 1), cmp("managed", "=", true)),
      query: { $and: [{ heightUnits: { $eq: 1 } }, { managed: { $eq: true } }] },
    },
    {
      filter: "((name = a)) (name = b AND name = c) AND name = d",
      ast: and(cmp("name", "=", "a"), cmp("name", "=", "b"), cmp("name", "=", "c"), cmp("name", "=", "d")),
      query: {
        $and: [{ name: { $eq: "a" } }, { name: { $eq: "b" } }, { name: { $eq: "c" } }, { name: { $eq: "d" } }],
      },
    },
    // Negation: NOT and `-`, on comparisons and groups; NOT binds tighter than OR.
    {
      filter: "NOT managed = true",
      ast: not(cmp("managed", "=", true)),
      query: { $not: { managed: { $eq: true } } },
    },
    {
      filter: "-status = ACTIVE",
      ast: not(cmp("status", "=", "ACTIVE")),
      query: { $not: { status: { $eq: "ACTIVE" } } },
    },
    {
      filter: "NOT name = a OR name = b",
      ast: or(not(cmp("name", "=", "a")), cmp("name", "=", "b")),
      query: { $or: [{ $not: { name: { $eq: "a" } } }, { name: { $eq: "b" } }] },
    },
    {
      filter: "-(name = a OR name = b) height_units > -1",
      ast: and(not(or(cmp("name", "=", "a"), cmp("name", "=", "b"))), cmp("height_units", ">", -1)),
      query: {
        $and: [{ $not: { $or: [{ name: { $eq: "a" } }, { name: { $eq: "b" } }] } }, { heightUnits: { $gt: -1 } }],
      },
    },
    {
      filter: "NOT -tags:x",
      ast: not(not(cmp("tags", ":", "x"))),
      query: { $not: { $not: { tags: { $contains: ["x"] } } } },
    },
    {
      filter: "name = -x",
      ast: cmp("name", "=", "-x"),
      query: { name: { $eq: "-x" } },
    },
  ];

  it.each(cases)("$filter", ({ filter, ast, query }) => {
    const parsed = parseFilter(filter, schema);
    expect(parsed).toEqual(ast);
    expect(toFilterQuery(parsed!)).toEqual(query);
  });

  it.each(["", "   ", "\n\t"])("treats %j as no filter", (filter) => {
    expect(parseFilter(filter, schema)).toBeUndefined();
  });

  it("accepts exactly the limits", () => {
    const deep = `${"(".repeat(FILTER_LIMITS.maxDepth)}name = a${")".repeat(FILTER_LIMITS.maxDepth)}`;
    expect(parseFilter(deep, schema)).toEqual(cmp("name", "=", "a"));
    const many = Array.from({ length: FILTER_LIMITS.maxComparisons }, (_, i) => `height_units = ${i}`).join(" ");
    expect(parseFilter(many, schema)).toMatchObject({ kind: "and" });
  });
});

describe("parseFilter: rejected filters", () => {
  const cases: { filter: string; message: string | RegExp }[] = [
    {
      filter: "colour = red",
      message:
        'unknown field "colour" at offset 0 (known fields: name, status, height_units, power_kw, managed, create_time, tags, location.city)',
    },
    { filter: "constructor = 1", message: 'unknown field "constructor"' },
    { filter: "name = a and name = b", message: /"and" at offset 9 is not a comparison.*keywords must be upper case \(AND\)/ },
    { filter: "height_units = tall", message: 'field "height_units" wants an integer, got "tall" at offset 15' },
    { filter: "height_units = 2.5", message: 'field "height_units" wants an integer, got "2.5"' },
    { filter: "height_units = 9007199254740992", message: /wants an integer between -9007199254740991 and 9007199254740991/ },
    { filter: "power_kw = 1e999", message: 'field "power_kw" wants a finite number, got "1e999"' },
    { filter: "power_kw = 0x10", message: 'field "power_kw" wants a number, got "0x10"' },
    { filter: "managed = yes", message: 'field "managed" wants true or false, got "yes"' },
    {
      filter: "status = ACTIV",
      message: 'field "status" wants one of RACK_STATUS_ACTIVE, RACK_STATUS_RETIRED, got "ACTIV" at offset 9',
    },
    { filter: 'create_time > "2024-02-30T00:00:00Z"', message: /wants an RFC 3339 timestamp.*got "2024-02-30T00:00:00Z"/ },
    { filter: 'create_time > "2023-02-29T00:00:00Z"', message: /wants an RFC 3339 timestamp/ },
    { filter: 'create_time > "2024-01-01"', message: /wants an RFC 3339 timestamp/ },
    // Unquoted, the colons of a timestamp split it; the message says to quote it.
    { filter: "create_time > 2024-01-01T00:00:00Z", message: /RFC 3339 timestamp in quotes.*got "2024-01-01T00" at offset 14/ },
    { filter: "name = a)", message: 'unexpected ")" at offset 8 (no matching "(")' },
    { filter: "name = a) OR (name = b", message: 'unexpected ")" at offset 8' },
    { filter: "(name = a", message: 'expected ")" to close the "(" at offset 0, got end of filter at offset 9' },
    { filter: "((name = a) name = b", message: 'expected ")" to close the "(" at offset 0' },
    { filter: "()", message: "empty parentheses at offset 0" },
    { filter: "name = a AND ()", message: "empty parentheses at offset 13" },
    { filter: "name = a AND", message: "expected a comparison after AND at offset 9, got end of filter" },
    { filter: "name = a OR", message: "expected a comparison after OR at offset 9, got end of filter" },
    { filter: "name = a OR AND name = b", message: "expected a comparison after OR at offset 9, got AND at offset 12" },
    { filter: "AND name = a", message: "expected a comparison at offset 0, got AND" },
    { filter: "NOT", message: "expected a comparison after NOT at offset 0, got end of filter" },
    { filter: "name = a -", message: 'expected a comparison after "-" at offset 9, got end of filter' },
    { filter: "name =", message: 'expected a value after "=" at offset 5, got end of filter' },
    { filter: "name = )", message: 'expected a value after "=" at offset 5, got ")"' },
    { filter: "name = AND", message: 'got AND (quote it to use it as a value: "AND")' },
    { filter: "name = = a", message: 'expected a value after "=" at offset 5, got "="' },
    { filter: "name = a = b", message: 'unexpected "=" at offset 9' },
    { filter: "name", message: 'field "name" at offset 0 needs a comparator and a value' },
    { filter: "rack42", message: '"rack42" at offset 0 is not a comparison; searching by bare value is not supported' },
    { filter: '"rack42"', message: /string "rack42" at offset 0 is not a comparison/ },
    { filter: '"name" = a', message: 'expected a field name at offset 0, got string "name" (field names are not quoted)' },
    { filter: "name ! a", message: 'unexpected "!" at offset 5 (did you mean "!=" or NOT?)' },
    { filter: 'name = "abc', message: "unterminated string starting at offset 7" },
    { filter: String.raw`name = "a\qb"`, message: String.raw`unknown escape "\q" at offset 9` },
    {
      filter: "managed < true",
      message: 'operator "<" at offset 8 is not supported for field "managed" (a boolean); use =, !=',
    },
    { filter: "status >= ACTIVE", message: 'operator ">=" at offset 7 is not supported for field "status" (an enum)' },
    { filter: "height_units:3", message: 'operator ":" at offset 12 is not supported for field "height_units" (an integer)' },
    {
      filter: "tags = gpu",
      message:
        'operator "=" at offset 5 is not supported for field "tags" (a list of strings); use tags:VALUE to match lists that contain VALUE',
    },
    { filter: "tags != gpu", message: 'operator "!=" at offset 5 is not supported for field "tags"' },
    { filter: "tags:gpu*", message: /field "tags" matches whole list elements, so wildcards are not supported/ },
    {
      filter: `${"(".repeat(FILTER_LIMITS.maxDepth + 1)}name = a${")".repeat(FILTER_LIMITS.maxDepth + 1)}`,
      message: `filter nests too deeply at offset ${FILTER_LIMITS.maxDepth} (at most ${FILTER_LIMITS.maxDepth} levels)`,
    },
    { filter: `${"NOT ".repeat(FILTER_LIMITS.maxDepth + 1)}name = a`, message: "filter nests too deeply" },
    { filter: `${"-".repeat(FILTER_LIMITS.maxDepth + 1)}name = a`, message: "filter nests too deeply" },
    { filter: "(".repeat(100_000), message: "filter is too long" },
    {
      filter: Array.from({ length: FILTER_LIMITS.maxComparisons + 1 }, () => "managed = true").join(" OR "),
      message: `filter has too many comparisons (more than ${FILTER_LIMITS.maxComparisons})`,
    },
  ];

  it.each(cases)("$filter", ({ filter, message }) => {
    let error: unknown;
    try {
      parseFilter(filter, schema);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    const e = error as InvalidArgumentError;
    expect(e.reason).toBe("INVALID_FILTER");
    expect(e.code).toBe("INVALID_ARGUMENT");
    if (typeof message === "string") expect(e.message).toContain(message);
    else expect(e.message).toMatch(message);
    expect(e.violations).toEqual([{ field: "filter", description: e.message }]);
  });

  it("shortens long user text in messages", () => {
    expect(() => parseFilter(`${"x".repeat(500)} = 1`, schema)).toThrow(/unknown field "x{61}\.\.\."/);
  });
});

// ---------------------------------------------------------------------------------------------
// Round trip: random ASTs, printed as text, parse back to the same AST.

/** Escapes every star too, so the printer decides alone where wildcards go. */
function quote(text: string): string {
  return `"${text.replace(/[\\"*]/g, (c) => `\\${c}`)}"`;
}

function printValue(e: Extract<FilterExpr, { kind: "compare" }>, pick: () => boolean): string {
  const { value, type } = e;
  if (value instanceof Date) return `"${value.toISOString()}"`;
  if (typeof value === "number" || typeof value === "boolean") {
    return pick() ? String(value) : `"${String(value)}"`;
  }
  if (type.kind === "enum") {
    const names = Object.keys(type.values).filter((name) => type.values[name] === value);
    const name = names[pick() ? 0 : names.length - 1]!;
    return pick() ? name : `'${name}'`;
  }
  const wildcard = e.match === undefined ? "" : "*";
  const lead = e.match === "suffix" || e.match === "contains" ? wildcard : "";
  const trail = e.match === "prefix" || e.match === "contains" ? wildcard : "";
  const quoted = quote(value);
  return `${quoted[0]}${lead}${quoted.slice(1, -1)}${trail}${quoted.at(-1)}`;
}

/** Precedence-aware: parenthesizes only where AIP-160 needs it, plus sometimes where it does not. */
function print(e: FilterExpr, pick: () => boolean, context: "top" | "and" | "or" | "not"): string {
  const needsParens = (e.kind === "and" && context !== "top") || (e.kind === "or" && context === "not");
  const text = printBare(e, pick);
  return needsParens || (e.kind !== "compare" && pick() && pick()) ? `(${text})` : text;
}

function printBare(e: FilterExpr, pick: () => boolean): string {
  switch (e.kind) {
    case "and":
      return e.args.map((a) => print(a, pick, "and")).join(pick() ? " AND " : " ");
    case "or":
      return e.args.map((a) => print(a, pick, "or")).join(" OR ");
    case "not":
      return pick() ? `NOT ${print(e.arg, pick, "not")}` : `-${print(e.arg, pick, "not")}`;
    case "compare":
      return `${e.field} ${e.op} ${printValue(e, pick)}`;
  }
}

const arbCompare: fc.Arbitrary<FilterExpr> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom("name", "location.city"),
      fc.constantFrom<Comparator>("=", "!=", "<", "<=", ">", ">=", ":"),
      fc.string(),
      fc.constantFrom(undefined, "prefix", "suffix", "contains"),
    )
    .map(([field, op, value, match]) => cmp(field, op, value, op === "=" || op === "!=" ? match : undefined)),
  fc
    .tuple(
      fc.constantFrom<Comparator>("=", "!=", "<", "<=", ">", ">="),
      fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    )
    .map(([op, value]) => cmp("height_units", op, value)),
  fc
    .tuple(fc.constantFrom<Comparator>("=", "!=", "<", "<=", ">", ">="), fc.double({ noNaN: true, noDefaultInfinity: true }))
    .map(([op, value]) => cmp("power_kw", op, value === 0 ? 0 : value)),
  fc.tuple(fc.constantFrom<Comparator>("=", "!="), fc.boolean()).map(([op, value]) => cmp("managed", op, value)),
  fc.tuple(fc.constantFrom<Comparator>("=", "!="), fc.constantFrom("ACTIVE", "RETIRED")).map(([op, value]) => cmp("status", op, value)),
  fc
    .tuple(
      fc.constantFrom<Comparator>("=", "!=", "<", "<=", ">", ">="),
      fc.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59.999Z"), noInvalidDate: true }),
    )
    .map(([op, value]) => cmp("create_time", op, value)),
  fc.string().map((value) => cmp("tags", ":", value)),
);

const arbExpr: fc.Arbitrary<FilterExpr> = fc.letrec<{ expr: FilterExpr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    arbCompare,
    fc.array(tie("expr"), { minLength: 2, maxLength: 4 }).map((args) => and(...args)),
    fc.array(tie("expr"), { minLength: 2, maxLength: 4 }).map((args) => or(...args)),
    tie("expr").map(not),
  ),
})).expr;

/** The parser flattens nested AND-in-AND and OR-in-OR; do the same to the generated tree. */
function normalize(e: FilterExpr): FilterExpr {
  switch (e.kind) {
    case "and":
    case "or": {
      const args = e.args.map(normalize).flatMap((a) => (a.kind === e.kind ? a.args : [a]));
      return { kind: e.kind, args };
    }
    case "not":
      return not(normalize(e.arg));
    case "compare":
      // `*` is both an empty prefix and an empty suffix; the parser calls every empty wildcard a prefix.
      return e.value === "" && e.match !== undefined ? { ...e, match: "prefix" } : e;
  }
}

function depth(e: FilterExpr): number {
  switch (e.kind) {
    case "and":
    case "or":
      return 1 + Math.max(...e.args.map(depth));
    case "not":
      return 1 + depth(e.arg);
    case "compare":
      return 0;
  }
}

describe("parseFilter round trip", () => {
  it("parses printed ASTs back to the same AST", () => {
    fc.assert(
      fc.property(arbExpr, fc.array(fc.boolean(), { minLength: 1, maxLength: 32 }), (expr, choices) => {
        fc.pre(depth(expr) < 20); // printed parentheses must stay under FILTER_LIMITS.maxDepth
        let i = 0;
        const pick = () => choices[i++ % choices.length]!;
        const text = print(expr, pick, "top");
        expect(parseFilter(text, schema), text).toEqual(normalize(expr));
      }),
      { numRuns: 500 },
    );
  });
});
