// Inventory: domain ⇄ proto.
import { create } from "@bufbuild/protobuf";
import {
  DatacenterSchema,
  RackLoadSummarySchema,
  RackReservationSchema,
  RackSchema,
  RackStatus,
  RackUnitSchema,
  RackUnitStatus,
  RegionSchema,
  RoomSchema,
  SlotGroupSchema,
  type Datacenter as DatacenterMessage,
  type Rack as RackMessage,
  type RackUnit as RackUnitMessage,
} from "../../gen/es/rackplane/v1/inventory_pb.js";
import type { DatacenterFields } from "../app/inventory/datacenters.js";
import type { RackFields } from "../app/inventory/racks.js";
import { Health } from "../../gen/es/rackplane/v1/observation_pb.js";
import { etagOf } from "../domain/etag.js";
import { observationMessage } from "./observation-mapping.js";
import type * as inventory from "../domain/inventory.js";
import { resourceFields, timestamp } from "./convert.js";

export function regionMessage(region: inventory.Region) {
  return create(RegionSchema, {
    id: region.id,
    name: region.name,
    description: region.description,
    ...resourceFields(region),
  });
}

export function datacenterMessage(datacenter: inventory.Datacenter) {
  return create(DatacenterSchema, {
    id: datacenter.id,
    name: datacenter.name,
    regionId: datacenter.regionId,
    location: {
      address: datacenter.address,
      city: datacenter.city,
      countryCode: datacenter.countryCode,
      latitude: datacenter.latitude,
      longitude: datacenter.longitude,
    },
    description: datacenter.description,
    ...resourceFields(datacenter),
  });
}

export function datacenterFields(message: DatacenterMessage): DatacenterFields {
  return { regionId: message.regionId, name: message.name, description: message.description, ...locationFields(message) };
}

export function locationFields(message: DatacenterMessage): inventory.Location {
  const location = message.location;
  return {
    address: location?.address ?? "",
    city: location?.city ?? "",
    countryCode: location?.countryCode ?? "",
    latitude: location?.latitude ?? 0,
    longitude: location?.longitude ?? 0,
  };
}

export function roomMessage(room: inventory.Room) {
  return create(RoomSchema, {
    id: room.id,
    name: room.name,
    datacenterId: room.datacenterId,
    regionId: room.regionId,
    description: room.description,
    ...resourceFields(room),
  });
}

export function rackMessage(rack: inventory.Rack) {
  return create(RackSchema, {
    id: rack.id,
    name: rack.name,
    roomId: rack.roomId,
    datacenterId: rack.datacenterId,
    regionId: rack.regionId,
    status: RackStatus[rack.status],
    heightUnits: rack.heightUnits,
    asn: rack.asn ?? 0,
    network: { torSwitches: rack.torSwitches, subnets: rack.subnets, managementVlan: rack.managementVlan },
    allowedTenantIds: rack.allowedTenantIds,
    description: rack.description,
    ...resourceFields(rack),
  });
}

export function rackStatus(status: RackStatus): inventory.RackStatus {
  return status === RackStatus.UNSPECIFIED ? "ACTIVE" : (RackStatus[status] as inventory.RackStatus);
}

export function rackFields(message: RackMessage): RackFields {
  return {
    name: message.name,
    roomId: message.roomId,
    status: rackStatus(message.status),
    heightUnits: message.heightUnits,
    asn: message.asn === 0 ? null : message.asn,
    ...rackNetwork(message),
    allowedTenantIds: ids(message.allowedTenantIds),
    description: message.description,
  };
}

/** UUIDs are compared as text in tenant lists: store them in one spelling. */
export function ids(values: readonly string[]): string[] {
  return values.map((value) => value.toLowerCase());
}

export function rackNetwork(message: RackMessage): inventory.RackNetwork {
  return {
    torSwitches: message.network?.torSwitches ?? [],
    subnets: message.network?.subnets ?? [],
    managementVlan: message.network?.managementVlan ?? 0,
  };
}

export function rackUnitMessage(unit: inventory.RackUnit & { occupant?: inventory.RackUnitOccupant | undefined }) {
  return create(RackUnitSchema, {
    rackId: unit.rackId,
    position: unit.position,
    status: RackUnitStatus[unit.status],
    network: { switchPort: unit.switchPort, vlan: unit.vlan, addresses: unit.addresses },
    slotGroupId: unit.slotGroupId ?? "",
    allowedTenantIds: unit.allowedTenantIds,
    occupant: unit.occupant && {
      kind: unit.occupant.kind,
      id: unit.occupant.id,
      label: unit.occupant.label,
      health: unit.occupant.health ? Health[unit.occupant.health] : Health.UNSPECIFIED,
      observation: observationMessage(unit.occupant.observation),
    },
    faultReason: unit.faultReason,
    etag: etagOf(unit.version),
    updateTime: timestamp(unit.updateTime),
  });
}

export function rackUnitNetwork(message: RackUnitMessage): inventory.RackUnitNetwork {
  return {
    switchPort: message.network?.switchPort ?? "",
    vlan: message.network?.vlan ?? 0,
    addresses: message.network?.addresses ?? [],
  };
}

export function reservationMessage(reservation: inventory.RackReservation) {
  return create(RackReservationSchema, {
    id: reservation.id,
    rackId: reservation.rackId,
    firstPosition: reservation.firstPosition,
    unitCount: reservation.unitCount,
    purpose: reservation.purpose,
    tenantId: reservation.tenantId ?? "",
    createdBy: reservation.createdBy,
    createTime: timestamp(reservation.createTime),
  });
}

export function loadMessage(load: inventory.RackLoadSummary) {
  return create(RackLoadSummarySchema, {
    ...load,
    cpuCoresCapacity: BigInt(load.cpuCoresCapacity),
    cpuCoresAllocated: BigInt(load.cpuCoresAllocated),
    memoryMibCapacity: BigInt(load.memoryMibCapacity),
    memoryMibAllocated: BigInt(load.memoryMibAllocated),
    storageGibCapacity: BigInt(load.storageGibCapacity),
    storageGibAllocated: BigInt(load.storageGibAllocated),
    memoryMibUsed: BigInt(Math.round(load.memoryMibUsed)),
    storageGibUsed: BigInt(Math.round(load.storageGibUsed)),
  });
}

export function slotGroupMessage(group: inventory.SlotGroup) {
  return create(SlotGroupSchema, {
    id: group.id,
    name: group.name,
    description: group.description,
    ...resourceFields(group),
  });
}
