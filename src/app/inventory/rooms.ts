// Rooms, in a datacenter that must exist; a room's region is copied down from it (datacenters
// cannot move, so it never goes stale). Deleting one with racks needs `force`, which takes them.
import type { Room } from "../../domain/inventory.js";
import { field, resourceTimes } from "../../domain/filter-schema.js";
import { Datacenter, Rack, Room as RoomEntity } from "../../persistence/entities/index.js";
import { blockingChildren, standardResource } from "../standard-resource.js";
import { findById } from "../standard-methods.js";
import { inventoryAccess } from "./access.js";
import { deleteRacks } from "./cascade.js";

export interface RoomFields {
  readonly datacenterId: string;
  readonly name: string;
  readonly description: string;
}

export const rooms = standardResource<Room, RoomFields, Omit<RoomFields, "datacenterId">>({
  type: "room",
  entity: RoomEntity,
  filter: {
    id: field.uuid("id"),
    name: field.string("name"),
    datacenter_id: field.uuid("datacenterId"),
    region_id: field.uuid("regionId"),
    description: field.string("description"),
    ...resourceTimes,
  },
  access: inventoryAccess,
  async prepare(em, fields) {
    const datacenter = await findById(em, Datacenter, "datacenter", fields.datacenterId);
    return { ...fields, regionId: datacenter.regionId };
  },
  dependents: [
    blockingChildren({
      entity: Rack,
      parentKey: "roomId",
      noun: "rack",
      cascade: async (em, room) => {
        await deleteRacks(em, { column: "room_id", value: room.id });
      },
    }),
  ],
});
