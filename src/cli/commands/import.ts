// `rackctl import hosts FILE`: every row checked and its names resolved locally first (a file with
// a bad row writes nothing); then batches of up to 1,000 through BatchCreateBaremetals, each all or
// none on the server. A batch the server rejects stops the import, names each rejected row by its
// line, and prints the line to resume from (--from-line).
import { readFileSync } from "node:fs";
import { ConnectError } from "@connectrpc/connect";
import { parse } from "yaml";
import { BadRequestSchema } from "../../../gen/es/google/rpc/error_details_pb.js";
import { InventoryService } from "../../../gen/es/rackplane/v1/inventory_pb.js";
import type { GlobalOptions } from "../config.js";
import { connect } from "../connection.js";
import { parseCsv } from "../csv.js";
import { RefusedError, UsageError } from "../errors.js";
import { ProgressBar } from "../format.js";
import { hostColumns, hostOf, readInventory, type HostRecord } from "../host-rows.js";

interface ImportOptions extends GlobalOptions {
  dryRun?: boolean;
  fromLine?: number;
  batchSize: number;
}

function readRecords(file: string): { line: number; record: HostRecord }[] {
  const text = readFileSync(file, "utf8");
  if (/\.ya?ml$/i.test(file)) {
    const items = parse(text) as HostRecord[];
    if (!Array.isArray(items)) throw new UsageError(`${file} does not hold a list of hosts`);
    return items.map((item, i) => ({
      line: i + 1,
      record: Object.fromEntries(Object.entries(item).map(([k, v]) => [k, v === null || v === undefined ? "" : String(v)])),
    }));
  }
  const [header, ...rows] = parseCsv(text);
  if (!header) throw new UsageError(`${file} is empty`);
  const names = header.cells.map((cell) => cell.trim());
  const unknown = names.filter((name) => !(hostColumns as readonly string[]).includes(name));
  if (unknown.length) throw new UsageError(`${file}: unknown columns ${unknown.join(", ")} (columns: ${hostColumns.join(", ")})`);
  return rows.map(({ line, cells }) => ({ line, record: Object.fromEntries(names.map((name, i) => [name, cells[i] ?? ""])) }));
}

export async function run(kindWord: string, file: string, options: ImportOptions): Promise<void> {
  if (!["hosts", "host", "baremetals"].includes(kindWord)) throw new UsageError("only hosts can be imported");
  if (!(options.batchSize >= 1 && options.batchSize <= 1000)) throw new UsageError("--batch-size must be 1 to 1000");
  const records = readRecords(file).filter(({ line }) => line >= (options.fromLine ?? 0));
  const connection = connect(options);
  const inventory = await readInventory(connection);
  const rejected: string[] = [];
  const hosts: { line: number; host: unknown }[] = [];
  const seen = new Map<string, number>();
  for (const { line, record } of records) {
    const result = hostOf(record, inventory);
    if ("reason" in result) {
      rejected.push(`line ${line}: ${result.reason}`);
      continue;
    }
    const duplicate = [`name ${record.name}`, `serial_number ${record.serial_number}`].find((key) => seen.has(key));
    if (duplicate) {
      rejected.push(`line ${line}: ${duplicate} repeats line ${seen.get(duplicate)}`);
      continue;
    }
    seen.set(`name ${record.name}`, line);
    seen.set(`serial_number ${record.serial_number}`, line);
    hosts.push({ line, host: result.host });
  }
  if (rejected.length > 0) {
    for (const reason of rejected) process.stderr.write(`${reason}\n`);
    throw new RefusedError(`${rejected.length} of ${records.length} rows rejected; nothing was written`);
  }
  if (options.dryRun) {
    process.stdout.write(`${hosts.length} rows valid; nothing written (--dry-run)\n`);
    return;
  }
  const inventoryClient = connection.client(InventoryService);
  const bar = new ProgressBar("import");
  let written = 0;
  for (let start = 0; start < hosts.length; start += options.batchSize) {
    const batch = hosts.slice(start, start + options.batchSize);
    try {
      await inventoryClient.batchCreateBaremetals({ requests: batch.map(({ host }) => ({ baremetal: host as never })) });
    } catch (error) {
      bar.end();
      if (error instanceof ConnectError) {
        // One line per rejected row, with every reason the server gave for it.
        const reasons = new Map<string, string[]>();
        for (const violation of error.findDetails(BadRequestSchema).flatMap((request) => request.fieldViolations)) {
          const index = /^requests\[(\d+)\]/.exec(violation.field)?.[1];
          const line = String((index === undefined ? undefined : batch[Number(index)]?.line) ?? "?");
          reasons.set(line, [...(reasons.get(line) ?? []), violation.description]);
        }
        for (const [line, list] of reasons) process.stderr.write(`line ${line}: ${list.join("; ")}\n`);
      }
      process.stderr.write(`${written} hosts written; this batch wrote nothing. Resume with --from-line ${batch[0]!.line}\n`);
      if (error instanceof ConnectError && error.findDetails(BadRequestSchema).length > 0) {
        throw new RefusedError(
          `the batch from line ${batch[0]!.line} to ${batch.at(-1)!.line} was refused (${error.rawMessage.split(":")[0]})`,
        );
      }
      throw error;
    }
    written += batch.length;
    bar.update(written, hosts.length, `${written}/${hosts.length}`);
  }
  bar.end();
  process.stdout.write(`${written} hosts imported\n`);
}
