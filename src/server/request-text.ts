// Every string of every request is text PostgreSQL can store: no NUL character (U+0000, which a
// text column refuses outright). One rule for every field of every RPC, found by walking the
// decoded message by reflection — nested messages, lists, map keys and values, oneofs, Struct and
// Value — so a field added later is covered without anyone remembering it. Invalid UTF-8 never gets
// here: binary decoding refuses the bytes, JSON decoding a lone surrogate escape (MALFORMED_REQUEST).
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import { buildPath, type PathBuilder, pathToString, type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";

export interface TextViolation {
  readonly field: string;
  readonly description: string;
}

/** The strings of `message` that are not storable text, each with its field path ("rack.name",
 * `metadata["k"]`, `custom_fields.fields["k"].string_value`). */
export function textViolations<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): TextViolation[] {
  const violations: TextViolation[] = [];
  walk(reflect(schema, message), buildPath(schema), (text, path) => {
    if (text.includes("\u0000"))
      violations.push({ field: pathToString(path.toPath()), description: "must not contain the NUL character (U+0000)" });
  });
  return violations;
}

function walk(message: ReflectMessage, path: PathBuilder, visit: (text: string, path: PathBuilder) => void): void {
  for (const field of message.fields) {
    if (!message.isSet(field)) continue;
    const at = path.clone().field(field);
    switch (field.fieldKind) {
      case "scalar":
        if (field.scalar === ScalarType.STRING) visit(message.get(field) as string, at);
        break;
      case "message":
        walk(message.get(field), at, visit);
        break;
      case "list": {
        const list = message.get(field);
        for (let i = 0; i < list.size; i++) {
          const item = list.get(i);
          if (field.listKind === "message") walk(item as ReflectMessage, at.clone().list(i), visit);
          else if (field.scalar === ScalarType.STRING) visit(item as string, at.clone().list(i));
        }
        break;
      }
      case "map":
        for (const [key, value] of message.get(field)) {
          const entry = at.clone().map(key as string);
          if (typeof key === "string") visit(key, entry);
          if (field.mapKind === "message") walk(value as ReflectMessage, entry, visit);
          else if (field.mapKind === "scalar" && field.scalar === ScalarType.STRING) visit(value as string, entry);
        }
        break;
      case "enum":
        break;
    }
  }
}
