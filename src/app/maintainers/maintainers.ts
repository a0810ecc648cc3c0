// Maintainers (MNT-1): the people who look after resources.
import { FailedPreconditionError } from "../../domain/errors.js";
import type { Maintainer, MaintainerStatus } from "../../domain/maintainer.js";
import { Maintainer as MaintainerEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { createOnce, findForChange, readById } from "../standard-methods.js";
import { requireMaintainerRead, requireMaintainerWrite } from "./access.js";
import { maintainerFilter } from "./filters.js";

export interface MaintainerFields {
  readonly name: string;
  readonly account: string;
  readonly email: string;
  readonly phone: string;
  readonly chat: string;
  readonly status: MaintainerStatus;
}

/** A second maintainer with the same account is ALREADY_EXISTS (the unique key, in mutate()). */
export async function createMaintainer(db: Database, ctx: CallContext, fields: MaintainerFields, requestId: string): Promise<Maintainer> {
  requireMaintainerWrite(ctx.principal);
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, "maintainer", requestId, fields, async (id) => {
      em.create(MaintainerEntity, { id, ...fields });
    }),
  );
  return getMaintainer(db, ctx, id);
}

export async function getMaintainer(db: Database, ctx: CallContext, id: string): Promise<Maintainer> {
  requireMaintainerRead(ctx.principal);
  return readById(db.em(), MaintainerEntity, "maintainer", id);
}

export async function listMaintainers(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<Maintainer>> {
  requireMaintainerRead(ctx.principal);
  return listPage(db.em(), MaintainerEntity, request, maintainerFilter);
}

export async function updateMaintainer(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: Partial<MaintainerFields>,
): Promise<Maintainer> {
  requireMaintainerWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    const maintainer = await findForChange(em, ctx, MaintainerEntity, "maintainer", id, etag);
    em.assign(maintainer, patch);
    return maintainer;
  });
}

/**
 * Deletes a maintainer with its memberships and assignments (the foreign keys cascade). A group
 * always has a manager, so a maintainer who manages one is refused until each such group has
 * another manager (UpdateMaintainerGroup). A group made to name this maintainer as manager
 * concurrently is caught by the manager foreign key (REFERENCE_CONFLICT), never left without one.
 */
export async function deleteMaintainer(db: Database, ctx: CallContext, id: string, etag: string): Promise<void> {
  requireMaintainerWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const maintainer = await findForChange(em, ctx, MaintainerEntity, "maintainer", id, etag);
    const managed = await em.execute<{ id: string; name: string }[]>(
      `select id, name from maintainer_group where manager_id = ? order by id limit 21`,
      [id],
    );
    if (managed.length > 0) {
      const shown = managed.slice(0, 20);
      throw new FailedPreconditionError(
        "GROUP_MANAGER_REQUIRED",
        `maintainer ${maintainer.account} manages ${managed.length > 20 ? "more than 20" : managed.length} group(s): ` +
          `${shown.map((group) => group.name).join(", ")}; give each group another manager (UpdateMaintainerGroup) first`,
        {
          resource_type: "maintainer",
          resource_id: id,
          group_ids: shown.map((group) => group.id).join(","),
          group_names: shown.map((group) => group.name).join(","),
        },
      );
    }
    em.remove(maintainer);
  });
}
