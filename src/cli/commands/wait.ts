// `rackctl wait OPERATION` and every `--wait`: follows an operation over the WatchOperation stream
// with a progress bar; an operation that does not succeed is an error (exit 1, its reason printed).
import { OperationService, OperationState, type Operation } from "../../../gen/es/rackplane/v1/operation_pb.js";
import type { GlobalOptions } from "../config.js";
import { connect, type Connection } from "../connection.js";
import { ProgressBar } from "../format.js";

const finished = new Set([OperationState.SUCCEEDED, OperationState.FAILED, OperationState.CANCELLED]);

export class OperationFailed extends Error {}

export async function follow(connection: Connection, operationId: string): Promise<Operation> {
  const bar = new ProgressBar(`operation ${operationId.split("-")[0]}`);
  let last: Operation | undefined;
  try {
    for await (const { operation } of connection.client(OperationService).watchOperation({ id: operationId })) {
      if (!operation) continue;
      last = operation;
      bar.update(operation.progressPercent, 100, `${OperationState[operation.state]}${operation.message ? ` ${operation.message}` : ""}`);
      if (finished.has(operation.state)) break;
    }
  } finally {
    bar.end();
  }
  if (!last) last = (await connection.client(OperationService).getOperation({ id: operationId })).operation!;
  if (last.state !== OperationState.SUCCEEDED) {
    const error = last.error;
    throw new OperationFailed(`operation ${last.id} ${OperationState[last.state]}${error ? `: ${error.reason}: ${error.message}` : ""}`);
  }
  return last;
}

export async function run(operationId: string, options: GlobalOptions): Promise<void> {
  const operation = await follow(connect(options), operationId);
  process.stdout.write(`operation ${operation.id} ${OperationState[operation.state]}\n`);
}
