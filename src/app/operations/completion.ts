// Finishing an operation: its job, the operation and the resource move together in the caller's
// transaction. Agents' reports (ReportJob) end here; so do tests that play an agent's part.
import { LockMode, type EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import { Job, Operation as OperationEntity } from "../../persistence/entities/index.js";
import { notify } from "../../persistence/notifications.js";
import type { Operation } from "./operations.js";
import { type Facts, lifecycleOf } from "./lifecycle.js";

export type Outcome =
  | { readonly succeeded: true; readonly facts: Facts }
  | {
      readonly succeeded: false;
      readonly error: {
        readonly code: string;
        readonly reason: string;
        readonly message: string;
        readonly metadata: Record<string, string>;
      };
    };

/** An agent took the job: the operation runs, and the resource shows it (a VM is PROVISIONING). */
export async function startJob(em: EntityManager, operationId: string): Promise<void> {
  const operation = await lockOperation(em, operationId);
  if (operation.state !== "PENDING") return;
  operation.state = "RUNNING";
  await em.flush();
  await lifecycleOf(operation.resourceType).markStarted(em, operation as Operation);
  await notify(em, "rackplane_operation", operationId);
}

/** Records the outcome once: a second report of a finished operation changes nothing. */
export async function completeOperation(em: EntityManager, operationId: string, outcome: Outcome): Promise<void> {
  const operation = await lockOperation(em, operationId);
  if (operation.state === "SUCCEEDED" || operation.state === "FAILED") return;
  if (operation.state === "CANCELLED") {
    throw new FailedPreconditionError("OPERATION_CANCELLED", `operation ${operationId} was cancelled`, { operation_id: operationId });
  }
  const now = new Date();
  if (outcome.succeeded) {
    em.assign(operation, { state: "SUCCEEDED", progressPercent: 100, doneTime: now });
  } else {
    em.assign(operation, {
      state: "FAILED",
      doneTime: now,
      errorCode: outcome.error.code,
      errorReason: outcome.error.reason,
      errorMessage: outcome.error.message,
      errorMetadata: outcome.error.metadata,
    });
  }
  // The lease token stays: a repeated final report under it is recognised as a repeat.
  await em.nativeUpdate(
    Job,
    { operationId },
    { state: outcome.succeeded ? "SUCCEEDED" : "FAILED", updateTime: now, leaseExpireTime: null },
  );
  await em.flush();
  const lifecycle = lifecycleOf(operation.resourceType);
  if (outcome.succeeded) await lifecycle.applySuccess(em, operation as Operation, outcome.facts);
  else await lifecycle.applyFailure(em, operation as Operation);
  await notify(em, "rackplane_operation", operationId);
}

async function lockOperation(em: EntityManager, id: string) {
  const operation = await em.findOne(OperationEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  if (!operation) throw new NotFoundError("operation", id);
  return operation;
}
