// Long-running operations and their jobs. A mutation that needs an agent calls `startOperation` in
// its own transaction: the operation (what callers follow) and the job (what an agent does) are
// written with the decision that caused them, and a notice wakes whoever waits.
import { LockMode } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import type { FilterSchema } from "../../domain/filter.js";
import { newId } from "../../domain/ids.js";
import { jobKinds, operationStates, type JobKind, type OperationState } from "../../domain/operations.js";
import { isTenantRole, requireRole } from "../../domain/principal.js";
import { Job, Operation as OperationEntity } from "../../persistence/entities/index.js";
import { notify, type Notifications } from "../../persistence/notifications.js";

/** What following an operation needs of the cross-replica notices. */
export type OperationNotices = Pick<Notifications, "subscribe">;
import type { Sql } from "../../persistence/sql.js";
import { executePrepared, type PreparedStatement } from "../../persistence/prepared.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { enumValues } from "../../domain/filter-schema.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { readById } from "../standard-methods.js";
import { settleWaiters } from "./completion.js";
import { lifecycleOf } from "./lifecycle.js";

export interface Operation {
  readonly id: string;
  readonly kind: JobKind;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly tenantId?: string | null;
  readonly state: OperationState;
  readonly progressPercent: number;
  readonly message: string;
  readonly errorCode: string;
  readonly errorReason: string;
  readonly errorMessage: string;
  readonly errorMetadata: Record<string, string>;
  readonly requestedBy: string;
  readonly previousState: string;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly doneTime?: Date | null;
}

export interface OperationRequest {
  /** The operation's id, when the caller must know it before (to mark a resource busy with it). */
  readonly id?: string;
  readonly kind: JobKind;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly tenantId: string | null;
  /** The resource's state before, to return to if the operation is cancelled. */
  readonly previousState: string;
  /** Where the work happens, for agents' scopes. */
  readonly groupId: string | null;
  readonly baremetalId: string | null;
  readonly payload: Record<string, unknown>;
  /** Operations that must succeed before an agent may take this one's job (a cluster's bootstrap
   * waits for its node VMs); if one fails or is cancelled, this one fails too (completion.ts). */
  readonly waitFor?: readonly string[];
}

/** A caller's own writes run in the same round trip as an operation's rows: a statement declared
 * from `operationStatement(ctes, select)` and the caller's parameters, which come first. */
export interface SameStatement {
  readonly statement: PreparedStatement;
  readonly params: readonly unknown[];
}

const operationCtes = [
  `new_operation as (insert into operation (id, kind, resource_type, resource_id, tenant_id, state, requested_by, previous_state, create_time, update_time)
     values (?, ?, ?, ?, ?, 'PENDING', ?, ?, ?, ?))`,
  `new_job as (insert into job (id, operation_id, kind, resource_type, resource_id, group_id, baremetal_id, payload, state, create_time, update_time,
                             wait_for_operation_ids)
     values (?, ?, ?, ?, ?, ?, ?, ?::jsonb, 'QUEUED', ?, ?, ?::text[]))`,
];

/** The text `startOperation` runs: the caller's expressions, the operation's and job's rows, and
 * the job's notice (a new operation has no watchers yet: its id is only known from this call's
 * answer); its parameters are the caller's, then the operation's. */
export function operationStatement(ctes: readonly string[], select?: string): string {
  return `with ${[...ctes, ...operationCtes].join(",\n")} select pg_notify('rackplane_job', ?)${select ? `, ${select}` : ""}`;
}

/**
 * Writes the operation and its job, and announces the job, in ONE statement — together with the
 * caller's own writes when it passes them (a VM creation puts its quota update, VM row and
 * scheduling record here): a decision costs one round trip, not one per row.
 */
export async function startOperation(sql: Sql, ctx: CallContext, request: OperationRequest, with_?: SameStatement): Promise<Operation> {
  const { operation, params } = operationRecords(ctx, request, with_);
  if (with_) await executePrepared(sql, with_.statement, params);
  else await sql.execute(operationStatement([]), params);
  return operation;
}

/** The operation `startOperation` writes, and the parameters of its statement (the caller's first),
 * for a caller that runs the statement itself (a batch of creations, see creation-batch.ts). */
export function operationRecords(
  ctx: CallContext,
  request: OperationRequest,
  with_?: SameStatement,
): { operation: Operation; params: unknown[] } {
  const now = new Date();
  const operation: Operation = {
    id: request.id ?? newId(),
    kind: request.kind,
    resourceType: request.resourceType,
    resourceId: request.resourceId,
    tenantId: request.tenantId,
    state: "PENDING",
    progressPercent: 0,
    message: "",
    errorCode: "",
    errorReason: "",
    errorMessage: "",
    errorMetadata: {},
    requestedBy: ctx.principal.name,
    previousState: request.previousState,
    createTime: now,
    updateTime: now,
    doneTime: null,
  };
  const params = [
    ...(with_?.params ?? []),
    operation.id,
    request.kind,
    request.resourceType,
    request.resourceId,
    request.tenantId,
    operation.requestedBy,
    request.previousState,
    now,
    now,
    newId(),
    operation.id,
    request.kind,
    request.resourceType,
    request.resourceId,
    request.groupId,
    request.baremetalId,
    JSON.stringify(request.payload),
    now,
    now,
    // An array literal: the same text whichever way the statement travels (ids need no quoting).
    `{${(request.waitFor ?? []).join(",")}}`,
    request.groupId ?? "",
  ];
  return { operation, params };
}

const operationFilter: FilterSchema = {
  kind: { type: { kind: "enum", values: enumValues("", jobKinds) }, property: "kind" },
  resource_type: { type: { kind: "string" }, property: "resourceType" },
  resource_id: { type: { kind: "uuid" }, property: "resourceId" },
  tenant_id: { type: { kind: "uuid" }, property: "tenantId" },
  state: { type: { kind: "enum", values: enumValues("OPERATION_STATE_", operationStates) }, property: "state" },
  requested_by: { type: { kind: "string" }, property: "requestedBy" },
  create_time: { type: { kind: "timestamp" }, property: "createTime" },
};

const readers = ["PLATFORM_ADMIN", "SERVICE", "TENANT_ADMIN", "TENANT_MEMBER"] as const;

/** Tenant principals see their own tenant's operations only; another's answers NOT_FOUND. */
export async function getOperation(db: Database, ctx: CallContext, id: string): Promise<Operation> {
  requireRole(ctx.principal, readers, "read operations");
  const operation = await readById<Operation>(db.em(), OperationEntity as never, "operation", id);
  if (isTenantRole(ctx.principal.role) && operation.tenantId !== ctx.principal.tenantId) throw new NotFoundError("operation", id);
  return operation;
}

export async function listOperations(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<Operation>> {
  requireRole(ctx.principal, readers, "read operations");
  const scope = isTenantRole(ctx.principal.role) ? { tenantId: ctx.principal.tenantId ?? "" } : undefined;
  const page = await listPage(db.em(), OperationEntity, request, operationFilter, { newestFirst: true, ...(scope ? { scope } : {}) });
  return page as unknown as Page<Operation>;
}

const doneStates: readonly OperationState[] = ["SUCCEEDED", "FAILED", "CANCELLED"];

/** The operation now and after every change until it is done. Changes arrive by notification from
 * any replica; a slow re-read every few seconds covers a notice lost to a reconnect. */
export async function* watchOperation(
  db: Database,
  ctx: CallContext,
  notifications: OperationNotices,
  id: string,
  signal: AbortSignal,
): AsyncGenerator<Operation> {
  let wake: (() => void) | undefined;
  const unsubscribe = notifications.subscribe("rackplane_operation", (payload) => {
    if (payload === id) wake?.();
  });
  try {
    let last = "";
    for (;;) {
      const operation = await getOperation(db, ctx, id);
      const version = `${operation.state}/${operation.progressPercent}/${operation.message}/${operation.updateTime.getTime()}`;
      if (version !== last) {
        last = version;
        yield operation;
      }
      if (doneStates.includes(operation.state) || signal.aborted) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5_000);
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        wake = done;
        signal.addEventListener("abort", done, { once: true });
      });
    }
  } finally {
    unsubscribe();
  }
}

/** Only while no agent has taken the job: afterwards the agent's report decides. */
export async function cancelOperation(db: Database, ctx: CallContext, id: string): Promise<Operation> {
  await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = "operation";
    ctx.audit.resourceId = id;
    // The job before its operation, as a claim, a report and the lease sweep take them (docs/compute.md,
    // "Lock order"): the other way round, a cancel and a claim of the same job deadlock.
    const job = await em.findOne(Job, { operationId: id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const operation = await em.findOne(OperationEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!operation || (isTenantRole(ctx.principal.role) && operation.tenantId !== ctx.principal.tenantId))
      throw new NotFoundError("operation", id);
    requireRole(ctx.principal, ["PLATFORM_ADMIN", "SERVICE", "TENANT_ADMIN", "TENANT_MEMBER"], "cancel operations");
    if (operation.state !== "PENDING" || !job || job.state !== "QUEUED") {
      throw new FailedPreconditionError(
        "OPERATION_STARTED",
        `operation ${id} is ${operation.state}: only an operation no agent has taken can be cancelled`,
        {
          operation_id: id,
          state: operation.state,
        },
      );
    }
    em.assign(job, { state: "CANCELLED" });
    em.assign(operation, { state: "CANCELLED", doneTime: new Date(), message: `cancelled by ${ctx.principal.name}` });
    await em.flush();
    await lifecycleOf(operation.resourceType).undoQueued(em, operation as Operation);
    await notify(em, "rackplane_operation", id);
    await settleWaiters(em, id, "CANCELLED");
  });
  return getOperation(db, ctx, id);
}
