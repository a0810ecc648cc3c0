// `rackctl audit [--follow]`: the last events, oldest first; --follow polls for newer ones (the
// audit list is newest first with keyset pages, so "newer than the last seen" is a filter on time).
import { setTimeout as sleep } from "node:timers/promises";
import type { GlobalOptions } from "../config.js";
import { connect } from "../connection.js";
import { formatOf, printRows } from "../output.js";
import { and, kindOf, listAll, quote } from "../resolve.js";

interface AuditOptions extends GlobalOptions {
  filter?: string;
  limit: number;
  follow?: boolean;
  interval: number;
  output?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: audit rows are generated AuditEvent messages
const timeOf = (event: any) =>
  event.time ? new Date(Number(event.time.seconds) * 1000 + Math.floor(event.time.nanos / 1e6)).toISOString() : "";

export async function run(options: AuditOptions): Promise<void> {
  const kind = kindOf("auditevents");
  const format = formatOf(options.output);
  const connection = connect(options);
  const first = await listAll(connection, kind, options.filter ?? "", options.limit);
  const seen = new Set(first.map((event) => event.id));
  let since = first.length ? timeOf(first[0]) : "";
  await printRows(connection, kind, first.reverse(), format);
  while (options.follow) {
    await sleep(options.interval * 1000);
    const newer = (await listAll(connection, kind, and(options.filter ?? "", since ? `time >= ${quote(since)}` : ""), 1000)).filter(
      (event) => !seen.has(event.id),
    );
    if (newer.length === 0) continue;
    for (const event of newer) seen.add(event.id);
    since = timeOf(newer[0]);
    await printRows(connection, kind, newer.reverse(), format === "table" ? "table" : format);
  }
}
