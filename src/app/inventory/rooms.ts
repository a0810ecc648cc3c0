import { FailedPreconditionError } from "../../domain/errors.js";
import type { Room } from "../../domain/inventory.js";
import { Datacenter, Rack, Room as RoomEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { removeAssignments } from "../maintainers/resources.js";
import { mutate } from "../mutation.js";
import { createOnce, findById, findForChange, readById } from "../standard-methods.js";
import { requireInventoryRead, requireInventoryWrite } from "./access.js";
import { deleteRacks } from "./cascade.js";
import { roomFilter } from "./filters.js";

export interface RoomFields {
  readonly name: string;
  readonly description: string;
}

export async function createRoom(
  db: Database,
  ctx: CallContext,
  datacenterId: string,
  fields: RoomFields,
  requestId: string,
): Promise<Room> {
  requireInventoryWrite(ctx.principal);
  const id = await mutate(db, ctx, async (em) => {
    const datacenter = await findById(em, Datacenter, "datacenter", datacenterId);
    return createOnce(em, ctx, "room", requestId, { datacenterId, fields }, async (id) => {
      em.create(RoomEntity, { id, datacenterId, regionId: datacenter.regionId, ...fields });
    });
  });
  return getRoom(db, ctx, id);
}

export async function getRoom(db: Database, ctx: CallContext, id: string): Promise<Room> {
  requireInventoryRead(ctx.principal);
  return readById(db.em(), RoomEntity, "room", id);
}

export async function listRooms(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<Room>> {
  requireInventoryRead(ctx.principal);
  return listPage(db.em(), RoomEntity, request, roomFilter);
}

export async function updateRoom(db: Database, ctx: CallContext, id: string, etag: string, patch: Partial<RoomFields>): Promise<Room> {
  requireInventoryWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    const room = await findForChange(em, ctx, RoomEntity, "room", id, etag);
    em.assign(room, patch);
    return room;
  });
}

export async function deleteRoom(db: Database, ctx: CallContext, id: string, etag: string, force: boolean): Promise<void> {
  requireInventoryWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const room = await findForChange(em, ctx, RoomEntity, "room", id, etag);
    const racks = await em.find(Rack, { roomId: id }, { fields: ["id", "name"] });
    if (racks.length > 0) {
      if (!force) {
        throw new FailedPreconditionError(
          "HAS_DEPENDENTS",
          `room ${room.name} still has ${racks.length} rack(s): ${racks
            .map((rack) => rack.name)
            .slice(0, 10)
            .join(", ")}; delete them first or pass force`,
          { resource_type: "room", resource_id: id, racks: String(racks.length) },
        );
      }
      await deleteRacks(em, { column: "room_id", value: id });
    }
    em.remove(room);
    await removeAssignments(em, "room", [id]);
  });
}
