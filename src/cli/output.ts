// biome-ignore-all lint/suspicious/noExplicitAny: rows are generated messages of the kind's schema
// Prints rows of a kind in the chosen output format: table, wide, json, yaml or name.
import { toJson } from "@bufbuild/protobuf";
import { stringify } from "yaml";
import type { Connection } from "./connection.js";
import { UsageError } from "./errors.js";
import { table } from "./format.js";
import type { Kind } from "./kinds.js";
import { referencedNames } from "./resolve.js";

export const formats = ["table", "wide", "json", "yaml", "name"] as const;
export type Format = (typeof formats)[number];

export function formatOf(text: string | undefined): Format {
  const format = (text ?? "table") as Format;
  if (!formats.includes(format)) throw new UsageError(`unknown output format "${text}" (${formats.join(", ")})`);
  return format;
}

export const jsonOf = (kind: Kind, row: any) => toJson(kind.schema, row);

export async function printRows(connection: Connection, kind: Kind, rows: readonly any[], format: Format): Promise<void> {
  switch (format) {
    case "json":
      process.stdout.write(
        `${JSON.stringify(
          rows.map((row) => jsonOf(kind, row)),
          null,
          2,
        )}\n`,
      );
      return;
    case "yaml":
      process.stdout.write(stringify(rows.map((row) => jsonOf(kind, row))));
      return;
    case "name":
      for (const row of rows) process.stdout.write(`${kind.name}/${row[kind.nameField ?? "id"] || row.id}\n`);
      return;
    default: {
      if (rows.length === 0) {
        process.stderr.write(`No ${kind.name} found.\n`);
        return;
      }
      const names = await referencedNames(connection, kind, rows);
      const columns = format === "wide" ? [...kind.columns(names), ...kind.wide(names)] : kind.columns(names);
      process.stdout.write(table(rows, columns));
    }
  }
}
