// Hosts, host groups and custom fields: domain ⇄ proto.
import type { ObservationView } from "../domain/observations.js";
import { observationMessage } from "./observation-mapping.js";
import { create } from "@bufbuild/protobuf";
import type { JsonObject } from "@bufbuild/protobuf";
import {
  BaremetalGroupDimension,
  BaremetalGroupSchema,
  BaremetalSchema,
  BaremetalStatus,
  CustomFieldDefinitionSchema,
  CustomFieldType,
  ResourcesSchema,
  type Baremetal as BaremetalMessage,
  type BaremetalPlacement,
  PlacementPolicy,
  type SchedulingPolicy as SchedulingPolicyMessage,
  type Resources as ResourcesMessage,
} from "../../gen/es/rackplane/v1/inventory_pb.js";
import type { Baremetal, BaremetalFields } from "../app/hosts/baremetals.js";
import type { BaremetalGroup } from "../app/hosts/groups.js";
import { etagOf } from "../domain/etag.js";
import { InvalidArgumentError } from "../domain/errors.js";
import { freeOf, type CustomFieldDefinition, type CustomFields, type Placement, type Resources } from "../domain/hosts.js";
import type { SchedulingPolicy } from "../domain/placement.js";
import { timestamp } from "./convert.js";

export function resourcesMessage(resources: Resources) {
  return create(ResourcesSchema, {
    cpuCores: resources.cpuCores,
    memoryMib: BigInt(resources.memoryMib),
    storageGib: BigInt(resources.storageGib),
  });
}

export function resources(message: ResourcesMessage | undefined): Resources {
  return { cpuCores: message?.cpuCores ?? 0, memoryMib: Number(message?.memoryMib ?? 0n), storageGib: Number(message?.storageGib ?? 0n) };
}

export function baremetalMessage(host: Baremetal, observation?: ObservationView) {
  const capacity = { cpuCores: host.cpuCores, memoryMib: host.memoryMib, storageGib: host.storageGib };
  const allocated = { cpuCores: host.cpuCoresAllocated, memoryMib: host.memoryMibAllocated, storageGib: host.storageGibAllocated };
  const effective = { cpuCores: host.effectiveCpuCores, memoryMib: host.effectiveMemoryMib, storageGib: host.effectiveStorageGib };
  return create(BaremetalSchema, {
    id: host.id,
    name: host.name,
    serialNumber: host.serialNumber,
    capacity: resourcesMessage(capacity),
    allocated: resourcesMessage(allocated),
    effective: resourcesMessage(effective),
    free: resourcesMessage(freeOf(effective, allocated)),
    status: BaremetalStatus[host.status],
    statusReason: host.statusReason,
    statusChangeTime: timestamp(host.statusChangeTime),
    groupId: host.groupId ?? "",
    placement: { rackId: host.rackId, firstPosition: host.firstPosition, heightUnits: host.heightUnits },
    roomId: host.roomId,
    datacenterId: host.datacenterId,
    regionId: host.regionId,
    customFields: host.customFields as JsonObject,
    description: host.description,
    etag: etagOf(host.version),
    createTime: timestamp(host.createTime),
    updateTime: timestamp(host.updateTime),
    observation: observationMessage(observation),
  });
}

export function placement(message: BaremetalPlacement | undefined): Placement {
  return {
    rackId: message?.rackId ?? "",
    firstPosition: message?.firstPosition ?? 0,
    heightUnits: message?.heightUnits ?? 0,
    reservationId: message?.reservationId || null,
  };
}

/** Struct values arrive as JSON; only strings, numbers and booleans are custom field values. */
export function customFields(json: JsonObject | undefined, field = "baremetal.custom_fields"): CustomFields {
  const values: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(json ?? {})) {
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw new InvalidArgumentError("INVALID_CUSTOM_FIELD", `${field}.${name} must be a string, number or boolean`, [
        { field: `${field}.${name}`, description: "must be a string, number or boolean" },
      ]);
    }
    values[name] = value;
  }
  return values;
}

export function baremetalFields(message: BaremetalMessage): BaremetalFields {
  return {
    name: message.name,
    serialNumber: message.serialNumber,
    capacity: resources(message.capacity),
    groupId: message.groupId || null,
    placement: placement(message.placement),
    customFields: customFields(message.customFields),
    description: message.description,
  };
}

export function baremetalGroupMessage(group: BaremetalGroup) {
  return create(BaremetalGroupSchema, {
    id: group.id,
    name: group.name,
    description: group.description,
    dimension: BaremetalGroupDimension[group.dimension],
    hostCount: group.hostCount,
    capacity: resourcesMessage(group.capacity),
    allocated: resourcesMessage(group.allocated),
    effectiveCapacity: resourcesMessage(group.effectiveCapacity),
    scheduling: {
      cpuAllocationRatio: group.scheduling.cpuAllocationRatio,
      memoryAllocationRatio: group.scheduling.memoryAllocationRatio,
      storageAllocationRatio: group.scheduling.storageAllocationRatio,
      reservedPerHost: resourcesMessage(group.scheduling.reservedPerHost),
      placementPolicy: PlacementPolicy[group.scheduling.placementPolicy],
    },
    etag: etagOf(group.version),
    createTime: timestamp(group.createTime),
    updateTime: timestamp(group.updateTime),
  });
}

/** Ratios of 0 mean 1.0; an unset placement policy means SPREAD. */
export function schedulingPolicy(message: SchedulingPolicyMessage | undefined): SchedulingPolicy {
  const ratio = (value: number | undefined) => (value ? value : 1);
  return {
    cpuAllocationRatio: ratio(message?.cpuAllocationRatio),
    memoryAllocationRatio: ratio(message?.memoryAllocationRatio),
    storageAllocationRatio: ratio(message?.storageAllocationRatio),
    reservedPerHost: resources(message?.reservedPerHost),
    placementPolicy: message?.placementPolicy === PlacementPolicy.PACK ? "PACK" : "SPREAD",
  };
}

export function dimension(value: BaremetalGroupDimension): BaremetalGroup["dimension"] {
  return value === BaremetalGroupDimension.UNSPECIFIED ? "PURPOSE" : (BaremetalGroupDimension[value] as BaremetalGroup["dimension"]);
}

export function customFieldDefinitionMessage(definition: CustomFieldDefinition) {
  return create(CustomFieldDefinitionSchema, {
    id: definition.id,
    name: definition.name,
    type: CustomFieldType[definition.type],
    enumValues: definition.enumValues,
    required: definition.required,
    resourceTypes: definition.resourceTypes,
    description: definition.description,
    createTime: timestamp(definition.createTime),
  });
}
