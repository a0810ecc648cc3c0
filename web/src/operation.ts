// Follows an operation live over WatchOperation (a Connect server stream over fetch): every change
// of state or progress arrives as it happens, and leaving the page cancels the stream.
import { createClient } from "@connectrpc/connect";
import { useTransport } from "@connectrpc/connect-query";
import { useEffect, useState } from "react";
import { type Operation, OperationService, OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";

export function isDone(operation: Operation | undefined): boolean {
  return (
    operation !== undefined &&
    (operation.state === OperationState.SUCCEEDED ||
      operation.state === OperationState.FAILED ||
      operation.state === OperationState.CANCELLED)
  );
}

export function useOperation(id: string, onDone?: (operation: Operation) => void): { operation?: Operation; error?: unknown } {
  const transport = useTransport();
  const [state, setState] = useState<{ operation?: Operation; error?: unknown }>({});
  useEffect(() => {
    setState({});
    if (!id) return;
    const abort = new AbortController();
    const client = createClient(OperationService, transport);
    void (async () => {
      try {
        for await (const response of client.watchOperation({ id }, { signal: abort.signal })) {
          const operation = response.operation;
          if (!operation) continue;
          setState({ operation });
          if (isDone(operation)) {
            onDone?.(operation);
            break;
          }
        }
      } catch (error) {
        if (!abort.signal.aborted) setState((previous) => ({ ...previous, error }));
      }
    })();
    return () => abort.abort();
  }, [id, transport]);
  return state;
}
