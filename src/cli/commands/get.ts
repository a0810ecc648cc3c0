// `rackctl get KIND [NAME|ID…]`: a whole kind (paged for the user), filtered, or the named ones.
import { connect } from "../connection.js";
import type { GlobalOptions } from "../config.js";
import { formatOf, printRows } from "../output.js";
import { and, kindOf, listAll, resolveOne, scopeFilter } from "../resolve.js";

interface GetOptions extends GlobalOptions {
  filter?: string;
  limit?: number;
  output?: string;
  [scope: string]: unknown;
}

export async function run(kindWord: string, names: string[], options: GetOptions): Promise<void> {
  const kind = kindOf(kindWord);
  const format = formatOf(options.output);
  const connection = connect(options);
  const rows =
    names.length > 0
      ? await Promise.all(names.map((name) => resolveOne(connection, kind, name, options)))
      : await listAll(connection, kind, and(options.filter ?? "", await scopeFilter(connection, kind, options)), options.limit ?? 0);
  await printRows(connection, kind, rows, format);
}
