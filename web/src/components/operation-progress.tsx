// An operation as it runs: its kind, state and progress, announced politely to screen readers, and
// its error's reason when it fails. Fed by useOperation (a WatchOperation stream).
import { type Operation, OperationState } from "../../../gen/es/rackplane/v1/operation_pb.js";
import { enumName } from "../format";

export function OperationProgress({ operation }: { operation: Operation | undefined }) {
  if (!operation) return null;
  return (
    <section className="card" aria-label="Operation" aria-live="polite">
      <h2>
        Operation {operation.kind}:{" "}
        <span data-testid="operation-state">{enumName(OperationState, operation.state, "OPERATION_STATE_")}</span>
      </h2>
      <progress
        max={100}
        value={operation.state === OperationState.SUCCEEDED ? 100 : operation.progressPercent}
        aria-label="Operation progress"
      />
      <p>{operation.message}</p>
      {operation.error && (
        <p role="alert" className="error">
          <strong>{operation.error.reason || operation.error.code}</strong>: {operation.error.message}
        </p>
      )}
    </section>
  );
}
