// `rackctl get KIND [NAME|ID…]`: a whole kind (paged for the user), filtered, or the named ones.
// Scaling events also take `--node-pool` (an id, or a name within `--cluster`).
import { connect, type Connection } from "../connection.js";
import type { GlobalOptions } from "../config.js";
import { NotFoundError, UsageError } from "../errors.js";
import type { Kind } from "../kinds.js";
import { formatOf, printRows } from "../output.js";
import { and, isId, kindOf, listAll, quote, resolveOne, scopeFilter } from "../resolve.js";

interface GetOptions extends GlobalOptions {
  filter?: string;
  limit?: number;
  output?: string;
  nodePool?: string;
  [scope: string]: unknown;
}

export async function run(kindWord: string, names: string[], options: GetOptions): Promise<void> {
  const kind = kindOf(kindWord);
  const format = formatOf(options.output);
  const connection = connect(options);
  const rows =
    names.length > 0
      ? await Promise.all(names.map((name) => resolveOne(connection, kind, name, options)))
      : await listAll(
          connection,
          kind,
          and(options.filter ?? "", await scopeFilter(connection, kind, options), await nodePoolFilter(connection, kind, options)),
          options.limit ?? 0,
        );
  await printRows(connection, kind, rows, format);
}

/** `node_pool_id = "…"` for `--node-pool`: an id as it is, a name looked up in the pools of the
 * cluster `--cluster` names (pool names are unique within their cluster only). */
async function nodePoolFilter(connection: Connection, kind: Kind, options: GetOptions): Promise<string> {
  const pool = options.nodePool;
  if (pool === undefined) return "";
  if (kind.name !== "scalingevents") throw new UsageError(`--node-pool applies to scalingevents, not ${kind.name}`);
  if (isId(pool)) return `node_pool_id = ${quote(pool)}`;
  if (typeof options.cluster !== "string") {
    throw new UsageError(`node pool names are unique within their cluster: name it with --cluster, or use the pool's id`);
  }
  const cluster = await resolveOne(connection, kindOf("clusters"), options.cluster, options);
  const found = (cluster.nodePools as { id: string; name: string }[]).find((p) => p.name === pool);
  if (!found) throw new NotFoundError(`cluster ${cluster.name} has no node pool named "${pool}"`);
  return `node_pool_id = ${quote(found.id)}`;
}
