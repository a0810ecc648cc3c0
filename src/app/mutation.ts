// The one way a use case changes state: one transaction holding the change and its audit record
// (API-4). Database conflicts are turned into domain errors here, so callers see a stable reason
// whichever constraint caught a race.
import {
  DeadlockException,
  ForeignKeyConstraintViolationException,
  LockWaitTimeoutException,
  OptimisticLockError,
  UniqueConstraintViolationException,
  type EntityManager,
} from "@mikro-orm/postgresql";
import { AbortedError, AlreadyExistsError, DomainError, FailedPreconditionError } from "../domain/errors.js";
import { newId } from "../domain/ids.js";
import type { CallContext } from "./context.js";
import type { Principal } from "../domain/principal.js";
import type { Database } from "./database.js";
import { AuditEvent } from "../persistence/entities/index.js";
import { pipelinedTransaction, type PipelinedTransaction } from "../persistence/pipelined-transaction.js";
import { requireTenantEnabled } from "./tenant-guard.js";
import { isRetryableConflict } from "./database-errors.js";

export async function mutate<R>(db: Database, ctx: CallContext, change: (em: EntityManager) => Promise<R>): Promise<R> {
  try {
    return await db.em().transactional(async (em) => {
      // Whatever a tenant's own principals change, their tenant must be enabled (TEN-2).
      if (ctx.principal.tenantId) await requireTenantEnabled(em, ctx.principal.tenantId);
      const result = await change(em);
      await em.flush();
      // A use case that wrote its last rows in one statement may have put the audit row there too.
      if (!ctx.audit.written) await em.insert(AuditEvent, auditRow(ctx, "OK", "", ctx.audit.detail ?? ""));
      ctx.audit.written = true;
      return result;
    });
  } catch (error) {
    ctx.audit.written = false;
    throw asDomainError(error);
  }
}

/**
 * `mutate` for the hottest mutation, on a pipelined transaction (persistence/pipelined-transaction.ts):
 * BEGIN travels with the first statement, and COMMIT with the one after `tx.commitWithNext()`,
 * which must then be the change's last and carry its audit row (`auditInsert`). A change that ends
 * without one (a retried create) gets its audit row here, committed in the same round trip.
 */
export async function mutatePipelined<R>(db: Database, ctx: CallContext, change: (tx: PipelinedTransaction) => Promise<R>): Promise<R> {
  try {
    return await pipelinedTransaction(db.orm, async (tx) => {
      if (ctx.principal.tenantId) await requireTenantEnabled(tx, ctx.principal.tenantId);
      const result = await change(tx);
      if (!ctx.audit.written) {
        tx.commitWithNext();
        await tx.execute(`with ${auditInsert.cte} select 1`, auditInsert.params(ctx));
      }
      ctx.audit.written = true;
      return result;
    });
  } catch (error) {
    ctx.audit.written = false;
    throw asDomainError(error);
  }
}

/**
 * The success audit row as a common table expression, for a use case that writes its final rows in
 * one statement (a VM creation). Once that statement ran, the caller marks `ctx.audit.written`, and
 * mutate() or mutatePipelined() writes no second row; if the transaction fails after all, the row is
 * rolled back with it and the failure is recorded as usual.
 */
export const auditInsert = {
  cte: `new_audit as (insert into audit_event (id, time, principal, role, tenant_id, method, resource_type, resource_id, request_id, result, reason, message)
      values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))`,
  params(ctx: CallContext): unknown[] {
    const row = auditRow(ctx, "OK", "", ctx.audit.detail ?? "");
    return [
      row.id,
      row.time,
      row.principal,
      row.role,
      row.tenantId,
      row.method,
      row.resourceType,
      row.resourceId,
      row.requestId,
      row.result,
      row.reason,
      row.message,
    ];
  },
};

/** A call as the audit trail sees it: the caller may be unknown when authentication failed. */
export type AuditedCall = Omit<CallContext, "principal"> & { readonly principal: Principal | undefined };

/**
 * `auditInsert` for a statement that knows its outcome only as it runs: the message is the SQL
 * expression `message` (over the statement's own common table expressions, e.g. a count of the rows
 * it stored; `?` placeholders in it take the values after the row's own). The caller marks
 * `ctx.audit.written` once the statement ran, as with `auditInsert`.
 */
export const auditInsertComputed = {
  cte(message: string): string {
    return `new_audit as (insert into audit_event (id, time, principal, role, tenant_id, method, resource_type, resource_id, request_id, result, reason, message)
      values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, left(${message}, 2000)))`;
  },
  params(ctx: CallContext): unknown[] {
    return auditInsert.params(ctx).slice(0, -1);
  },
};

/** Records a refused or failed mutation, after its transaction rolled back (or before it began). */
export async function recordFailedMutation(
  db: Database,
  call: AuditedCall,
  result: string,
  reason: string,
  message: string,
): Promise<void> {
  await db.em().insert(AuditEvent, auditRow(call, result, reason, message));
}

/** Extra success records inside a mutation's transaction, for what one call changed besides its
 * target (a drift that started or ended during an ingest). */
export async function recordMutations(
  em: EntityManager,
  ctx: CallContext,
  events: readonly { resourceType: string; resourceId: string; reason: string; message: string }[],
): Promise<void> {
  await em.insertMany(
    AuditEvent,
    events.map((event) =>
      auditRow(
        { ...ctx, audit: { ...ctx.audit, resourceType: event.resourceType, resourceId: event.resourceId } },
        "OK",
        event.reason,
        event.message,
      ),
    ),
  );
}

/** The success record, for the rare mutation that finished without going through `mutate`. */
export async function recordMutation(db: Database, call: AuditedCall): Promise<void> {
  await db.em().insert(AuditEvent, auditRow(call, "OK"));
}

function auditRow(ctx: AuditedCall, result: string, reason = "", message = "") {
  return {
    id: newId(),
    time: new Date(),
    principal: ctx.principal?.name ?? "anonymous",
    role: ctx.principal?.role ?? "",
    tenantId: ctx.principal?.tenantId ?? null,
    method: ctx.method,
    resourceType: storable(ctx.audit.resourceType),
    resourceId: storable(ctx.audit.resourceId),
    requestId: ctx.requestId,
    result,
    reason,
    message: storable(message.slice(0, 2000)),
  };
}

/** Text a refusal quotes from its request (a JSON parser's message naming the NUL it choked on)
 * must not cost the refusal its audit record: PostgreSQL refuses NUL in text, and a lone surrogate
 * would be stored as U+FFFD anyway. */
function storable(text: string): string {
  return text.replaceAll("\u0000", "\uFFFD").toWellFormed();
}

export function asDomainError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  if (error instanceof OptimisticLockError) {
    return new AbortedError("ETAG_MISMATCH", "the resource changed concurrently; read it again and retry", {}, { cause: error });
  }
  if (error instanceof DeadlockException || error instanceof LockWaitTimeoutException || isRetryableConflict(error)) {
    // The SQLSTATE says which: 40P01 a deadlock, 40001 a serialization failure (or a failed
    // rackplane_require check), 55P03 a lock not available.
    const sqlstate = (error as { code?: string }).code ?? "";
    return new AbortedError(
      "CONCURRENT_CHANGE",
      `the change collided with a concurrent one and was rolled back; retry it (${sqlstate})`,
      { sqlstate },
      { cause: error },
    );
  }
  if (error instanceof UniqueConstraintViolationException) {
    return new AlreadyExistsError("ALREADY_EXISTS", describeUnique(error), { constraint: constraintName(error) }, { cause: error });
  }
  if (error instanceof ForeignKeyConstraintViolationException) {
    return new FailedPreconditionError(
      "REFERENCE_CONFLICT",
      "a related resource was changed or removed concurrently; read again and retry",
      { constraint: constraintName(error) },
      { cause: error },
    );
  }
  return error;
}

interface PgErrorFields {
  constraint?: string;
  table?: string;
  detail?: string;
}

function constraintName(error: Error): string {
  return (error as Error & PgErrorFields).constraint ?? "";
}

/** From PostgreSQL's own detail: "a rack with (room_id, name)=(…, R01) already exists". */
function describeUnique(error: Error): string {
  const { table, detail } = error as Error & PgErrorFields;
  const key = /^Key (.*) already exists\.?$/.exec(detail ?? "")?.[1];
  return key && table
    ? `a ${table.replaceAll("_", " ")} with ${key} already exists`
    : "a resource with the same unique values already exists";
}
