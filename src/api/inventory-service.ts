// rackplane.v1.InventoryService: maps requests to use cases and results back. No rules here.
import type { ServiceImpl } from "@connectrpc/connect";
import type { InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import type { Database } from "../app/database.js";
import * as datacenters from "../app/inventory/datacenters.js";
import * as rackUnits from "../app/inventory/rack-units.js";
import * as racks from "../app/inventory/racks.js";
import * as regions from "../app/inventory/regions.js";
import * as rooms from "../app/inventory/rooms.js";
import * as slotGroups from "../app/inventory/slot-groups.js";
import { callContext, listRequest, maskedPatch, required } from "./convert.js";
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

export function inventoryService(db: Database): Partial<ServiceImpl<typeof InventoryService>> {
  return {
    async createRegion(req, ctx) {
      const region = req.region!;
      return {
        region: regionMessage(
          await regions.createRegion(db, callContext(ctx), { name: region.name, description: region.description }, req.requestId),
        ),
      };
    },
    async getRegion(req, ctx) {
      return { region: regionMessage(await regions.getRegion(db, callContext(ctx), req.id)) };
    },
    async listRegions(req, ctx) {
      const page = await regions.listRegions(db, callContext(ctx), listRequest(req));
      return { regions: page.items.map(regionMessage), nextPageToken: page.nextPageToken };
    },
    async updateRegion(req, ctx) {
      const region = req.region!;
      const patch = maskedPatch<regions.RegionFields>(req.updateMask, {
        name: () => ({ name: required("region.name", region.name) }),
        description: () => ({ description: region.description }),
      });
      return { region: regionMessage(await regions.updateRegion(db, callContext(ctx), region.id, region.etag, patch)) };
    },
    async deleteRegion(req, ctx) {
      await regions.deleteRegion(db, callContext(ctx), req.id, req.etag, req.force);
      return {};
    },

    async createDatacenter(req, ctx) {
      const datacenter = req.datacenter!;
      const created = await datacenters.createDatacenter(
        db,
        callContext(ctx),
        datacenter.regionId,
        datacenterFields(datacenter),
        req.requestId,
      );
      return { datacenter: datacenterMessage(created) };
    },
    async getDatacenter(req, ctx) {
      return { datacenter: datacenterMessage(await datacenters.getDatacenter(db, callContext(ctx), req.id)) };
    },
    async listDatacenters(req, ctx) {
      const page = await datacenters.listDatacenters(db, callContext(ctx), listRequest(req));
      return { datacenters: page.items.map(datacenterMessage), nextPageToken: page.nextPageToken };
    },
    async updateDatacenter(req, ctx) {
      const datacenter = req.datacenter!;
      const location = locationFields(datacenter);
      const patch = maskedPatch<datacenters.DatacenterFields>(req.updateMask, {
        name: () => ({ name: required("datacenter.name", datacenter.name) }),
        description: () => ({ description: datacenter.description }),
        location: () => location,
        "location.address": () => ({ address: location.address }),
        "location.city": () => ({ city: location.city }),
        "location.country_code": () => ({ countryCode: location.countryCode }),
        "location.latitude": () => ({ latitude: location.latitude }),
        "location.longitude": () => ({ longitude: location.longitude }),
      });
      return {
        datacenter: datacenterMessage(await datacenters.updateDatacenter(db, callContext(ctx), datacenter.id, datacenter.etag, patch)),
      };
    },
    async deleteDatacenter(req, ctx) {
      await datacenters.deleteDatacenter(db, callContext(ctx), req.id, req.etag, req.force);
      return {};
    },

    async createRoom(req, ctx) {
      const room = req.room!;
      const created = await rooms.createRoom(
        db,
        callContext(ctx),
        room.datacenterId,
        { name: room.name, description: room.description },
        req.requestId,
      );
      return { room: roomMessage(created) };
    },
    async getRoom(req, ctx) {
      return { room: roomMessage(await rooms.getRoom(db, callContext(ctx), req.id)) };
    },
    async listRooms(req, ctx) {
      const page = await rooms.listRooms(db, callContext(ctx), listRequest(req));
      return { rooms: page.items.map(roomMessage), nextPageToken: page.nextPageToken };
    },
    async updateRoom(req, ctx) {
      const room = req.room!;
      const patch = maskedPatch<rooms.RoomFields>(req.updateMask, {
        name: () => ({ name: required("room.name", room.name) }),
        description: () => ({ description: room.description }),
      });
      return { room: roomMessage(await rooms.updateRoom(db, callContext(ctx), room.id, room.etag, patch)) };
    },
    async deleteRoom(req, ctx) {
      await rooms.deleteRoom(db, callContext(ctx), req.id, req.etag, req.force);
      return {};
    },

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
      const elevation = await racks.getRackElevation(db, callContext(ctx), req.rackId);
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

    async createSlotGroup(req, ctx) {
      const group = req.slotGroup!;
      return {
        slotGroup: slotGroupMessage(
          await slotGroups.createSlotGroup(db, callContext(ctx), { name: group.name, description: group.description }, req.requestId),
        ),
      };
    },
    async getSlotGroup(req, ctx) {
      return { slotGroup: slotGroupMessage(await slotGroups.getSlotGroup(db, callContext(ctx), req.id)) };
    },
    async listSlotGroups(req, ctx) {
      const page = await slotGroups.listSlotGroups(db, callContext(ctx), listRequest(req));
      return { slotGroups: page.items.map(slotGroupMessage), nextPageToken: page.nextPageToken };
    },
    async updateSlotGroup(req, ctx) {
      const group = req.slotGroup!;
      const patch = maskedPatch<slotGroups.SlotGroupFields>(req.updateMask, {
        name: () => ({ name: required("slot_group.name", group.name) }),
        description: () => ({ description: group.description }),
      });
      return { slotGroup: slotGroupMessage(await slotGroups.updateSlotGroup(db, callContext(ctx), group.id, group.etag, patch)) };
    },
    async deleteSlotGroup(req, ctx) {
      await slotGroups.deleteSlotGroup(db, callContext(ctx), req.id, req.etag, req.force);
      return {};
    },
  };
}
