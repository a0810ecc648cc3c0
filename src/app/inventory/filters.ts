// The fields each inventory List may filter on (AIP-160), mapped to entity properties.
import type { FilterSchema } from "../../domain/filter.js";
import { rackStatuses } from "../../domain/inventory.js";

const string = { kind: "string" } as const;
const integer = { kind: "integer" } as const;
const timestamp = { kind: "timestamp" } as const;
const id = { kind: "uuid" } as const;

const times: FilterSchema = {
  create_time: { type: timestamp, property: "createTime" },
  update_time: { type: timestamp, property: "updateTime" },
};

export const regionFilter: FilterSchema = {
  id: { type: id, property: "id" },
  name: { type: string, property: "name" },
  description: { type: string, property: "description" },
  ...times,
};

export const datacenterFilter: FilterSchema = {
  id: { type: id, property: "id" },
  name: { type: string, property: "name" },
  region_id: { type: id, property: "regionId" },
  "location.city": { type: string, property: "city" },
  "location.country_code": { type: string, property: "countryCode" },
  description: { type: string, property: "description" },
  ...times,
};

export const roomFilter: FilterSchema = {
  id: { type: id, property: "id" },
  name: { type: string, property: "name" },
  datacenter_id: { type: id, property: "datacenterId" },
  region_id: { type: id, property: "regionId" },
  description: { type: string, property: "description" },
  ...times,
};

/** RACK_STATUS_ACTIVE and ACTIVE both name the stored "ACTIVE". */
export function enumValues(prefix: string, values: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    values.flatMap((value) => [
      [`${prefix}${value}`, value],
      [value, value],
    ]),
  );
}

export const rackFilter: FilterSchema = {
  id: { type: id, property: "id" },
  name: { type: string, property: "name" },
  room_id: { type: id, property: "roomId" },
  datacenter_id: { type: id, property: "datacenterId" },
  region_id: { type: id, property: "regionId" },
  status: { type: { kind: "enum", values: enumValues("RACK_STATUS_", rackStatuses) }, property: "status" },
  height_units: { type: integer, property: "heightUnits" },
  asn: { type: integer, property: "asn" },
  "network.tor_switches": { type: { kind: "string_list" }, property: "torSwitches" },
  "network.management_vlan": { type: integer, property: "managementVlan" },
  allowed_tenant_ids: { type: { kind: "string_list" }, property: "allowedTenantIds" },
  description: { type: string, property: "description" },
  ...times,
};

export const slotGroupFilter: FilterSchema = {
  id: { type: id, property: "id" },
  name: { type: string, property: "name" },
  description: { type: string, property: "description" },
  ...times,
};
