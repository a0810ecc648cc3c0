// Finishing an operation: its job, the operation and the resource move together in the caller's
// transaction. Agents' reports (ReportJob) end here; so do tests that play an agent's part.
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import type { JobKind } from "../../domain/operations.js";
import { notify } from "../../persistence/notifications.js";
import { type Facts, lifecycleOf, type OperationView } from "./lifecycle.js";

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

/** An agent took the job and its operation now runs (the claim set it RUNNING): the resource shows
 * it (a VM is PROVISIONING), and watchers of the operation hear of it. */
export async function operationStarted(em: EntityManager, operation: OperationView): Promise<void> {
  await lifecycleOf(operation.resourceType).markStarted(em, operation);
  await notify(em, "rackplane_operation", operation.id);
}

/** Records the outcome once: a second report of a finished operation changes nothing. */
export async function completeOperation(em: EntityManager, operationId: string, outcome: Outcome): Promise<void> {
  const [row] = await em.execute<{ state: string; kind: JobKind; resource_type: string; resource_id: string; previous_state: string }[]>(
    "select state, kind, resource_type, resource_id, previous_state from operation where id = ? for update",
    [operationId],
  );
  if (!row) throw new NotFoundError("operation", operationId);
  if (row.state === "SUCCEEDED" || row.state === "FAILED") return;
  if (row.state === "CANCELLED") {
    throw new FailedPreconditionError("OPERATION_CANCELLED", `operation ${operationId} was cancelled`, { operation_id: operationId });
  }
  const operation: OperationView = {
    id: operationId,
    kind: row.kind,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    previousState: row.previous_state,
  };
  // The lease token stays: a repeated final report under it is recognised as a repeat.
  if (outcome.succeeded) {
    await em.execute(
      `with done as (update job set state = 'SUCCEEDED', update_time = now(), lease_expire_time = null where operation_id = ?)
       update operation set state = 'SUCCEEDED', progress_percent = 100, done_time = clock_timestamp(), update_time = now() where id = ?`,
      [operationId, operationId],
    );
  } else {
    const { code, reason, message, metadata } = outcome.error;
    await em.execute(
      `with done as (update job set state = 'FAILED', update_time = now(), lease_expire_time = null where operation_id = ?)
       update operation set state = 'FAILED', done_time = clock_timestamp(), update_time = now(),
                            error_code = ?, error_reason = ?, error_message = ?, error_metadata = ?::jsonb
        where id = ?`,
      [operationId, code, reason, message, JSON.stringify(metadata), operationId],
    );
  }
  const lifecycle = lifecycleOf(operation.resourceType);
  if (outcome.succeeded) await lifecycle.applySuccess(em, operation, outcome.facts);
  else await lifecycle.applyFailure(em, operation);
  await notify(em, "rackplane_operation", operationId);
  await settleWaiters(em, operationId, outcome.succeeded ? "SUCCEEDED" : "FAILED");
}

/**
 * The jobs that wait for an operation (job.wait_for_operation_ids), once it ended: on success they
 * may be ready now, so agents are woken; on failure or cancellation they fail with it, so a
 * cluster's bootstrap never runs without its nodes. Waiters are taken SKIP LOCKED: one locked by
 * another transaction (a cancel of it under way) is left to that transaction, or else to the sweep
 * (`failStrandedWaiters`) — waiting here would take a job's lock after the VM's, against the lock
 * order (docs/compute.md).
 */
export async function settleWaiters(em: EntityManager, operationId: string, outcome: "SUCCEEDED" | "FAILED" | "CANCELLED"): Promise<void> {
  if (outcome === "SUCCEEDED") {
    await em.execute(
      `select pg_notify('rackplane_job', '') where exists (select 1 from job where state = 'QUEUED' and cardinality(wait_for_operation_ids) > 0
          and ? = any(wait_for_operation_ids))`,
      [operationId],
    );
    return;
  }
  const waiters = await em.execute<{ operation_id: string }[]>(
    `select operation_id from job where state = 'QUEUED' and cardinality(wait_for_operation_ids) > 0 and ? = any(wait_for_operation_ids)
      for update skip locked`,
    [operationId],
  );
  for (const waiter of waiters) await completeOperation(em, waiter.operation_id, prerequisiteFailed(operationId, outcome));
}

/** The sweep's safety net for `settleWaiters`: queued jobs that wait for an operation that failed or
 * was cancelled fail too. Returns how many. */
export async function failStrandedWaiters(em: EntityManager): Promise<number> {
  const rows = await em.execute<{ operation_id: string; failed_id: string; failed_state: "FAILED" | "CANCELLED" }[]>(
    // From the few waiting jobs (job_waiting_index) to their prerequisites by primary key. `offset 0`
    // keeps the planner from flattening the lateral subquery into a join it drove from `operation`:
    // it estimated one failed operation and scanned the whole table for it on every sweep (120,000
    // operations: 27 ms warm, 237 ms cold; this form: under 0.1 ms), a cost that grew with history.
    `select j.operation_id, w.id as failed_id, w.state as failed_state
       from job j
       cross join lateral (select o.id, o.state from operation o
                            where o.id = any(j.wait_for_operation_ids::uuid[]) and o.state in ('FAILED', 'CANCELLED') offset 0) w
      where j.state = 'QUEUED' and cardinality(j.wait_for_operation_ids) > 0
      for update of j skip locked`,
  );
  const done = new Set<string>();
  for (const row of rows) {
    if (done.has(row.operation_id)) continue;
    done.add(row.operation_id);
    await completeOperation(em, row.operation_id, prerequisiteFailed(row.failed_id, row.failed_state));
  }
  return done.size;
}

function prerequisiteFailed(operationId: string, outcome: "FAILED" | "CANCELLED"): Outcome {
  return {
    succeeded: false,
    error: {
      code: "FAILED_PRECONDITION",
      reason: "PREREQUISITE_FAILED",
      message: `operation ${operationId}, which this one waited for, ${outcome === "FAILED" ? "failed" : "was cancelled"}`,
      metadata: { operation_id: operationId },
    },
  };
}
