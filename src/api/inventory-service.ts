// rackplane.v1.InventoryService: maps requests to use cases and results back. No rules here. The
// standard resources' five methods come from their declarations (standard-handlers.ts).
import type { ServiceImpl } from "@connectrpc/connect";
import type { InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import type { Database } from "../app/database.js";
import { datacenters } from "../app/inventory/datacenters.js";
import * as rackUnits from "../app/inventory/rack-units.js";
import * as racks from "../app/inventory/racks.js";
import { regions } from "../app/inventory/regions.js";
import { rooms } from "../app/inventory/rooms.js";
import { slotGroups } from "../app/inventory/slot-groups.js";
import { hostHandlers, hostTargets } from "./host-service.js";
import type { ObservationSettings } from "../app/observations/latest.js";
import { at, byId, creates, reads, type TargetRules } from "./request-targets.js";
import { standardHandlers, standardTargets } from "./standard-handlers.js";
import { callContext, listRequest, maskedPatch, nameAndDescription, required } from "./convert.js";
import {
  datacenterFields,
  datacenterMessage,
  ids,
  loadMessage,
  locationFields,
  rackFields,
  rackMessage,
  rackNetwork,
  rackStatus,
  rackUnitMessage,
  rackUnitNetwork,
  regionMessage,
  reservationMessage,
  roomMessage,
  slotGroupMessage,
} from "./inventory-mapping.js";

export function inventoryService(db: Database, observations: ObservationSettings): ServiceImpl<typeof InventoryService> {
  return {
    ...hostHandlers(db, observations),
    ...standardHandlers(db, regions, {
      noun: "Region",
      field: "region",
      listField: "regions",
      message: regionMessage,
      ...nameAndDescription("region"),
    }),
    ...standardHandlers(db, datacenters, {
      noun: "Datacenter",
      field: "datacenter",
      listField: "datacenters",
      message: datacenterMessage,
      fields: datacenterFields,
      updatable: (datacenter) => {
        const location = locationFields(datacenter);
        return {
          name: () => ({ name: required("datacenter.name", datacenter.name) }),
          description: () => ({ description: datacenter.description }),
          location: () => location,
          "location.address": () => ({ address: location.address }),
          "location.city": () => ({ city: location.city }),
          "location.country_code": () => ({ countryCode: location.countryCode }),
          "location.latitude": () => ({ latitude: location.latitude }),
          "location.longitude": () => ({ longitude: location.longitude }),
        };
      },
    }),
    ...standardHandlers(db, rooms, {
      noun: "Room",
      field: "room",
      listField: "rooms",
      message: roomMessage,
      ...nameAndDescription("room"),
      fields: (room) => ({ datacenterId: room.datacenterId, name: room.name, description: room.description }),
    }),
    ...standardHandlers(db, slotGroups, {
      noun: "SlotGroup",
      field: "slotGroup",
      listField: "slotGroups",
      message: slotGroupMessage,
      ...nameAndDescription("slot_group"),
    }),

    async createRack(req, ctx) {
      return { rack: rackMessage(await racks.createRack(db, callContext(ctx), rackFields(req.rack!), req.requestId)) };
    },
    async getRack(req, ctx) {
      return { rack: rackMessage(await racks.getRack(db, callContext(ctx), req.id)) };
    },
    async listRacks(req, ctx) {
      const page = await racks.listRacks(db, callContext(ctx), listRequest(req));
      return { racks: page.items.map(rackMessage), nextPageToken: page.nextPageToken };
    },
    async updateRack(req, ctx) {
      const rack = req.rack!;
      const network = rackNetwork(rack);
      const patch = maskedPatch<racks.RackFields>(req.updateMask, {
        name: () => ({ name: required("rack.name", rack.name) }),
        room_id: () => ({ roomId: required("rack.room_id", rack.roomId) }),
        status: () => ({ status: rackStatus(rack.status) }),
        height_units: () => ({ heightUnits: required("rack.height_units", rack.heightUnits) }),
        asn: () => ({ asn: rack.asn === 0 ? null : rack.asn }),
        network: () => network,
        "network.tor_switches": () => ({ torSwitches: network.torSwitches }),
        "network.subnets": () => ({ subnets: network.subnets }),
        "network.management_vlan": () => ({ managementVlan: network.managementVlan }),
        allowed_tenant_ids: () => ({ allowedTenantIds: ids(rack.allowedTenantIds) }),
        description: () => ({ description: rack.description }),
      });
      return { rack: rackMessage(await racks.updateRack(db, callContext(ctx), rack.id, rack.etag, patch)) };
    },
    async deleteRack(req, ctx) {
      await racks.deleteRack(db, callContext(ctx), req.id, req.etag, req.force);
      return {};
    },

    async getRackElevation(req, ctx) {
      const elevation = await racks.getRackElevation(db, callContext(ctx), req.rackId, observations);
      return {
        rack: rackMessage(elevation.rack),
        units: elevation.units.map(rackUnitMessage),
        reservations: elevation.reservations.map(reservationMessage),
        load: loadMessage(elevation.load),
      };
    },
    async updateRackUnit(req, ctx) {
      const unit = req.unit!;
      const network = rackUnitNetwork(unit);
      const patch = maskedPatch<rackUnits.RackUnitFields>(req.updateMask, {
        network: () => network,
        "network.switch_port": () => ({ switchPort: network.switchPort }),
        "network.vlan": () => ({ vlan: network.vlan }),
        "network.addresses": () => ({ addresses: network.addresses }),
        slot_group_id: () => ({ slotGroupId: unit.slotGroupId || null }),
        allowed_tenant_ids: () => ({ allowedTenantIds: ids(unit.allowedTenantIds) }),
      });
      const updated = await rackUnits.updateRackUnit(db, callContext(ctx), unit.rackId, unit.position, unit.etag, patch);
      return { unit: rackUnitMessage(updated) };
    },
    async reserveRackUnits(req, ctx) {
      const reservation = await rackUnits.reserveRackUnits(
        db,
        callContext(ctx),
        {
          rackId: req.rackId,
          range: { first: req.firstPosition, count: req.unitCount },
          purpose: req.purpose,
          tenantId: req.tenantId.toLowerCase() || null,
        },
        req.requestId,
      );
      return { reservation: reservationMessage(reservation) };
    },
    async releaseRackUnits(req, ctx) {
      await rackUnits.releaseRackUnits(db, callContext(ctx), req.reservationId);
      return {};
    },
    async setRackUnitsFaulty(req, ctx) {
      const units = await rackUnits.setRackUnitsFaulty(
        db,
        callContext(ctx),
        req.rackId,
        { first: req.firstPosition, count: req.unitCount },
        req.faulty,
        req.reason,
      );
      return { units: units.map((unit) => rackUnitMessage(unit)) };
    },
  };
}

export const inventoryTargets: TargetRules<typeof InventoryService> = {
  ...standardTargets(regions, "Region", "region"),
  ...standardTargets(datacenters, "Datacenter", "datacenter"),
  ...standardTargets(rooms, "Room", "room"),
  ...standardTargets(slotGroups, "SlotGroup", "slotGroup"),
  createRack: creates("rack"),
  getRack: reads,
  listRacks: reads,
  updateRack: at("rack", (request) => request.rack?.id),
  deleteRack: byId("rack"),
  getRackElevation: reads,
  updateRackUnit: at("rack", (request) => request.unit?.rackId),
  reserveRackUnits: creates("rack_reservation"),
  releaseRackUnits: at("rack_reservation", (request) => request.reservationId),
  setRackUnitsFaulty: at("rack", (request) => request.rackId),
  ...hostTargets,
};
