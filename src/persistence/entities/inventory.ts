// Inventory entities (INV-1..4). Parent links are many-to-one relations mapped to their primary key:
// the database enforces referential integrity, the code reads plain ids.
import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type { RackStatus, RackUnitStatus } from "../../domain/inventory.js";
import { resourceProperties } from "./common.js";

export const Region = defineEntity({
  name: "Region",
  properties: {
    ...resourceProperties(),
    name: p.string().length(63).unique(),
    description: p.text().default(""),
  },
});
export type Region = InferEntity<typeof Region>;

export const Datacenter = defineEntity({
  name: "Datacenter",
  properties: {
    ...resourceProperties(),
    name: p.string().length(63).unique(),
    regionId: () => p.manyToOne(Region).mapToPk().fieldName("region_id").index(),
    address: p.string().length(256).default(""),
    city: p.string().length(128).default(""),
    countryCode: p.string().length(2).default(""),
    latitude: p.double().runtimeType("number").$type<number>().default(0),
    longitude: p.double().runtimeType("number").$type<number>().default(0),
    description: p.text().default(""),
  },
});
export type Datacenter = InferEntity<typeof Datacenter>;

export const Room = defineEntity({
  name: "Room",
  uniques: [{ properties: ["datacenterId", "name"] }],
  properties: {
    ...resourceProperties(),
    name: p.string().length(63),
    datacenterId: () => p.manyToOne(Datacenter).mapToPk().fieldName("datacenter_id"),
    /** Denormalised from the datacenter (immutable there) so filters need no join. */
    regionId: p.uuid().index(),
    description: p.text().default(""),
  },
});
export type Room = InferEntity<typeof Room>;

export const Rack = defineEntity({
  name: "Rack",
  uniques: [{ properties: ["roomId", "name"] }],
  properties: {
    ...resourceProperties(),
    name: p.string().length(63),
    roomId: () => p.manyToOne(Room).mapToPk().fieldName("room_id"),
    /** Denormalised from the room; rewritten when the rack moves. */
    datacenterId: p.uuid().index(),
    regionId: p.uuid().index(),
    status: p.string().length(16).$type<RackStatus>(),
    heightUnits: p.smallint(),
    /** 32-bit ASNs exceed a signed integer. */
    asn: p.bigint("number").nullable(),
    torSwitches: p.array().default([]),
    subnets: p.array().default([]),
    managementVlan: p.smallint().default(0),
    allowedTenantIds: p.array().default([]),
    description: p.text().default(""),
  },
});
export type Rack = InferEntity<typeof Rack>;

export const SlotGroup = defineEntity({
  name: "SlotGroup",
  properties: {
    ...resourceProperties(),
    name: p.string().length(63).unique(),
    description: p.text().default(""),
  },
});
export type SlotGroup = InferEntity<typeof SlotGroup>;

export const RackReservation = defineEntity({
  name: "RackReservation",
  properties: {
    id: resourceProperties().id,
    rackId: () => p.manyToOne(Rack).mapToPk().fieldName("rack_id").index(),
    firstPosition: p.smallint(),
    unitCount: p.smallint(),
    purpose: p.string().length(256),
    tenantId: p.uuid().nullable(),
    createdBy: p.string().length(128),
    createTime: resourceProperties().createTime,
  },
});
export type RackReservation = InferEntity<typeof RackReservation>;

/** One unit slot. Rows exist for every position of every rack, so a status change is a row
 * update guarded in SQL (no gaps to race on). */
export const RackUnit = defineEntity({
  name: "RackUnit",
  uniques: [{ properties: ["rackId", "position"] }],
  properties: {
    id: resourceProperties().id,
    version: resourceProperties().version,
    updateTime: resourceProperties().updateTime,
    rackId: () => p.manyToOne(Rack).mapToPk().fieldName("rack_id"),
    position: p.smallint(),
    status: p.string().length(16).$type<RackUnitStatus>(),
    switchPort: p.string().length(128).default(""),
    vlan: p.smallint().default(0),
    addresses: p.array().default([]),
    slotGroupId: () => p.manyToOne(SlotGroup).mapToPk().fieldName("slot_group_id").nullable().index(),
    allowedTenantIds: p.array().default([]),
    reservationId: () => p.manyToOne(RackReservation).mapToPk().fieldName("reservation_id").nullable().index(),
    /** The host mounted here, when OCCUPIED. A plain id (not a relation) because hosts reference
     * racks; the host's own placement is the source, kept in step in the same transactions. */
    baremetalId: p.uuid().nullable().index(),
    faultReason: p.string().length(512).default(""),
  },
});
export type RackUnit = InferEntity<typeof RackUnit>;
