// Operations: domain ⇄ proto.
import { create } from "@bufbuild/protobuf";
import { OperationSchema, OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import type { Operation } from "../app/operations/operations.js";
import { timestamp } from "./convert.js";

export function operationMessage(operation: Operation) {
  return create(OperationSchema, {
    id: operation.id,
    kind: operation.kind,
    resourceType: operation.resourceType,
    resourceId: operation.resourceId,
    tenantId: operation.tenantId ?? "",
    state: OperationState[operation.state],
    progressPercent: operation.progressPercent,
    message: operation.message,
    error:
      operation.state === "FAILED"
        ? { code: operation.errorCode, reason: operation.errorReason, message: operation.errorMessage, metadata: operation.errorMetadata }
        : undefined,
    requestedBy: operation.requestedBy,
    createTime: timestamp(operation.createTime),
    updateTime: timestamp(operation.updateTime),
    doneTime: timestamp(operation.doneTime),
  });
}
