// `rackctl delete KIND NAME…`: deletes (cancels operations, revokes tokens); VMs answer with an
// operation that --wait follows.
import type { GlobalOptions } from "../config.js";
import { connect } from "../connection.js";
import { call, kindOf, resolveOne } from "../resolve.js";
import { follow } from "./wait.js";

interface DeleteOptions extends GlobalOptions {
  force?: boolean;
  wait?: boolean;
  [scope: string]: unknown;
}

export async function run(kindWord: string, names: string[], options: DeleteOptions): Promise<void> {
  const kind = kindOf(kindWord);
  const connection = connect(options);
  for (const name of names) {
    const row = await resolveOne(connection, kind, name, options);
    const request: Record<string, unknown> = { id: row.id };
    if (row.etag) request.etag = row.etag;
    if (options.force) request.force = true;
    const response = await call(connection, kind, kind.methods.delete, request);
    if (options.wait && response?.operation) await follow(connection, response.operation.id);
    process.stdout.write(`${kind.name}/${name} deleted\n`);
  }
}
