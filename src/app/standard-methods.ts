// The parts of AIP standard methods every resource shares: look-up by id, etag checks and
// request_id idempotency for Create.
import { createHash } from "node:crypto";
import { LockMode, type EntityManager, type EntityName } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../domain/errors.js";
import { requireEtag } from "../domain/etag.js";
import { newId } from "../domain/ids.js";
import { readRowById } from "../persistence/reads.js";
import type { Sql } from "../persistence/sql.js";
import type { CallContext } from "./context.js";

/** A managed entity, for use inside a mutation. */
export async function findById<T extends object>(em: EntityManager, entity: EntityName<T>, resourceType: string, id: string): Promise<T> {
  const found = await em.findOne(entity, { id } as never);
  if (!found) throw new NotFoundError(resourceType, id);
  return found as T;
}

/** A plain row, for reads: no identity map, no change tracking; a prepared statement outside a
 * transaction (persistence/reads.ts). */
export async function readById<T extends object>(em: EntityManager, entity: EntityName<T>, resourceType: string, id: string): Promise<T> {
  const found = await readRowById(em, entity, id);
  if (!found) throw new NotFoundError(resourceType, id);
  return found;
}

/** Loads for a change (locking the row until the transaction ends, so the etag checked is the one
 * changed), names the target for the audit record and checks the etag. */
export async function findForChange<T extends { id: string; version: number }>(
  em: EntityManager,
  ctx: CallContext,
  entity: EntityName<T>,
  resourceType: string,
  id: string,
  etag: string,
): Promise<T> {
  ctx.audit.resourceType = resourceType;
  ctx.audit.resourceId = id;
  const found = (await em.findOne(entity, { id } as never, { lockMode: LockMode.PESSIMISTIC_WRITE })) as T | null;
  if (!found) throw new NotFoundError(resourceType, id);
  requireEtag(found.version, etag, resourceType, id);
  return found;
}

/**
 * Runs `create(id)` once per (principal, method, request_id) (AIP-155). The key row is inserted
 * first, with the id the new resource will get: a concurrent retry blocks on the unique key until
 * the first transaction ends, then finds the row and answers the first result instead of creating
 * again. Returns the id of the resource, new or earlier.
 */
export async function createOnce(
  sql: Sql,
  ctx: CallContext,
  resourceType: string,
  requestId: string,
  request: unknown,
  create: (id: string) => Promise<void>,
): Promise<string> {
  const id = newId();
  ctx.audit.resourceType = resourceType;
  ctx.audit.resourceId = id;
  if (requestId === "") {
    await create(id);
    return id;
  }
  const requestHash = createHash("sha256").update(JSON.stringify(request)).digest("hex");
  const inserted = await sql.execute(
    `insert into idempotency_key (id, principal, method, request_id, request_hash, resource_type, resource_id, create_time)
     values (?, ?, ?, ?, ?, ?, ?, now()) on conflict (principal, method, request_id) do nothing returning id`,
    [newId(), ctx.principal.name, ctx.method, requestId, requestHash, resourceType, id],
  );
  if (inserted.length > 0) {
    await create(id);
    return id;
  }
  const [earlier] = await sql.execute<{ request_hash: string; resource_id: string }[]>(
    `select request_hash, resource_id from idempotency_key where principal = ? and method = ? and request_id = ?`,
    [ctx.principal.name, ctx.method, requestId],
  );
  if (!earlier) throw new Error("idempotency key vanished between insert and select");
  if (earlier.request_hash !== requestHash) {
    throw new FailedPreconditionError(
      "REQUEST_ID_REUSED",
      `request_id ${JSON.stringify(requestId)} was already used for a different request`,
      {
        request_id: requestId,
      },
    );
  }
  ctx.audit.resourceId = earlier.resource_id;
  return earlier.resource_id;
}
