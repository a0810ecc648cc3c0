// rackplane.v1.OperationService.
import type { ServiceImpl } from "@connectrpc/connect";
import type { OperationService } from "../../gen/es/rackplane/v1/operation_pb.js";
import type { Database } from "../app/database.js";
import { cancelOperation, getOperation, listOperations, type OperationNotices, watchOperation } from "../app/operations/operations.js";
import { callContext, listRequest } from "./convert.js";
import { operationMessage } from "./operation-mapping.js";
import { byId, reads, type TargetRules } from "./request-targets.js";

export function operationService(db: Database, notifications: OperationNotices): ServiceImpl<typeof OperationService> {
  return {
    async getOperation(req, ctx) {
      return { operation: operationMessage(await getOperation(db, callContext(ctx), req.id)) };
    },
    async listOperations(req, ctx) {
      const page = await listOperations(db, callContext(ctx), listRequest(req));
      return { operations: page.items.map(operationMessage), nextPageToken: page.nextPageToken };
    },
    async *watchOperation(req, ctx) {
      for await (const operation of watchOperation(db, callContext(ctx), notifications, req.id, ctx.signal)) {
        yield { operation: operationMessage(operation) };
      }
    },
    async cancelOperation(req, ctx) {
      return { operation: operationMessage(await cancelOperation(db, callContext(ctx), req.id)) };
    },
  };
}

export const operationTargets: TargetRules<typeof OperationService> = {
  getOperation: reads,
  listOperations: reads,
  watchOperation: reads,
  cancelOperation: byId("operation"),
};
