// AIP-160 filter strings (https://google.aip.dev/160): lexing, parsing and type-checking against a
// per-resource schema. Pure: the result is a typed AST that persistence compiles into a query, so
// every user mistake is caught here, with an offset, before anything reaches the database.

import { InvalidArgumentError } from "./errors.js";

export type FieldType =
  /** `=`/`!=` accept a leading and/or trailing `*` wildcard; `:` is a case-insensitive substring match. */
  | { kind: "string" }
  /** An id: a UUID compared whole (`=` / `!=`), since ids have no meaningful order or parts. */
  | { kind: "uuid" }
  /** Safe integers only, so values survive the trip through a JS number. */
  | { kind: "integer" }
  | { kind: "number" }
  | { kind: "boolean" }
  /** RFC 3339 text, parsed to a Date. */
  | { kind: "timestamp" }
  /** Accepted token (bare or quoted) -> stored value, e.g. `{ RACK_STATUS_ACTIVE: "ACTIVE", ACTIVE: "ACTIVE" }`. */
  | { kind: "enum"; values: Readonly<Record<string, string>> }
  /** A PostgreSQL text[] column; only `:` ("has this element") applies. */
  | { kind: "string_list" };

export interface FilterField {
  readonly type: FieldType;
  /** Entity property name, e.g. "roomId"; may be a dotted path into an embeddable. */
  readonly property: string;
}

/** Key = API field name (snake_case, may contain dots like "location.city"). */
export type FilterSchema = Readonly<Record<string, FilterField>>;

export type Comparator = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":";

export type FilterValue = string | number | boolean | Date;

export type FilterExpr =
  | { readonly kind: "and"; readonly args: readonly FilterExpr[] }
  | { readonly kind: "or"; readonly args: readonly FilterExpr[] }
  | { readonly kind: "not"; readonly arg: FilterExpr }
  | {
      readonly kind: "compare";
      readonly field: string;
      readonly property: string;
      readonly type: FieldType;
      readonly op: Comparator;
      readonly value: FilterValue;
      /**
       * Set only for `=`/`!=` on strings whose value had `*` wildcards (stripped from `value`).
       * `:` on strings needs no marker: it always means case-insensitive substring.
       */
      readonly match?: "prefix" | "suffix" | "contains";
    };

/** Bounds that keep a hostile filter from costing much in the parser or in SQL. */
export const FILTER_LIMITS = {
  /** Characters of filter text. */
  maxLength: 16_384,
  /** Nested parentheses and negations. */
  maxDepth: 64,
  /** Comparisons in one filter. */
  maxComparisons: 200,
} as const;

/** Parses and type-checks; returns undefined for an empty / whitespace-only filter. Throws InvalidArgumentError (reason INVALID_FILTER). */
export function parseFilter(text: string, schema: FilterSchema): FilterExpr | undefined {
  if (text.length > FILTER_LIMITS.maxLength) {
    fail(`filter is too long (${text.length} characters, at most ${FILTER_LIMITS.maxLength} allowed)`);
  }
  return new Parser(lex(text), schema).parse();
}

// ---------------------------------------------------------------------------------------------
// Errors

function fail(message: string, offset?: number): never {
  throw new InvalidArgumentError(
    "INVALID_FILTER",
    message,
    [{ field: "filter", description: message }],
    offset === undefined ? {} : { offset: String(offset) },
  );
}

/** Quotes user text for a message; long values are cut so one bad filter cannot flood the logs. */
function show(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 61)}...` : text);
}

// ---------------------------------------------------------------------------------------------
// Lexer

interface TokenBase {
  readonly offset: number;
}

/** A bare word or a quoted string: field names and values alike. */
interface WordToken extends TokenBase {
  readonly kind: "word";
  /** Unescaped text. */
  readonly text: string;
  readonly quoted: boolean;
  /**
   * Whether the first / last character is a `*` the user meant as a wildcard. Kept apart from
   * `text` because in a quoted string `\*` is a literal star that must not become a wildcard.
   */
  readonly leadingStar: boolean;
  readonly trailingStar: boolean;
}

type Token =
  | WordToken
  | (TokenBase & { readonly kind: "op"; readonly op: Comparator })
  | (TokenBase & { readonly kind: "(" | ")" | "AND" | "OR" | "NOT" | "end" });

const COMPARATORS: readonly Comparator[] = ["<=", ">=", "!=", "=", "<", ">", ":"];
const ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\",
  '"': '"',
  "'": "'",
  "*": "*",
  n: "\n",
  r: "\r",
  t: "\t",
};

function isWhitespace(c: string): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v";
}

/** Characters that end a bare word; `-` and `*` deliberately are not among them. */
function endsBareWord(c: string): boolean {
  return isWhitespace(c) || "()\"'=<>!:".includes(c);
}

function bareWord(text: string, offset: number): Token {
  // Keywords are upper case only (AIP-160), so `and` stays an ordinary word.
  if (text === "AND" || text === "OR" || text === "NOT") return { kind: text, offset };
  return {
    kind: "word",
    text,
    offset,
    quoted: false,
    leadingStar: text.startsWith("*"),
    trailingStar: text.endsWith("*"),
  };
}

function lex(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (isWhitespace(c)) {
      i++;
    } else if (c === "(" || c === ")") {
      tokens.push({ kind: c, offset: i });
      i++;
    } else if (c === '"' || c === "'") {
      i = lexQuoted(source, i, tokens);
    } else {
      const op = COMPARATORS.find((candidate) => source.startsWith(candidate, i));
      if (op !== undefined) {
        tokens.push({ kind: "op", op, offset: i });
        i += op.length;
      } else if (c === "!") {
        fail(`unexpected "!" at offset ${i} (did you mean "!=" or NOT?)`, i);
      } else {
        const start = i;
        while (i < source.length && !endsBareWord(source[i]!)) i++;
        tokens.push(bareWord(source.slice(start, i), start));
      }
    }
  }
  tokens.push({ kind: "end", offset: source.length });
  return tokens;
}

/** Lexes the quoted string opening at `start`, pushes it, and returns the offset after it. */
function lexQuoted(source: string, start: number, tokens: Token[]): number {
  const quote = source[start]!;
  let text = "";
  let leadingStar = false;
  let trailingStar = false;
  let i = start + 1;
  for (;;) {
    if (i >= source.length) fail(`unterminated string starting at offset ${start}`, start);
    const c = source[i]!;
    if (c === quote) break;
    if (c === "\\") {
      const next = source[i + 1];
      if (next === undefined) fail(`unterminated string starting at offset ${start}`, start);
      const escaped = ESCAPES[next];
      if (escaped === undefined) {
        fail(`unknown escape "\\${next}" at offset ${i} ` + `(known escapes: \\\\ \\" \\' \\* \\n \\r \\t)`, i);
      }
      text += escaped;
      trailingStar = false;
      i += 2;
    } else {
      if (c === "*" && text === "") leadingStar = true;
      text += c;
      trailingStar = c === "*";
      i++;
    }
  }
  tokens.push({ kind: "word", text, offset: start, quoted: true, leadingStar, trailingStar });
  return i + 1;
}

function describe(token: Token): string {
  switch (token.kind) {
    case "end":
      return "end of filter";
    case "op":
      return `"${token.op}"`;
    case "word":
      return token.quoted ? `string ${show(token.text)}` : show(token.text);
    case "(":
    case ")":
      return `"${token.kind}"`;
    default:
      return token.kind;
  }
}

// ---------------------------------------------------------------------------------------------
// Parser
//
// AIP-160 grammar, loosest-binding rule first. Note the unusual precedence: OR binds tighter than
// both juxtaposition and AND, so `a AND b OR c` is `a AND (b OR c)`.
//
//   filter     : [expression]
//   expression : sequence {AND sequence}
//   sequence   : factor {factor}              (implicit AND)
//   factor     : term {OR term}
//   term       : [NOT | "-"] term | simple    (negations may stack, each counts as depth)
//   simple     : restriction | "(" expression ")"
//   restriction: FIELD comparator VALUE       (global restrictions and functions unsupported)

class Parser {
  private pos = 0;
  private depth = 0;
  private comparisons = 0;
  private readonly tokens: Token[];
  private readonly schema: FilterSchema;

  constructor(tokens: Token[], schema: FilterSchema) {
    this.tokens = tokens;
    this.schema = schema;
  }

  parse(): FilterExpr | undefined {
    if (this.peek().kind === "end") return undefined;
    const expr = this.expression();
    const next = this.peek();
    if (next.kind !== "end") {
      const hint = next.kind === ")" ? ' (no matching "(")' : "";
      fail(`unexpected ${describe(next)} at offset ${next.offset}${hint}`, next.offset);
    }
    return expr;
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    const token = this.tokens[this.pos]!;
    if (token.kind !== "end") this.pos++;
    return token;
  }

  private expression(): FilterExpr {
    const args = [this.sequence()];
    while (this.peek().kind === "AND") {
      const and = this.next();
      this.expectTermAfter(and, "AND");
      args.push(this.sequence());
    }
    return combine("and", args);
  }

  private sequence(): FilterExpr {
    const args = [this.factor()];
    while (this.startsTerm(this.peek())) args.push(this.factor());
    return combine("and", args);
  }

  private factor(): FilterExpr {
    const args = [this.term()];
    while (this.peek().kind === "OR") {
      const or = this.next();
      this.expectTermAfter(or, "OR");
      args.push(this.term());
    }
    return combine("or", args);
  }

  private term(): FilterExpr {
    const token = this.peek();
    if (token.kind === "NOT") {
      this.next();
      this.expectTermAfter(token, "NOT");
      return this.negation(token.offset);
    }
    if (token.kind === "word" && !token.quoted && token.text.startsWith("-")) {
      // `-` is part of bare words so that `-3` lexes as a number in value position; here, at
      // the start of a term, it is negation, and the rest of the word (if any) is what it negates.
      const rest = token.text.slice(1);
      if (rest === "") this.next();
      else this.tokens[this.pos] = bareWord(rest, token.offset + 1);
      this.expectTermAfter(token, '"-"');
      return this.negation(token.offset);
    }
    return this.simple();
  }

  private negation(offset: number): FilterExpr {
    this.enter(offset);
    const arg = this.term();
    this.depth--;
    return { kind: "not", arg };
  }

  private simple(): FilterExpr {
    const token = this.peek();
    if (token.kind === "(") {
      this.next();
      if (this.peek().kind === ")") fail(`empty parentheses at offset ${token.offset}`, token.offset);
      this.enter(token.offset);
      const expr = this.expression();
      this.depth--;
      const close = this.peek();
      if (close.kind !== ")") {
        fail(`expected ")" to close the "(" at offset ${token.offset}, got ${describe(close)} at offset ${close.offset}`, close.offset);
      }
      this.next();
      return expr;
    }
    if (token.kind === "word") return this.restriction(token);
    fail(`expected a comparison at offset ${token.offset}, got ${describe(token)}`, token.offset);
  }

  private restriction(fieldToken: WordToken): FilterExpr {
    this.next();
    const name = fieldToken.text;
    const opToken = this.peek();
    if (opToken.kind !== "op") {
      const field = this.lookupField(fieldToken, false);
      if (field === undefined) {
        fail(
          `${describe(fieldToken)} at offset ${fieldToken.offset} is not a comparison; ` +
            `searching by bare value is not supported, write FIELD = VALUE ` +
            `(known fields: ${this.knownFields()})${keywordHint(fieldToken)}`,
          fieldToken.offset,
        );
      }
      fail(
        `field ${show(name)} at offset ${fieldToken.offset} needs a comparator and a value, ` +
          `e.g. ${name} = VALUE; got ${describe(opToken)} at offset ${opToken.offset}`,
        opToken.offset,
      );
    }
    const field = this.lookupField(fieldToken, true);
    this.next();
    const valueToken = this.peek();
    if (valueToken.kind !== "word") {
      const hint =
        valueToken.kind === "AND" || valueToken.kind === "OR" || valueToken.kind === "NOT"
          ? ` (quote it to use it as a value: "${valueToken.kind}")`
          : "";
      fail(`expected a value after "${opToken.op}" at offset ${opToken.offset}, got ${describe(valueToken)}${hint}`, valueToken.offset);
    }
    this.next();
    if (++this.comparisons > FILTER_LIMITS.maxComparisons) {
      fail(
        `filter has too many comparisons (more than ${FILTER_LIMITS.maxComparisons}); the one at offset ${fieldToken.offset} is over the limit`,
        fieldToken.offset,
      );
    }
    checkOperator(name, field.type, opToken.op, opToken.offset);
    const { value, match } = typedValue(name, field.type, opToken.op, valueToken);
    return {
      kind: "compare",
      field: name,
      property: field.property,
      type: field.type,
      op: opToken.op,
      value,
      ...(match === undefined ? {} : { match }),
    };
  }

  private lookupField(token: WordToken, required: true): FilterField;
  private lookupField(token: WordToken, required: false): FilterField | undefined;
  private lookupField(token: WordToken, required: boolean): FilterField | undefined {
    // hasOwn, so that "constructor" or "__proto__" are unknown fields rather than prototype members.
    if (!token.quoted && Object.hasOwn(this.schema, token.text)) return this.schema[token.text];
    if (!required) return undefined;
    if (token.quoted) {
      fail(`expected a field name at offset ${token.offset}, got ${describe(token)} (field names are not quoted)`, token.offset);
    }
    fail(
      `unknown field ${show(token.text)} at offset ${token.offset} (known fields: ${this.knownFields()})${keywordHint(token)}`,
      token.offset,
    );
  }

  private knownFields(): string {
    return Object.keys(this.schema).join(", ");
  }

  private startsTerm(token: Token): boolean {
    return token.kind === "word" || token.kind === "(" || token.kind === "NOT";
  }

  /** Gives dangling AND / OR / NOT / `-` a message that names them, not just the token after. */
  private expectTermAfter(keyword: Token, name: string): void {
    const next = this.peek();
    if (!this.startsTerm(next)) {
      fail(
        `expected a comparison after ${name} at offset ${keyword.offset}, got ${describe(next)}` +
          (next.kind === "end" ? "" : ` at offset ${next.offset}`),
        next.offset,
      );
    }
  }

  /** Guards the recursion: nesting is the only thing that makes the parser recurse. */
  private enter(offset: number): void {
    if (++this.depth > FILTER_LIMITS.maxDepth) {
      fail(`filter nests too deeply at offset ${offset} (at most ${FILTER_LIMITS.maxDepth} levels)`, offset);
    }
  }
}

/** `and` where AND was meant reads as a field or bare value; say so instead of only "unknown". */
function keywordHint(token: WordToken): string {
  const upper = token.text.toUpperCase();
  return !token.quoted && (upper === "AND" || upper === "OR" || upper === "NOT") ? `; keywords must be upper case (${upper})` : "";
}

/** Builds an n-ary node, flattening same-kind children so `(a AND b) AND c` is one AND of three. */
function combine(kind: "and" | "or", args: FilterExpr[]): FilterExpr {
  if (args.length === 1) return args[0]!;
  return { kind, args: args.flatMap((arg) => (arg.kind === kind ? arg.args : [arg])) };
}

// ---------------------------------------------------------------------------------------------
// Type checking

const ORDERED: readonly Comparator[] = ["=", "!=", "<", "<=", ">", ">="];
const EQUALITY: readonly Comparator[] = ["=", "!="];

function allowedOperators(type: FieldType): readonly Comparator[] {
  switch (type.kind) {
    case "string":
      return [...ORDERED, ":"];
    case "integer":
    case "number":
    case "timestamp":
      return ORDERED;
    case "boolean":
    case "enum":
    case "uuid":
      return EQUALITY;
    case "string_list":
      return [":"];
  }
}

function typeName(type: FieldType): string {
  switch (type.kind) {
    case "string":
      return "a string";
    case "uuid":
      return "an id";
    case "integer":
      return "an integer";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    case "timestamp":
      return "a timestamp";
    case "enum":
      return "an enum";
    case "string_list":
      return "a list of strings";
  }
}

function checkOperator(field: string, type: FieldType, op: Comparator, offset: number): void {
  const allowed = allowedOperators(type);
  if (allowed.includes(op)) return;
  const advice = type.kind === "string_list" ? `use ${field}:VALUE to match lists that contain VALUE` : `use ${allowed.join(", ")}`;
  fail(`operator "${op}" at offset ${offset} is not supported for field ${show(field)} (${typeName(type)}); ${advice}`, offset);
}

function typedValue(
  field: string,
  type: FieldType,
  op: Comparator,
  token: WordToken,
): { value: FilterValue; match?: "prefix" | "suffix" | "contains" } {
  const text = token.text;
  function wrongType(wants: string): never {
    fail(`field ${show(field)} wants ${wants}, got ${show(text)} at offset ${token.offset}`, token.offset);
  }

  switch (type.kind) {
    case "string":
      return stringValue(op, token);
    case "uuid":
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) wrongType("an id (a UUID) in quotes");
      return { value: text.toLowerCase() };
    case "string_list":
      if (token.leadingStar || token.trailingStar) {
        fail(
          `field ${show(field)} matches whole list elements, so wildcards are not supported ` +
            `(got ${show(text)} at offset ${token.offset}; write a literal star as "\\*")`,
          token.offset,
        );
      }
      return { value: text };
    case "integer": {
      if (!/^-?\d+$/.test(text)) wrongType("an integer");
      const n = Number(text);
      if (!Number.isSafeInteger(n)) {
        wrongType(`an integer between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`);
      }
      return { value: n === 0 ? 0 : n }; // no -0
    }
    case "number": {
      if (!/^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) wrongType("a number");
      const n = Number(text);
      if (!Number.isFinite(n)) wrongType("a finite number");
      return { value: n === 0 ? 0 : n };
    }
    case "boolean":
      if (text === "true") return { value: true };
      if (text === "false") return { value: false };
      return wrongType("true or false");
    case "timestamp": {
      const date = parseRfc3339(text);
      if (date === undefined) {
        wrongType(`an RFC 3339 timestamp in quotes, such as "2024-01-31T12:00:00Z"`);
      }
      return { value: date };
    }
    case "enum": {
      if (Object.hasOwn(type.values, text)) return { value: type.values[text]! };
      return wrongType(`one of ${enumNames(type.values).join(", ")}`);
    }
  }
}

function stringValue(op: Comparator, token: WordToken): { value: string; match?: "prefix" | "suffix" | "contains" } {
  let value = token.text;
  // A trailing star is taken first so that a lone `*` is one wildcard, not two.
  const trailing = token.trailingStar;
  if (trailing) value = value.slice(0, -1);
  const leading = token.leadingStar && (!trailing || token.text.length > 1);
  if (leading) value = value.slice(1);

  if (op === ":") return { value }; // already a substring match; `name:*abc*` reads naturally
  if (op !== "=" && op !== "!=") return { value: token.text }; // stars are literal in orderings
  if (value === "" && (leading || trailing)) return { value, match: "prefix" }; // `*`, `**`: one spelling of "any"
  if (leading && trailing) return { value, match: "contains" };
  if (trailing) return { value, match: "prefix" };
  if (leading) return { value, match: "suffix" };
  return { value };
}

/** One accepted name per stored value, the longest (usually the fully qualified proto name). */
function enumNames(values: Readonly<Record<string, string>>): string[] {
  const best = new Map<string, string>();
  for (const [name, stored] of Object.entries(values)) {
    const current = best.get(stored);
    if (current === undefined || name.length > current.length) best.set(stored, name);
  }
  return [...best.values()];
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Strict RFC 3339 (Date.parse accepts far more, and rolls Feb 30 over into March). */
function parseRfc3339(text: string): Date | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const millis = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3));
  if (month < 1 || month > 12) return undefined;
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate(); // 2000 is a leap year; Feb 29 is checked below
  if (day < 1 || day > daysInMonth) return undefined;
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return undefined;
  // 60 is a leap second; a Date cannot hold one, so it lands on the next minute's first second.
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offsetMinutes, second, millis);
  return date;
}
