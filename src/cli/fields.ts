// Resource fields from the command line: a YAML/JSON file (protobuf JSON names), `--set a.b=value`
// pairs, and the top-level fields they name (the update mask).
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { UsageError } from "./errors.js";

export type JsonObject = Record<string, unknown>;

export function readResourceFile(path: string | undefined): JsonObject {
  if (!path) return {};
  const text = path === "-" ? readFileSync(0, "utf8") : readFileSync(path, "utf8");
  const value = parse(text) as unknown;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UsageError(`${path} does not hold one object`);
  return value as JsonObject;
}

/** Applies `a.b=value` pairs; a value that parses as JSON is taken as that JSON, else as a string. */
export function applySets(target: JsonObject, sets: readonly string[] = []): JsonObject {
  for (const pair of sets) {
    const equals = pair.indexOf("=");
    if (equals <= 0) throw new UsageError(`--set wants field=value, not "${pair}"`);
    const path = pair.slice(0, equals).split(".");
    const text = pair.slice(equals + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // Not JSON: the text itself.
    }
    let node = target;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
      node = node[key] as JsonObject;
    }
    node[path.at(-1)!] = value;
  }
  return target;
}

/** camelCase JSON name to the proto field name an update mask wants. */
export const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
