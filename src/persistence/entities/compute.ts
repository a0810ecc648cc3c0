// The VM catalogue, VMs, quotas and placement records (VM-1..7, QUO-1..5).
import { observedColumns } from "./observed-columns.js";
import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type { Architecture, ImageStatus, VirtualMachineRole, VirtualMachineState } from "../../domain/compute.js";
import { resourceProperties } from "./common.js";
import { Baremetal, BaremetalGroup } from "./hosts.js";
import { Tenant } from "./tenant.js";

export const VirtualMachineSpecification = defineEntity({
  name: "VirtualMachineSpecification",
  properties: {
    ...resourceProperties(),
    name: p.string().length(63).unique(),
    vcpu: p.integer(),
    memoryMib: p.bigint("number"),
    storageGib: p.bigint("number"),
    generation: p.string().length(32).default(""),
    deprecated: p.boolean().default(false),
    description: p.text().default(""),
  },
});
export type VirtualMachineSpecification = InferEntity<typeof VirtualMachineSpecification>;

export const Image = defineEntity({
  name: "Image",
  properties: {
    ...resourceProperties(),
    name: p.string().length(63).unique(),
    osFamily: p.string().length(32).default(""),
    osVersion: p.string().length(32).default(""),
    architecture: p.string().length(16).$type<Architecture>(),
    status: p.string().length(16).$type<ImageStatus>(),
    description: p.text().default(""),
  },
});
export type Image = InferEntity<typeof Image>;

/**
 * A tenant's quota in a host group, and — on the same row — what the tenant uses there. The row is
 * the quota guard: placement locks it (`FOR UPDATE`) and raises `*_used` in the transaction that
 * inserts the VM, so concurrent placements for one tenant and group queue on it and can never
 * together pass a limit. A limit is absolute or a percentage of the group's effective capacity.
 */
export const BaremetalGroupTenantQuota = defineEntity({
  name: "BaremetalGroupTenantQuota",
  uniques: [{ properties: ["tenantId", "groupId"] }],
  properties: {
    ...resourceProperties(),
    tenantId: () => p.manyToOne(Tenant).mapToPk().fieldName("tenant_id"),
    groupId: () => p.manyToOne(BaremetalGroup).mapToPk().fieldName("group_id").index(),
    cpuAbsolute: p.bigint("number").nullable(),
    cpuPercent: p.double().runtimeType("number").$type<number>().nullable(),
    memoryMibAbsolute: p.bigint("number").nullable(),
    memoryMibPercent: p.double().runtimeType("number").$type<number>().nullable(),
    storageGibAbsolute: p.bigint("number").nullable(),
    storageGibPercent: p.double().runtimeType("number").$type<number>().nullable(),
    cpuUsed: p.bigint("number").default(0),
    memoryMibUsed: p.bigint("number").default(0),
    storageGibUsed: p.bigint("number").default(0),
    updatedBy: p.string().length(128).default(""),
  },
});
export type BaremetalGroupTenantQuota = InferEntity<typeof BaremetalGroupTenantQuota>;

/** The last number handed out per tenant and rendered name prefix; bumped with one upsert, so two
 * concurrent creates can never draw the same number. */
export const NameSequence = defineEntity({
  name: "NameSequence",
  properties: {
    tenantId: () => p.manyToOne(Tenant).mapToPk().fieldName("tenant_id").primary(),
    prefix: p.string().length(128).primary(),
    lastValue: p.integer(),
  },
});
export type NameSequence = InferEntity<typeof NameSequence>;

export const VirtualMachine = defineEntity({
  name: "VirtualMachine",
  indexes: [
    { properties: ["tenantId", "id"] },
    { properties: ["state", "id"] },
    {
      name: "virtual_machine_live_name_unique",
      expression: "create unique index virtual_machine_live_name_unique on virtual_machine (tenant_id, name) where state <> 'DELETED'",
    },
    // Only VMs in a cluster are entered: a VM outside one costs its creation no entry here.
    {
      name: "virtual_machine_clustered_index",
      expression: "create index virtual_machine_clustered_index on virtual_machine (cluster_id) where cluster_id is not null",
    },
  ],
  properties: {
    ...resourceProperties(),
    name: p.string().length(63),
    tenantId: () => p.manyToOne(Tenant).mapToPk().fieldName("tenant_id"),
    specificationId: () => p.manyToOne(VirtualMachineSpecification).mapToPk().fieldName("specification_id").index(),
    imageId: () => p.manyToOne(Image).mapToPk().fieldName("image_id").index(),
    cpuCores: p.integer(),
    memoryMib: p.bigint("number"),
    storageGib: p.bigint("number"),
    groupId: () => p.manyToOne(BaremetalGroup).mapToPk().fieldName("group_id").index(),
    baremetalId: () => p.manyToOne(Baremetal).mapToPk().fieldName("baremetal_id").index(),
    /** The Kubernetes cluster it is a node of (no foreign key yet: CreateVirtualMachine still
     * accepts any id here; the cluster lifecycle work decides that, see docs/kubernetes.md). */
    clusterId: p.uuid().nullable(),
    /** Its node pool, for a worker node; null for control-plane nodes and plain VMs. */
    nodePoolId: p.uuid().nullable(),
    /** The Kubernetes version its kubelet runs, as an agent last reported; "" for plain VMs. */
    kubernetesVersion: p.string().length(16).default(""),
    role: p.string().length(16).$type<VirtualMachineRole>().default(""),
    state: p.string().length(16).$type<VirtualMachineState>(),
    stateChangeTime: p.datetime(),
    /** Whether its cpu/memory/storage are still held on the host and in the quota. */
    reserved: p.boolean().default(true),
    activeOperationId: p.uuid().nullable(),
    hypervisorId: p.string().length(128).default(""),
    ipAddresses: p.array().default([]),
    ...observedColumns("virtual_machine"),
  },
});
export type VirtualMachine = InferEntity<typeof VirtualMachine>;

export interface SchedulingCandidateRecord {
  readonly baremetalId: string;
  readonly free: { cpuCores: number; memoryMib: number; storageGib: number };
  readonly score: number;
}

export interface SchedulingEventRecord {
  readonly kind: "RESERVED" | "RELEASED" | "RESIZED";
  readonly resources: { cpuCores: number; memoryMib: number; storageGib: number };
  readonly reason: string;
  readonly time: string;
}

export const SchedulingRecord = defineEntity({
  name: "SchedulingRecord",
  indexes: [{ properties: ["tenantId", "id"] }, { properties: ["baremetalId", "id"] }],
  properties: {
    id: resourceProperties().id,
    virtualMachineId: p.uuid().index(),
    tenantId: p.uuid(),
    groupId: p.uuid(),
    cpuCores: p.integer(),
    memoryMib: p.bigint("number"),
    storageGib: p.bigint("number"),
    candidates: p.json<SchedulingCandidateRecord[]>(),
    baremetalId: p.uuid(),
    reason: p.text(),
    policy: p.string().length(8),
    events: p.json<SchedulingEventRecord[]>(),
    createTime: resourceProperties().createTime,
  },
});
export type SchedulingRecord = InferEntity<typeof SchedulingRecord>;
