// Regions: the top of the inventory tree. Deleting one with datacenters needs `force`, which takes
// the whole tree below it.
import type { Region } from "../../domain/inventory.js";
import { namedResourceFilter } from "../../domain/filter-schema.js";
import { Datacenter, Region as RegionEntity } from "../../persistence/entities/index.js";
import { blockingChildren, standardResource } from "../standard-resource.js";
import { inventoryAccess } from "./access.js";
import { deleteDatacenterTree } from "./cascade.js";

export interface RegionFields {
  readonly name: string;
  readonly description: string;
}

export const regions = standardResource<Region, RegionFields>({
  type: "region",
  entity: RegionEntity,
  filter: namedResourceFilter,
  access: inventoryAccess,
  dependents: [
    blockingChildren({
      entity: Datacenter,
      parentKey: "regionId",
      noun: "datacenter",
      cascade: async (em, _region, datacenters) => {
        for (const datacenter of datacenters) await deleteDatacenterTree(em, datacenter.id);
      },
    }),
  ],
});
