// Slot groups: named sets of rack units. Deleting one that still holds units needs `force`, which
// takes the units out of it (they stay where they are).
import type { SlotGroup } from "../../domain/inventory.js";
import { FailedPreconditionError } from "../../domain/errors.js";
import { namedResourceFilter } from "../../domain/filter-schema.js";
import { RackUnit, SlotGroup as SlotGroupEntity } from "../../persistence/entities/index.js";
import { standardResource } from "../standard-resource.js";
import { inventoryAccess } from "./access.js";

export interface SlotGroupFields {
  readonly name: string;
  readonly description: string;
}

export const slotGroups = standardResource<SlotGroup, SlotGroupFields>({
  type: "slot_group",
  entity: SlotGroupEntity,
  filter: namedResourceFilter,
  access: inventoryAccess,
  dependents: [
    async (em, group, { force }) => {
      const members = await em.count(RackUnit, { slotGroupId: group.id });
      if (members > 0 && !force) {
        throw new FailedPreconditionError(
          "HAS_DEPENDENTS",
          `slot group ${group.name} still holds ${members} unit(s); take them out first or pass force`,
          { resource_type: "slot_group", resource_id: group.id, units: String(members) },
        );
      }
      await em.nativeUpdate(RackUnit, { slotGroupId: group.id }, { slotGroupId: null });
    },
  ],
});
