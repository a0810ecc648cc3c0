// The checks of a batch of new bare-metal hosts (HOST-1), pure: the use case reads what they need
// once for the whole batch (BaremetalBatchFacts), so a 1,000-host import costs a fixed number of
// queries, and every item's problems are found in one pass, each under its own field path.
import type { FieldViolation } from "./errors.js";
import {
  customFieldProblems,
  mountingConflicts,
  type CustomFieldDefinition,
  type CustomFields,
  type Mounting,
  type Placement,
} from "./hosts.js";
import { unitsUnavailable } from "./inventory.js";

/** What the checks look at of one new host. */
export interface NewBaremetal {
  readonly id: string;
  readonly name: string;
  readonly serialNumber: string;
  readonly groupId: string | null;
  readonly placement: Placement;
  readonly customFields: CustomFields;
}

/** What exists, as far as the batch touches it. */
export interface BaremetalBatchFacts {
  readonly customFields: readonly CustomFieldDefinition[];
  /** Names and serial numbers of existing hosts that the batch uses too. */
  readonly takenNames: ReadonlySet<string>;
  readonly takenSerials: ReadonlySet<string>;
  /** The racks the batch names that exist. */
  readonly racks: ReadonlyMap<string, { readonly id: string; readonly heightUnits: number; readonly status: string }>;
  /** The groups the batch names that exist. */
  readonly groups: ReadonlySet<string>;
  /** Rack id → position → the unit. */
  readonly units: ReadonlyMap<string, ReadonlyMap<number, { readonly status: string; readonly reservationId: string | null }>>;
}

export interface BaremetalBatchCheck {
  /** One list per item, in order; all empty when the batch may be created. Each description starts
   * with the reason (`ALREADY_EXISTS: …`). */
  readonly problems: FieldViolation[][];
  /** The units each item takes, for the items whose rack exists. */
  readonly mountings: Mounting[];
}

/**
 * Checks every item against what exists and against the items before it: custom fields, names and
 * serial numbers (unique across the batch and the hosts there are), group and rack, and the units
 * (free, or reserved by the reservation the item names, and not taken by an earlier item).
 * `path(index)` is the item's field path, prefixed to each problem's field.
 */
export function checkNewBaremetals(
  items: readonly NewBaremetal[],
  facts: BaremetalBatchFacts,
  path: (index: number) => string,
): BaremetalBatchCheck {
  const problems: FieldViolation[][] = items.map(() => []);
  const reject = (index: number, field: string, description: string) =>
    problems[index]!.push({ field: `${path(index)}${field ? `.${field}` : ""}`, description });

  items.forEach((item, index) => {
    for (const problem of customFieldProblems(facts.customFields, "baremetal", item.customFields, true)) {
      reject(index, `custom_fields.${problem.field}`, `INVALID_CUSTOM_FIELD: ${problem.problem}`);
    }
  });

  const seenNames = new Map<string, number>();
  const seenSerials = new Map<string, number>();
  items.forEach((item, index) => {
    if (seenNames.has(item.name)) reject(index, "name", `ALREADY_EXISTS: also used by item ${seenNames.get(item.name)} of this batch`);
    else seenNames.set(item.name, index);
    if (seenSerials.has(item.serialNumber))
      reject(index, "serial_number", `ALREADY_EXISTS: also used by item ${seenSerials.get(item.serialNumber)} of this batch`);
    else seenSerials.set(item.serialNumber, index);
  });

  const mountings: Mounting[] = [];
  items.forEach((item, index) => {
    if (facts.takenNames.has(item.name)) reject(index, "name", `ALREADY_EXISTS: a host named ${item.name} exists`);
    if (facts.takenSerials.has(item.serialNumber))
      reject(index, "serial_number", `ALREADY_EXISTS: a host with serial ${item.serialNumber} exists`);
    if (item.groupId && !facts.groups.has(item.groupId))
      reject(index, "group_id", `RESOURCE_NOT_FOUND: baremetal_group ${item.groupId} not found`);
    const rack = facts.racks.get(item.placement.rackId);
    if (!rack) {
      reject(index, "placement.rack_id", `RESOURCE_NOT_FOUND: rack ${item.placement.rackId} not found`);
      return;
    }
    if (rack.status === "DECOMMISSIONED") reject(index, "placement.rack_id", `RACK_DECOMMISSIONED: rack ${rack.id} is decommissioned`);
    const mounting = { baremetalId: item.id, ...item.placement };
    const conflicts = mountingConflicts(mounting, rack.heightUnits, facts.units.get(rack.id) ?? new Map());
    // Units taken by an earlier item of the same batch count as occupied.
    for (const other of mountings) {
      if (other.rackId !== mounting.rackId) continue;
      for (let p = mounting.firstPosition; p < mounting.firstPosition + mounting.heightUnits; p++) {
        if (p >= other.firstPosition && p < other.firstPosition + other.heightUnits)
          conflicts.push({ position: p, status: "OCCUPIED by an earlier item of this batch" });
      }
    }
    if (conflicts.length > 0) {
      const error = unitsUnavailable(rack.id, conflicts);
      reject(index, "placement", `${error.reason}: ${error.message}`);
    }
    mountings.push(mounting);
  });
  return { problems, mountings };
}
