// `rackctl update KIND NAME`: the fields given (-f and --set) become the update mask; the current
// etag is sent, so a change someone made since the read is refused (ABORTED) rather than lost.
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import type { GlobalOptions } from "../config.js";
import { connect } from "../connection.js";
import { UsageError } from "../errors.js";
import { applySets, readResourceFile, snake } from "../fields.js";
import { formatOf, printRows } from "../output.js";
import { call, kindOf, resolveOne } from "../resolve.js";

interface UpdateOptions extends GlobalOptions {
  file?: string;
  set?: string[];
  output?: string;
  [scope: string]: unknown;
}

export async function run(kindWord: string, name: string, options: UpdateOptions): Promise<void> {
  const kind = kindOf(kindWord);
  const format = formatOf(options.output);
  if (!kind.methods.update) throw new UsageError(`${kind.name} cannot be updated`);
  const changes = applySets(readResourceFile(options.file), options.set);
  const paths = Object.keys(changes).filter((key) => key !== "id" && key !== "etag");
  if (paths.length === 0) throw new UsageError("nothing to update: give -f FILE or --set field=value");
  const connection = connect(options);
  const current = await resolveOne(connection, kind, name, options);
  const resource = fromJson(kind.schema, { ...changes, id: current.id, etag: current.etag } as JsonValue);
  const response = await call(connection, kind, kind.methods.update, { [kind.field]: resource, updateMask: { paths: paths.map(snake) } });
  await printRows(connection, kind, [response[kind.field]], format);
}
