import { FailedPreconditionError } from "../../domain/errors.js";
import type { Datacenter, Location } from "../../domain/inventory.js";
import { Datacenter as DatacenterEntity, Region, Room } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { removeAssignments } from "../maintainers/resources.js";
import { mutate } from "../mutation.js";
import { createOnce, findById, findForChange, readById } from "../standard-methods.js";
import { requireInventoryRead, requireInventoryWrite } from "./access.js";
import { deleteRoomTree } from "./cascade.js";
import { datacenterFilter } from "./filters.js";

export interface DatacenterFields extends Location {
  readonly name: string;
  readonly description: string;
}

export async function createDatacenter(
  db: Database,
  ctx: CallContext,
  regionId: string,
  fields: DatacenterFields,
  requestId: string,
): Promise<Datacenter> {
  requireInventoryWrite(ctx.principal);
  const id = await mutate(db, ctx, async (em) => {
    await findById(em, Region, "region", regionId);
    return createOnce(em, ctx, "datacenter", requestId, { regionId, fields }, async (id) => {
      em.create(DatacenterEntity, { id, regionId, ...fields });
    });
  });
  return getDatacenter(db, ctx, id);
}

export async function getDatacenter(db: Database, ctx: CallContext, id: string): Promise<Datacenter> {
  requireInventoryRead(ctx.principal);
  return readById(db.em(), DatacenterEntity, "datacenter", id);
}

export async function listDatacenters(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<Datacenter>> {
  requireInventoryRead(ctx.principal);
  return listPage(db.em(), DatacenterEntity, request, datacenterFilter);
}

export async function updateDatacenter(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: Partial<DatacenterFields>,
): Promise<Datacenter> {
  requireInventoryWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    const datacenter = await findForChange(em, ctx, DatacenterEntity, "datacenter", id, etag);
    em.assign(datacenter, patch);
    return datacenter;
  });
}

export async function deleteDatacenter(db: Database, ctx: CallContext, id: string, etag: string, force: boolean): Promise<void> {
  requireInventoryWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const datacenter = await findForChange(em, ctx, DatacenterEntity, "datacenter", id, etag);
    const rooms = await em.find(Room, { datacenterId: id }, { fields: ["id", "name"] });
    if (rooms.length > 0) {
      if (!force) {
        throw new FailedPreconditionError(
          "HAS_DEPENDENTS",
          `datacenter ${datacenter.name} still has ${rooms.length} room(s): ${rooms
            .map((room) => room.name)
            .slice(0, 10)
            .join(", ")}; delete them first or pass force`,
          { resource_type: "datacenter", resource_id: id, rooms: String(rooms.length) },
        );
      }
      for (const room of rooms) await deleteRoomTree(em, room.id);
    }
    em.remove(datacenter);
    await removeAssignments(em, "datacenter", [id]);
  });
}
