// The fields ListRacks may filter on (AIP-160), mapped to entity properties. The standard
// inventory resources declare theirs with the resource (regions.ts …).
import type { FilterSchema } from "../../domain/filter.js";
import { field, resourceTimes } from "../../domain/filter-schema.js";
import { rackStatuses } from "../../domain/inventory.js";

export const rackFilter: FilterSchema = {
  id: field.uuid("id"),
  name: field.string("name"),
  room_id: field.uuid("roomId"),
  datacenter_id: field.uuid("datacenterId"),
  region_id: field.uuid("regionId"),
  status: field.enum("RACK_STATUS_", rackStatuses, "status"),
  height_units: field.integer("heightUnits"),
  asn: field.integer("asn"),
  "network.tor_switches": field.stringList("torSwitches"),
  "network.management_vlan": field.integer("managementVlan"),
  allowed_tenant_ids: field.stringList("allowedTenantIds"),
  description: field.string("description"),
  ...resourceTimes,
};
