// Datacenters, in a region that must exist; they cannot move to another. Deleting one with rooms
// needs `force`, which takes the rooms and their racks.
import type { Datacenter, Location } from "../../domain/inventory.js";
import { field, resourceTimes } from "../../domain/filter-schema.js";
import { Datacenter as DatacenterEntity, Region, Room } from "../../persistence/entities/index.js";
import { blockingChildren, standardResource } from "../standard-resource.js";
import { findById } from "../standard-methods.js";
import { inventoryAccess } from "./access.js";
import { deleteRoomTree } from "./cascade.js";

export interface DatacenterFields extends Location {
  readonly regionId: string;
  readonly name: string;
  readonly description: string;
}

export const datacenters = standardResource<Datacenter, DatacenterFields, Omit<DatacenterFields, "regionId">>({
  type: "datacenter",
  entity: DatacenterEntity,
  filter: {
    id: field.uuid("id"),
    name: field.string("name"),
    region_id: field.uuid("regionId"),
    "location.city": field.string("city"),
    "location.country_code": field.string("countryCode"),
    description: field.string("description"),
    ...resourceTimes,
  },
  access: inventoryAccess,
  async prepare(em, fields) {
    await findById(em, Region, "region", fields.regionId);
    return fields;
  },
  dependents: [
    blockingChildren({
      entity: Room,
      parentKey: "datacenterId",
      noun: "room",
      cascade: async (em, _datacenter, rooms) => {
        for (const room of rooms) await deleteRoomTree(em, room.id);
      },
    }),
  ],
});
