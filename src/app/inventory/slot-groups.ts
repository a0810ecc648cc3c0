import { FailedPreconditionError } from "../../domain/errors.js";
import type { SlotGroup } from "../../domain/inventory.js";
import { RackUnit, SlotGroup as SlotGroupEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { createOnce, findForChange, readById } from "../standard-methods.js";
import { requireInventoryRead, requireInventoryWrite } from "./access.js";
import { slotGroupFilter } from "./filters.js";

export interface SlotGroupFields {
  readonly name: string;
  readonly description: string;
}

export async function createSlotGroup(db: Database, ctx: CallContext, fields: SlotGroupFields, requestId: string): Promise<SlotGroup> {
  requireInventoryWrite(ctx.principal);
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, "slot_group", requestId, fields, async (id) => {
      em.create(SlotGroupEntity, { id, ...fields });
    }),
  );
  return getSlotGroup(db, ctx, id);
}

export async function getSlotGroup(db: Database, ctx: CallContext, id: string): Promise<SlotGroup> {
  requireInventoryRead(ctx.principal);
  return readById(db.em(), SlotGroupEntity, "slot_group", id);
}

export async function listSlotGroups(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<SlotGroup>> {
  requireInventoryRead(ctx.principal);
  return listPage(db.em(), SlotGroupEntity, request, slotGroupFilter);
}

export async function updateSlotGroup(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: Partial<SlotGroupFields>,
): Promise<SlotGroup> {
  requireInventoryWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    const group = await findForChange(em, ctx, SlotGroupEntity, "slot_group", id, etag);
    em.assign(group, patch);
    return group;
  });
}

export async function deleteSlotGroup(db: Database, ctx: CallContext, id: string, etag: string, force: boolean): Promise<void> {
  requireInventoryWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const group = await findForChange(em, ctx, SlotGroupEntity, "slot_group", id, etag);
    const members = await em.count(RackUnit, { slotGroupId: id });
    if (members > 0 && !force) {
      throw new FailedPreconditionError(
        "HAS_DEPENDENTS",
        `slot group ${group.name} still holds ${members} unit(s); take them out first or pass force`,
        { resource_type: "slot_group", resource_id: id, units: String(members) },
      );
    }
    await em.nativeUpdate(RackUnit, { slotGroupId: id }, { slotGroupId: null });
    em.remove(group);
  });
}
