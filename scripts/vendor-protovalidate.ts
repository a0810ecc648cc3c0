/**
 * Vendors buf/validate/validate.proto from @bufbuild/protovalidate.
 *
 * No npm package ships the .proto source, and the Buf Schema Registry is not
 * reachable from our builds, but @bufbuild/protovalidate embeds the compiled
 * FileDescriptorProto. This script turns that descriptor back into .proto
 * source, so our own schemas can import it with nothing but the local buf CLI.
 *
 *   npx tsx scripts/vendor-protovalidate.ts          (re)write the vendored file
 *   npx tsx scripts/vendor-protovalidate.ts --check  verify it is up to date and
 *                                                     compiles back to the
 *                                                     embedded descriptor
 *
 * The round trip in --check is what makes the printer trustworthy: anything it
 * gets wrong (a type name resolving to the wrong symbol, a lost option, an
 * escaping mistake) shows up as a descriptor mismatch.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import {
  createRegistry,
  fromBinary,
  getExtension,
  isFieldSet,
  ScalarType,
  toBinary,
  toJson,
  type DescEnum,
  type DescExtension,
  type DescField,
  type DescFile,
  type DescMessage,
  type JsonValue,
  type Message,
  type Registry,
} from "@bufbuild/protobuf";
import { isReflectMessage, protoCamelCase, reflect } from "@bufbuild/protobuf/reflect";
import { toText } from "@bufbuild/protobuf/txtpb";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  EnumOptionsSchema,
  EnumValueOptionsSchema,
  ExtensionRangeOptionsSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FieldDescriptorProtoSchema,
  FieldOptionsSchema,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  FileOptionsSchema,
  MessageOptionsSchema,
  MethodOptionsSchema,
  OneofOptionsSchema,
  ServiceOptionsSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
  type ServiceDescriptorProto,
} from "@bufbuild/protobuf/wkt";
// Keep in sync with `embeddingModule` below.
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

const projectRoot = resolve(import.meta.dirname, "..");
const embeddingModule = "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
const protoPath = "buf/validate/validate.proto";
const outputPath = join(projectRoot, "third_party/protovalidate", protoPath);
const bufBin = join(projectRoot, "node_modules/.bin/buf");

// Field numbers are 29 bits; descriptor ranges for messages are end-exclusive,
// enum ranges end-inclusive, so "max" is spelled differently for each.
const MESSAGE_RANGE_END_MAX = 536870912;
const ENUM_RANGE_END_MAX = 2147483647;

const INDENT = "  ";

// ---------------------------------------------------------------------------
// Name resolution
//
// Fully-qualified names always work, but `Rule` and `(predefined).cel` read far
// better than `.buf.validate.Rule`. A shorter name is only safe if protoc would
// resolve it back to the same symbol from where it is written, so we replicate
// protoc's scoping rules (DescriptorBuilder::LookupSymbolNoPlaceholder) over
// the symbols visible to the file.
// ---------------------------------------------------------------------------

type SymbolKind = "package" | "message" | "enum" | "enumValue" | "field" | "oneof" | "extension" | "service" | "method";

// Field types are looked up with LOOKUP_TYPES (non-type symbols are skipped);
// extendees, option names and method types with LOOKUP_ALL.
type LookupMode = "types" | "all";

class SymbolTable {
  private readonly symbols = new Map<string, SymbolKind>();

  constructor(files: readonly FileDescriptorProto[]) {
    for (const file of files) {
      const parts = file.package === "" ? [] : file.package.split(".");
      for (let i = 1; i <= parts.length; i++) {
        this.symbols.set(parts.slice(0, i).join("."), "package");
      }
      this.addScope(file.package, file.messageType, file.enumType, file.extension);
      for (const service of file.service) {
        const serviceName = join2(file.package, service.name);
        this.symbols.set(serviceName, "service");
        for (const method of service.method) {
          this.symbols.set(join2(serviceName, method.name), "method");
        }
      }
    }
  }

  private addScope(
    scope: string,
    messages: readonly DescriptorProto[],
    enums: readonly EnumDescriptorProto[],
    extensions: readonly FieldDescriptorProto[],
  ): void {
    for (const message of messages) {
      const name = join2(scope, message.name);
      this.symbols.set(name, "message");
      for (const field of message.field) this.symbols.set(join2(name, field.name), "field");
      for (const oneof of message.oneofDecl) this.symbols.set(join2(name, oneof.name), "oneof");
      this.addScope(name, message.nestedType, message.enumType, message.extension);
    }
    for (const enumType of enums) {
      this.symbols.set(join2(scope, enumType.name), "enum");
      // Enum values are siblings of their enum, not children (C++ scoping).
      for (const value of enumType.value) this.symbols.set(join2(scope, value.name), "enumValue");
    }
    for (const extension of extensions) this.symbols.set(join2(scope, extension.name), "extension");
  }

  /**
   * The shortest spelling of `target` (a fully-qualified name without leading
   * dot) that resolves to it when written in the element named `relativeTo`.
   */
  shortestName(target: string, relativeTo: string, mode: LookupMode): string {
    const parts = target.split(".");
    for (let i = parts.length - 1; i >= 0; i--) {
      const candidate = parts.slice(i).join(".");
      if (this.lookup(candidate, relativeTo, mode) === target) return candidate;
    }
    return `.${target}`;
  }

  private lookup(name: string, relativeTo: string, mode: LookupMode): string | undefined {
    const dotIndex = name.indexOf(".");
    const compound = dotIndex >= 0;
    const firstPart = compound ? name.slice(0, dotIndex) : name;
    let scope = relativeTo;
    for (;;) {
      const dot = scope.lastIndexOf(".");
      if (dot < 0) return this.symbols.has(name) ? name : undefined;
      scope = scope.slice(0, dot);
      const kind = this.symbols.get(join2(scope, firstPart));
      if (kind === undefined) continue;
      if (compound) {
        // Only an aggregate can contain the rest of the name; once one is
        // found, protoc commits to it even if the rest does not exist.
        if (kind === "package" || kind === "message" || kind === "enum" || kind === "service") {
          const full = join2(scope, name);
          return this.symbols.has(full) ? full : undefined;
        }
      } else if (mode === "all" || kind === "message" || kind === "enum") {
        return join2(scope, name);
      }
    }
  }
}

function join2(scope: string, name: string): string {
  return scope === "" ? name : `${scope}.${name}`;
}

/** Indexing that fails loudly: every index used here comes from a descriptor that claims it is valid. */
function at<T>(items: readonly T[], index: number, what: string): T {
  const item = items[index];
  if (item === undefined) throw new Error(`${what}: index ${index} out of range`);
  return item;
}

// ---------------------------------------------------------------------------
// Literals
// ---------------------------------------------------------------------------

// Same escaping decisions as @bufbuild/protobuf's text format writer, which
// protoc and buf both parse: the conventional escapes, hex for controls, raw
// UTF-8 for everything else.
function quoteString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code >= 0x80 && code <= 0x9f) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

// Octal escapes are unambiguous however many digits follow them, and keep the
// literal ASCII whatever the bytes are.
function quoteBytes(value: Uint8Array): string {
  let out = '"';
  for (const byte of value) {
    if (byte === 0x5c) out += "\\\\";
    else if (byte === 0x22) out += '\\"';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\${byte.toString(8).padStart(3, "0")}`;
  }
  return `${out}"`;
}

function floatLiteral(value: number, single: boolean): string {
  const n = single ? Math.fround(value) : value;
  if (Number.isNaN(n)) return "nan";
  if (n === Number.POSITIVE_INFINITY) return "inf";
  if (n === Number.NEGATIVE_INFINITY) return "-inf";
  if (Object.is(n, -0)) return "-0";
  if (single) {
    // Shortest decimal that still round-trips through float32.
    for (let precision = 1; precision <= 9; precision++) {
      const candidate = Number(n.toPrecision(precision));
      if (Math.fround(candidate) === n) return String(candidate);
    }
  }
  return String(n);
}

function scalarLiteral(type: ScalarType, value: unknown): string {
  switch (type) {
    case ScalarType.STRING:
      return quoteString(String(value));
    case ScalarType.BYTES:
      return quoteBytes(value instanceof Uint8Array ? value : new Uint8Array());
    case ScalarType.FLOAT:
      return floatLiteral(Number(value), true);
    case ScalarType.DOUBLE:
      return floatLiteral(Number(value), false);
    default:
      // Booleans and integers, 64-bit ones included (bigint or string).
      return String(value);
  }
}

function enumLiteral(desc: DescEnum, value: number): string {
  return desc.value[value]?.name ?? String(value);
}

/** The element type of a field or extension, with lists unwrapped. */
type ValueType = { kind: "scalar"; scalar: ScalarType } | { kind: "enum"; desc: DescEnum } | { kind: "message"; desc: DescMessage };

function elementType(field: DescField | DescExtension): ValueType {
  switch (field.fieldKind) {
    case "scalar":
      return { kind: "scalar", scalar: field.scalar };
    case "enum":
      return { kind: "enum", desc: field.enum };
    case "message":
      return { kind: "message", desc: field.message };
    case "list":
      switch (field.listKind) {
        case "scalar":
          return { kind: "scalar", scalar: field.scalar };
        case "enum":
          return { kind: "enum", desc: field.enum };
        case "message":
          return { kind: "message", desc: field.message };
      }
      break;
    // Maps only occur inside message literals, which toText prints whole.
    case "map":
      throw new Error(`map field ${field.name} cannot be printed as a single option value`);
  }
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

interface OptionEntry {
  name: string;
  /** May span several lines; continuation lines are indented relative to the entry. */
  value: string;
}

class OptionPrinter {
  constructor(
    private readonly registry: Registry,
    private readonly symbols: SymbolTable,
  ) {}

  /**
   * Every option set in an options message, known fields first, then
   * extensions. `relativeTo` is the full name of the element carrying the
   * options; extension names are resolved from there, as protoc does.
   */
  entries(schema: DescMessage, options: Message | undefined, relativeTo: string): OptionEntry[] {
    if (options === undefined) return [];
    const r = reflect(schema, options);
    const out: OptionEntry[] = [];
    for (const field of r.fields) {
      if (!r.isSet(field)) continue;
      if (field.name === "uninterpreted_option") {
        throw new Error(`${relativeTo}: uninterpreted options cannot be printed`);
      }
      const type = elementType(field);
      const value: unknown = r.get(field);
      const items: unknown[] = field.fieldKind === "list" ? [...(value as Iterable<unknown>)] : [value];
      // A repeated option is spelled as one assignment per element.
      for (const item of items) {
        out.push({ name: field.name, value: this.literal(type, isReflectMessage(item) ? item.message : item) });
      }
    }
    for (const extension of this.extensionsIn(schema, options, relativeTo)) {
      const name = `(${this.symbols.shortestName(extension.typeName, relativeTo, "all")})`;
      out.push(...this.extensionEntries(name, extension, getExtension(options, extension)));
    }
    return out;
  }

  private extensionEntries(name: string, extension: DescExtension, value: unknown): OptionEntry[] {
    if (extension.fieldKind === "list") {
      const type = elementType(extension);
      return (value as unknown[]).map((item) => ({ name, value: this.literal(type, item) }));
    }
    if (extension.fieldKind !== "message") {
      return [{ name, value: this.literal(elementType(extension), value) }];
    }
    // Spell `(predefined).cel = {...}` rather than `(predefined) = { cel: {...} }`:
    // it is the upstream style and keeps the nesting shallow. Only plain fields
    // can be addressed like this; anything else is printed as one literal.
    const message = value as Message;
    const r = reflect(extension.message, message);
    const setFields = r.fields.filter((f) => r.isSet(f));
    const flattenable = setFields.length > 0 && (r.getUnknown() ?? []).length === 0 && setFields.every((f) => f.fieldKind !== "map");
    if (!flattenable) {
      return [{ name, value: this.literal({ kind: "message", desc: extension.message }, message) }];
    }
    const out: OptionEntry[] = [];
    for (const field of setFields) {
      const type = elementType(field);
      const fieldValue: unknown = r.get(field);
      const items: unknown[] = field.fieldKind === "list" ? [...(fieldValue as Iterable<unknown>)] : [fieldValue];
      for (const item of items) {
        out.push({ name: `${name}.${field.name}`, value: this.literal(type, isReflectMessage(item) ? item.message : item) });
      }
    }
    return out;
  }

  private literal(type: ValueType, value: unknown): string {
    switch (type.kind) {
      case "scalar":
        return scalarLiteral(type.scalar, value);
      case "enum":
        return enumLiteral(type.desc, Number(value));
      case "message": {
        const message = value as Message;
        this.assertPrintable(type.desc, message, type.desc.typeName);
        const body = toText(type.desc, message, { registry: this.registry });
        if (body === "") return "{}";
        const lines = body.replace(/\n$/, "").split("\n");
        return ["{", ...lines.map((line) => INDENT + line), "}"].join("\n");
      }
    }
  }

  /** Extensions present (as unknown fields) in a message, in wire order. */
  private extensionsIn(schema: DescMessage, message: Message, where: string): DescExtension[] {
    const seen = new Set<number>();
    const out: DescExtension[] = [];
    for (const { no } of reflect(schema, message).getUnknown() ?? []) {
      if (seen.has(no)) continue;
      seen.add(no);
      const extension = this.registry.getExtensionFor(schema, no);
      if (extension === undefined) {
        throw new Error(`${where}: unknown field ${no} in ${schema.typeName} is not a known extension`);
      }
      out.push(extension);
    }
    return out;
  }

  /**
   * toText silently drops unknown fields it cannot resolve; refuse instead,
   * since the printed .proto would quietly lose data.
   */
  private assertPrintable(schema: DescMessage, message: Message, where: string): void {
    const r = reflect(schema, message);
    for (const extension of this.extensionsIn(schema, message, where)) {
      const value: unknown = getExtension(message, extension);
      const nested = extension.fieldKind === "list" ? (value as unknown[]) : [value];
      if (extension.message !== undefined) {
        for (const item of nested) this.assertPrintable(extension.message, item as Message, where);
      }
    }
    for (const field of r.fields) {
      if (!r.isSet(field)) continue;
      if (field.fieldKind === "message") {
        this.assertPrintable(field.message, r.get(field).message, where);
      } else if (field.fieldKind === "list" && field.listKind === "message") {
        for (const item of r.get(field)) {
          if (isReflectMessage(item)) this.assertPrintable(field.message, item.message, where);
        }
      } else if (field.fieldKind === "map" && field.mapKind === "message") {
        for (const item of r.get(field).values()) {
          if (isReflectMessage(item)) this.assertPrintable(field.message, item.message, where);
        }
      }
    }
  }
}

/** Continuation lines of a multi-line value follow the indentation of its first line. */
function hang(value: string, indent: string): string {
  return value.split("\n").join(`\n${indent}`);
}

function optionStatements(entries: readonly OptionEntry[], indent: string): string[] {
  return entries.map((e) => `${indent}option ${e.name} = ${hang(e.value, indent)};`);
}

function compactOptions(entries: readonly OptionEntry[], indent: string): string {
  if (entries.length === 0) return "";
  const only = entries.length === 1 ? entries[0] : undefined;
  if (only !== undefined) return ` [${only.name} = ${hang(only.value, indent)}]`;
  const inner = indent + INDENT;
  const items = entries.map((e) => `${inner}${e.name} = ${hang(e.value, inner)}`);
  return ` [\n${items.join(",\n")}\n${indent}]`;
}

// ---------------------------------------------------------------------------
// .proto printer
// ---------------------------------------------------------------------------

const scalarTypeNames = new Map<Type, string>([
  [Type.DOUBLE, "double"],
  [Type.FLOAT, "float"],
  [Type.INT64, "int64"],
  [Type.UINT64, "uint64"],
  [Type.INT32, "int32"],
  [Type.FIXED64, "fixed64"],
  [Type.FIXED32, "fixed32"],
  [Type.BOOL, "bool"],
  [Type.STRING, "string"],
  [Type.BYTES, "bytes"],
  [Type.UINT32, "uint32"],
  [Type.SFIXED32, "sfixed32"],
  [Type.SFIXED64, "sfixed64"],
  [Type.SINT32, "sint32"],
  [Type.SINT64, "sint64"],
]);

/**
 * The oneof a field was declared in, if any. proto2 optional fields read as 0
 * when unset, so presence has to be asked for; proto3 `optional` fields sit in
 * a synthetic oneof that has no source form.
 */
function realOneof(field: FieldDescriptorProto): number | undefined {
  if (!isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex) || field.proto3Optional) return undefined;
  return field.oneofIndex;
}

function rangeText(start: number, endInclusive: number, max: number): string {
  if (start === endInclusive) return String(start);
  return `${start} to ${endInclusive === max ? "max" : String(endInclusive)}`;
}

class ProtoPrinter {
  private readonly out: string[] = [];
  private readonly proto3: boolean;

  constructor(
    private readonly file: FileDescriptorProto,
    private readonly symbols: SymbolTable,
    private readonly options: OptionPrinter,
  ) {
    if (file.syntax !== "" && file.syntax !== "proto2" && file.syntax !== "proto3") {
      // Editions spell labels, groups and presence through features; this
      // printer has never been needed (or tested) for them.
      throw new Error(`${file.name}: syntax "${file.syntax}" is not supported`);
    }
    if (file.optionDependency.length > 0) {
      throw new Error(`${file.name}: option imports are not supported`);
    }
    this.proto3 = file.syntax === "proto3";
  }

  print(header: readonly string[]): string {
    const f = this.file;
    this.out.push(...header, `syntax = "${this.proto3 ? "proto3" : "proto2"}";`, "");
    if (f.package !== "") this.out.push(`package ${f.package};`, "");
    f.dependency.forEach((dep, i) => {
      const modifier = f.publicDependency.includes(i) ? "public " : f.weakDependency.includes(i) ? "weak " : "";
      this.out.push(`import ${modifier}${quoteString(dep)};`);
    });
    if (f.dependency.length > 0) this.out.push("");
    // protoc resolves file option names as if from a child of the package.
    const fileScope = join2(f.package, "dummy");
    const fileOptions = optionStatements(this.options.entries(FileOptionsSchema, f.options, fileScope), "");
    if (fileOptions.length > 0) this.out.push(...fileOptions, "");

    this.printExtensions(f.extension, f.package, "");
    for (const message of f.messageType) {
      this.printMessage(message, f.package, "");
      this.out.push("");
    }
    for (const enumType of f.enumType) {
      this.printEnum(enumType, f.package, "");
      this.out.push("");
    }
    for (const service of f.service) {
      this.printService(service, "");
      this.out.push("");
    }
    while (this.out.at(-1) === "") this.out.pop();
    return `${this.out.join("\n")}\n`;
  }

  private printExtensions(extensions: readonly FieldDescriptorProto[], scope: string, indent: string): void {
    // Consecutive extensions of the same message share one extend block.
    let openExtendee: string | undefined;
    for (const extension of extensions) {
      if (extension.extendee !== openExtendee) {
        if (openExtendee !== undefined) this.out.push(`${indent}}`, "");
        openExtendee = extension.extendee;
        const extendee = this.typeRef(extension.extendee, join2(scope, extension.name), "all");
        this.out.push(`${indent}extend ${extendee} {`);
      }
      this.printField(extension, scope, indent + INDENT, undefined, false);
    }
    if (openExtendee !== undefined) this.out.push(`${indent}}`, "");
  }

  private printMessage(message: DescriptorProto, scope: string, indent: string): void {
    const opener = this.out.push(`${indent}message ${message.name} {`) - 1;
    this.printMessageBody(message, join2(scope, message.name), indent + INDENT);
    if (this.out.length === opener + 1) this.out[opener] += "}";
    else this.out.push(`${indent}}`);
  }

  private printMessageBody(message: DescriptorProto, fullName: string, inner: string): void {
    const messageOptions = optionStatements(this.options.entries(MessageOptionsSchema, message.options, fullName), inner);
    if (messageOptions.length > 0) this.out.push(...messageOptions, "");

    // Map entries and group bodies are nested types the compiler synthesizes at
    // the point where their field is declared, so explicitly declared nested
    // messages have to be printed around them to keep nested_type order.
    const synthesized = new Map<number, FieldDescriptorProto>();
    for (const field of message.field) {
      const index = this.nestedIndexOf(message, field);
      if (index !== undefined && (field.type === Type.GROUP || at(message.nestedType, index, fullName).options?.mapEntry === true)) {
        synthesized.set(index, field);
      }
    }
    let nextNested = 0;
    const printNestedBefore = (index: number, inOneof: boolean): void => {
      if (index < nextNested) {
        throw new Error(`${fullName}: nested types are in an order no .proto source produces`);
      }
      for (; nextNested < index; nextNested++) {
        if (synthesized.has(nextNested)) continue;
        if (inOneof) throw new Error(`${fullName}: a nested message would have to be declared inside a oneof`);
        this.printMessage(at(message.nestedType, nextNested, fullName), fullName, inner);
      }
      nextNested = index + 1;
    };

    // A oneof block declares its fields contiguously, and oneofs are numbered
    // in the order their blocks appear; a descriptor violating either has no
    // source form.
    const runs: { oneofIndex: number | undefined; fields: FieldDescriptorProto[] }[] = [];
    for (const field of message.field) {
      const oneofIndex = realOneof(field);
      const last = runs.at(-1);
      if (oneofIndex !== undefined && last?.oneofIndex === oneofIndex) last.fields.push(field);
      else runs.push({ oneofIndex, fields: [field] });
    }
    const oneofRuns = runs.map((r) => r.oneofIndex).filter((o) => o !== undefined);
    if (oneofRuns.some((oneofIndex, i) => oneofIndex !== i)) {
      throw new Error(`${fullName}: oneof fields are not contiguous or not in declaration order`);
    }

    for (const { oneofIndex, fields } of runs) {
      if (oneofIndex === undefined) {
        for (const field of fields) {
          this.printFieldInMessage(message, field, fullName, inner, false, printNestedBefore, synthesized);
        }
        continue;
      }
      const oneof = at(message.oneofDecl, oneofIndex, fullName);
      const oneofName = join2(fullName, oneof.name);
      this.out.push(`${inner}oneof ${oneof.name} {`);
      this.out.push(...optionStatements(this.options.entries(OneofOptionsSchema, oneof.options, oneofName), inner + INDENT));
      for (const field of fields) {
        this.printFieldInMessage(message, field, fullName, inner + INDENT, true, printNestedBefore, synthesized);
      }
      this.out.push(`${inner}}`);
    }

    const hasMore =
      message.enumType.length > 0 ||
      nextNested < message.nestedType.length ||
      message.extension.length > 0 ||
      message.extensionRange.length > 0 ||
      message.reservedRange.length > 0 ||
      message.reservedName.length > 0;
    if (message.field.length > 0 && hasMore) this.out.push("");

    for (const enumType of message.enumType) {
      this.printEnum(enumType, fullName, inner);
      this.out.push("");
    }
    printNestedBefore(message.nestedType.length, false);
    this.printExtensions(message.extension, fullName, inner);

    for (const range of message.extensionRange) {
      // Where protoc resolves extension range option names from is an
      // implementation detail; fully-qualified names sidestep the question.
      const entries = this.options.entries(ExtensionRangeOptionsSchema, range.options, "");
      const text = rangeText(range.start, range.end - 1, MESSAGE_RANGE_END_MAX - 1);
      this.out.push(`${inner}extensions ${text}${compactOptions(entries, inner)};`);
    }
    for (const range of message.reservedRange) {
      this.out.push(`${inner}reserved ${rangeText(range.start, range.end - 1, MESSAGE_RANGE_END_MAX - 1)};`);
    }
    if (message.reservedName.length > 0) {
      this.out.push(`${inner}reserved ${message.reservedName.map(quoteString).join(", ")};`);
    }
    while (this.out.at(-1) === "") this.out.pop();
  }

  private printFieldInMessage(
    message: DescriptorProto,
    field: FieldDescriptorProto,
    fullName: string,
    indent: string,
    inOneof: boolean,
    printNestedBefore: (index: number, inOneof: boolean) => void,
    synthesized: ReadonlyMap<number, FieldDescriptorProto>,
  ): void {
    const nestedIndex = this.nestedIndexOf(message, field);
    if (nestedIndex !== undefined && synthesized.get(nestedIndex) === field) {
      printNestedBefore(nestedIndex, inOneof);
      this.printField(field, fullName, indent, at(message.nestedType, nestedIndex, fullName), inOneof);
    } else {
      this.printField(field, fullName, indent, undefined, inOneof);
    }
  }

  /** Index of the nested type a field refers to, if it is a direct child of the message. */
  private nestedIndexOf(message: DescriptorProto, field: FieldDescriptorProto): number | undefined {
    if (field.type !== Type.MESSAGE && field.type !== Type.GROUP) return undefined;
    const index = message.nestedType.findIndex((n) => field.typeName.endsWith(`.${message.name}.${n.name}`));
    return index < 0 ? undefined : index;
  }

  /**
   * Prints a field or extension. `synthesizedType` is the map entry or group
   * body this field declares, if any.
   */
  private printField(
    field: FieldDescriptorProto,
    scope: string,
    indent: string,
    synthesizedType: DescriptorProto | undefined,
    inOneof: boolean,
  ): void {
    const fullName = join2(scope, field.name);
    const entries: OptionEntry[] = [];
    if (isFieldSet(field, FieldDescriptorProtoSchema.field.defaultValue)) {
      entries.push({ name: "default", value: this.defaultLiteral(field) });
    }
    // Compilers always record json_name; only a custom one was written in source.
    if (field.jsonName !== "" && field.jsonName !== protoCamelCase(field.name) && field.extendee === "") {
      entries.push({ name: "json_name", value: quoteString(field.jsonName) });
    }
    entries.push(...this.options.entries(FieldOptionsSchema, field.options, fullName));
    const options = compactOptions(entries, indent);

    if (synthesizedType?.options?.mapEntry === true) {
      const key = at(synthesizedType.field, 0, fullName);
      const value = at(synthesizedType.field, 1, fullName);
      const keyType = this.fieldType(key, fullName);
      const valueType = this.fieldType(value, fullName);
      this.out.push(`${indent}map<${keyType}, ${valueType}> ${field.name} = ${field.number}${options};`);
      return;
    }
    const label = this.label(field, inOneof);
    if (field.type === Type.GROUP) {
      if (synthesizedType === undefined) throw new Error(`${fullName}: group body not found`);
      this.out.push(`${indent}${label}group ${synthesizedType.name} = ${field.number}${options} {`);
      this.printMessageBody(synthesizedType, join2(scope, synthesizedType.name), indent + INDENT);
      this.out.push(`${indent}}`);
      return;
    }
    this.out.push(`${indent}${label}${this.fieldType(field, fullName)} ${field.name} = ${field.number}${options};`);
  }

  private label(field: FieldDescriptorProto, inOneof: boolean): string {
    if (inOneof) return "";
    if (field.label === Label.REPEATED) return "repeated ";
    if (this.proto3) return field.proto3Optional ? "optional " : "";
    return field.label === Label.REQUIRED ? "required " : "optional ";
  }

  private fieldType(field: FieldDescriptorProto, fieldFullName: string): string {
    const scalar = scalarTypeNames.get(field.type);
    if (scalar !== undefined) return scalar;
    return this.typeRef(field.typeName, fieldFullName, "types");
  }

  private typeRef(typeName: string, relativeTo: string, mode: LookupMode): string {
    // Unresolved (relative) names are printed as the compiler received them.
    if (!typeName.startsWith(".")) return typeName;
    return this.symbols.shortestName(typeName.slice(1), relativeTo, mode);
  }

  private defaultLiteral(field: FieldDescriptorProto): string {
    switch (field.type) {
      case Type.STRING:
        return quoteString(field.defaultValue);
      case Type.BYTES:
        // The descriptor already holds the C-escaped form.
        return `"${field.defaultValue}"`;
      default:
        // Numbers, bools, enum value names, inf/-inf/nan: all written verbatim.
        return field.defaultValue;
    }
  }

  private printEnum(enumType: EnumDescriptorProto, scope: string, indent: string): void {
    const fullName = join2(scope, enumType.name);
    const inner = indent + INDENT;
    this.out.push(`${indent}enum ${enumType.name} {`);
    const enumOptions = optionStatements(this.options.entries(EnumOptionsSchema, enumType.options, fullName), inner);
    if (enumOptions.length > 0) this.out.push(...enumOptions, "");
    for (const value of enumType.value) {
      const entries = this.options.entries(EnumValueOptionsSchema, value.options, join2(scope, value.name));
      this.out.push(`${inner}${value.name} = ${value.number}${compactOptions(entries, inner)};`);
    }
    for (const range of enumType.reservedRange) {
      this.out.push(`${inner}reserved ${rangeText(range.start, range.end, ENUM_RANGE_END_MAX)};`);
    }
    if (enumType.reservedName.length > 0) {
      this.out.push(`${inner}reserved ${enumType.reservedName.map(quoteString).join(", ")};`);
    }
    this.out.push(`${indent}}`);
  }

  private printService(service: ServiceDescriptorProto, indent: string): void {
    const fullName = join2(this.file.package, service.name);
    const inner = indent + INDENT;
    this.out.push(`${indent}service ${service.name} {`);
    this.out.push(...optionStatements(this.options.entries(ServiceOptionsSchema, service.options, fullName), inner));
    for (const method of service.method) {
      const methodName = join2(fullName, method.name);
      const input = (method.clientStreaming ? "stream " : "") + this.typeRef(method.inputType, methodName, "all");
      const output = (method.serverStreaming ? "stream " : "") + this.typeRef(method.outputType, methodName, "all");
      const signature = `${inner}rpc ${method.name}(${input}) returns (${output})`;
      const statements = optionStatements(this.options.entries(MethodOptionsSchema, method.options, methodName), inner + INDENT);
      if (statements.length === 0) {
        this.out.push(`${signature};`);
      } else {
        this.out.push(`${signature} {`, ...statements, `${inner}}`);
      }
    }
    this.out.push(`${indent}}`);
  }
}

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

function packageVersion(name: string): string {
  // The package does not export package.json, so walk up from its entry point.
  let dir = dirname(fileURLToPath(import.meta.resolve(name)));
  for (;;) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, "utf8")) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version !== undefined) return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find package.json of ${name}`);
    dir = parent;
  }
}

/**
 * The Apache-2.0 notice at the top of the module the descriptor is embedded
 * in. Copying it (rather than retyping it) keeps the attribution exactly what
 * Buf ships, years included.
 */
function upstreamNotice(): string[] {
  const source = readFileSync(fileURLToPath(import.meta.resolve(embeddingModule)), "utf8");
  const notice: string[] = [];
  for (const line of source.split("\n")) {
    if (!line.startsWith("//")) break;
    notice.push(line.trimEnd());
  }
  if (!notice.some((line) => line.includes("Buf Technologies")) || !notice.some((line) => line.includes("Apache License"))) {
    throw new Error(`${embeddingModule} no longer starts with Buf's Apache-2.0 notice; update this script`);
  }
  return notice;
}

function visibleFiles(file: DescFile): DescFile[] {
  // Direct imports plus whatever they re-export publicly: exactly what protoc
  // lets the file refer to, so name shortening never relies on anything else.
  const out = new Set<DescFile>([file]);
  const visit = (dep: DescFile): void => {
    if (out.has(dep)) return;
    out.add(dep);
    for (const index of dep.proto.publicDependency) visit(at(dep.dependencies, index, dep.name));
  };
  file.dependencies.forEach(visit);
  return [...out];
}

function render(): string {
  const file = file_buf_validate_validate;
  const files = visibleFiles(file);
  const registry = createRegistry(...files);
  const symbols = new SymbolTable(files.map((f) => f.proto));
  const version = packageVersion("@bufbuild/protovalidate");
  const header = [
    "// Code generated by scripts/vendor-protovalidate.ts. DO NOT EDIT.",
    `// Reconstructed from the FileDescriptorProto embedded in @bufbuild/protovalidate@${version}`,
    "// (gen/buf/validate/validate_pb.js). The descriptor carries no source info,",
    "// so upstream comments and layout are lost; only the schema is reproduced.",
    "// Regenerate with `npx tsx scripts/vendor-protovalidate.ts`; verify with `--check`.",
    "//",
    "// Upstream: https://github.com/bufbuild/protovalidate (proto/protovalidate/buf/validate/validate.proto),",
    "// licensed under the Apache License 2.0. Notice as shipped in @bufbuild/protovalidate:",
    "//",
    ...upstreamNotice(),
    "",
  ];
  return new ProtoPrinter(file.proto, symbols, new OptionPrinter(registry, symbols)).print(header);
}

/** The serialized FileDescriptorProto for `name`, exactly as buf wrote it. */
function rawFileFromSet(set: Uint8Array, name: string): Uint8Array | undefined {
  const reader = new BinaryReader(set);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (no === 1 && wireType === WireType.LengthDelimited) {
      const bytes = reader.bytes();
      if (fromBinary(FileDescriptorProtoSchema, bytes).name === name) return bytes;
    } else {
      reader.skip(wireType, no);
    }
  }
  return undefined;
}

function jsonDiff(a: JsonValue | undefined, b: JsonValue | undefined, path: string, out: string[]): void {
  if (out.length >= 20) return;
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      const av = (a as Record<string, JsonValue | undefined>)[key];
      const bv = (b as Record<string, JsonValue | undefined>)[key];
      jsonDiff(av, bv, `${path}${Array.isArray(a) ? `[${key}]` : `.${key}`}`, out);
    }
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out.push(`${path}: embedded ${JSON.stringify(a)} vs built ${JSON.stringify(b)}`);
  }
}

function check(): boolean {
  let ok = true;
  if (!existsSync(outputPath)) {
    console.error(`missing ${outputPath}; run without --check first`);
    return false;
  }
  const onDisk = readFileSync(outputPath, "utf8");
  if (onDisk !== render()) {
    console.error(`${outputPath} is out of date (or was edited); regenerate it`);
    ok = false;
  }

  const workspace = mkdtempSync(join(tmpdir(), "vendor-protovalidate-"));
  try {
    mkdirSync(join(workspace, "proto", dirname(protoPath)), { recursive: true });
    writeFileSync(join(workspace, "proto", protoPath), onDisk);
    writeFileSync(join(workspace, "buf.yaml"), "version: v2\nmodules:\n  - path: proto\n");
    const image = join(workspace, "out.binpb");
    // A plain FileDescriptorSet: buf's Image format adds its own fields to
    // every file, which would show up as unknown fields here.
    try {
      execFileSync(process.execPath, [bufBin, "build", workspace, "--exclude-source-info", "--as-file-descriptor-set", "-o", image], {
        stdio: ["ignore", "inherit", "inherit"],
      });
    } catch {
      // buf has already printed the compiler errors.
      console.error(`buf build failed for ${outputPath}`);
      return false;
    }
    const setBytes = new Uint8Array(readFileSync(image));
    const built = fromBinary(FileDescriptorSetSchema, setBytes).file.find((f) => f.name === protoPath);
    if (built === undefined) throw new Error(`buf output has no ${protoPath}`);

    const embedded = file_buf_validate_validate.proto;
    const expected = toBinary(FileDescriptorProtoSchema, embedded);
    const actual = toBinary(FileDescriptorProtoSchema, built);
    if (Buffer.compare(expected, actual) === 0) {
      const raw = rawFileFromSet(setBytes, protoPath);
      const rawIdentical = raw !== undefined && Buffer.compare(expected, raw) === 0;
      console.log(
        `round trip OK: buf's descriptor for ${protoPath} is byte-identical to the embedded one ` +
          `(${expected.length} bytes; ${rawIdentical ? "buf's raw bytes too" : "buf's raw bytes differ but decode to the same descriptor"})`,
      );
    } else {
      ok = false;
      const registry = createRegistry(...visibleFiles(file_buf_validate_validate));
      const differences: string[] = [];
      jsonDiff(
        toJson(FileDescriptorProtoSchema, embedded, { registry }),
        toJson(FileDescriptorProtoSchema, built, { registry }),
        "",
        differences,
      );
      console.error(`round trip FAILED: ${expected.length} bytes embedded vs ${actual.length} bytes built`);
      for (const line of differences) console.error(`  ${line}`);
      if (differences.length === 0) console.error("  (no JSON-visible difference: unknown field bytes or order differ)");
    }
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
  return ok;
}

function main(args: readonly string[]): number {
  if (args.includes("--check")) return check() ? 0 : 1;
  if (args.length > 0) {
    console.error("usage: vendor-protovalidate.ts [--check]");
    return 2;
  }
  mkdirSync(dirname(outputPath), { recursive: true });
  writeFileSync(outputPath, render());
  console.log(`wrote ${outputPath}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
