// Bare-metal hosts, host groups and custom field definitions (HOST-1..4).
import { observedColumns } from "./observed-columns.js";
import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type { BaremetalGroupDimension, BaremetalStatus, CustomFieldType } from "../../domain/hosts.js";
import type { PlacementPolicy } from "../../domain/placement.js";
import { resourceProperties } from "./common.js";
import { Rack } from "./inventory.js";

export const BaremetalGroup = defineEntity({
  name: "BaremetalGroup",
  properties: {
    ...resourceProperties(),
    name: p.string().length(63).unique(),
    description: p.text().default(""),
    dimension: p.string().length(16).$type<BaremetalGroupDimension>(),
    cpuAllocationRatio: p.double().runtimeType("number").$type<number>().default(1),
    memoryAllocationRatio: p.double().runtimeType("number").$type<number>().default(1),
    storageAllocationRatio: p.double().runtimeType("number").$type<number>().default(1),
    reservedCpuCores: p.integer().default(0),
    reservedMemoryMib: p.bigint("number").default(0),
    reservedStorageGib: p.bigint("number").default(0),
    placementPolicy: p.string().length(8).$type<PlacementPolicy>().default("SPREAD"),
    /** Sum of the hosts' effective capacity, kept by refreshEffectiveCapacity: what tenant
     * percentages are taken of, read with the quota row at every placement. */
    effectiveCpuTotal: p.bigint("number").default(0),
    effectiveMemoryMibTotal: p.bigint("number").default(0),
    effectiveStorageGibTotal: p.bigint("number").default(0),
  },
});
export type BaremetalGroup = InferEntity<typeof BaremetalGroup>;

/**
 * A host. Effective capacity — what the scheduler may hand out, (capacity − the group's reserve) ×
 * the group's ratio — is stored per host and rewritten whenever the host, its group or the group's
 * policy changes; free capacity (effective − allocated) is a stored generated column, so the
 * placement index can order a group's hosts by free CPU and the placement guard is a plain
 * conditional UPDATE.
 * Location above the rack is copied down (like racks do) so every location filter is one column.
 */
export const Baremetal = defineEntity({
  name: "Baremetal",
  indexes: [
    { name: "baremetal_group_status_id_index", properties: ["groupId", "status", "id"] },
    { name: "baremetal_status_id_index", properties: ["status", "id"] },
    // Placement walks a group's active hosts from most (SPREAD) or least (PACK) free CPU.
    {
      name: "baremetal_placement_index",
      expression: "create index baremetal_placement_index on baremetal (group_id, free_cpu_cores, id) where status = 'ACTIVE'",
    },
  ],
  properties: {
    ...resourceProperties(),
    name: p.string().length(63).unique(),
    serialNumber: p.string().length(64).unique(),
    cpuCores: p.integer(),
    memoryMib: p.bigint("number"),
    storageGib: p.bigint("number"),
    effectiveCpuCores: p.integer().default(0),
    effectiveMemoryMib: p.bigint("number").default(0),
    effectiveStorageGib: p.bigint("number").default(0),
    cpuCoresAllocated: p.integer().default(0),
    memoryMibAllocated: p.bigint("number").default(0),
    storageGibAllocated: p.bigint("number").default(0),
    freeCpuCores: p.integer().generated("(effective_cpu_cores - cpu_cores_allocated) stored"),
    freeMemoryMib: p.bigint("number").generated("(effective_memory_mib - memory_mib_allocated) stored"),
    freeStorageGib: p.bigint("number").generated("(effective_storage_gib - storage_gib_allocated) stored"),
    status: p.string().length(16).$type<BaremetalStatus>(),
    statusReason: p.string().length(512).default(""),
    statusChangeTime: p.datetime(),
    groupId: () => p.manyToOne(BaremetalGroup).mapToPk().fieldName("group_id").nullable(),
    rackId: () => p.manyToOne(Rack).mapToPk().fieldName("rack_id").index(),
    firstPosition: p.smallint(),
    heightUnits: p.smallint(),
    roomId: p.uuid().index(),
    // No index on the datacenter or region: their filters walk the primary key (docs/hosts.md), and
    // every placement rewrites the host's entry in each index it has.
    datacenterId: p.uuid(),
    regionId: p.uuid(),
    customFields: p.json<Record<string, string | number | boolean>>().default("{}"),
    description: p.text().default(""),
    ...observedColumns("baremetal"),
  },
});
export type Baremetal = InferEntity<typeof Baremetal>;

export const CustomFieldDefinition = defineEntity({
  name: "CustomFieldDefinition",
  properties: {
    id: resourceProperties().id,
    name: p.string().length(63).unique(),
    type: p.string().length(16).$type<CustomFieldType>(),
    enumValues: p.array().default([]),
    required: p.boolean().default(false),
    resourceTypes: p.array().default([]),
    description: p.text().default(""),
    createTime: resourceProperties().createTime,
  },
});
export type CustomFieldDefinition = InferEntity<typeof CustomFieldDefinition>;
