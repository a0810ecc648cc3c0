// Who may read and change the inventory. Tenant principals read the hierarchy (regions,
// datacenters, rooms, slot groups) and only the racks that list their tenant; the rest is refused
// or hidden as NOT_FOUND, so a tenant learns nothing about racks it may not use.
import type { FilterQuery } from "@mikro-orm/postgresql";
import { inventoryReaders, inventoryWriters, isTenantRole, requireRole, type Principal } from "../../domain/principal.js";
import type { Rack } from "../../domain/inventory.js";
import type { Rack as RackEntity } from "../../persistence/entities/index.js";
import type { ResourceAccess } from "../standard-resource.js";

export function requireInventoryRead(principal: Principal): void {
  requireRole(principal, inventoryReaders, "read the inventory");
}

export function requireInventoryWrite(principal: Principal): void {
  requireRole(principal, inventoryWriters, "change the inventory");
}

/** The inventory's standard resources (regions, datacenters, rooms, slot groups). */
export const inventoryAccess: ResourceAccess = { read: requireInventoryRead, write: requireInventoryWrite };

/** The racks a principal may see, as a query condition; undefined means all of them. */
export function visibleRacks(principal: Principal): FilterQuery<RackEntity> | undefined {
  if (!isTenantRole(principal.role)) return undefined;
  return { allowedTenantIds: { $contains: [principal.tenantId ?? ""] } };
}

export function mayViewRack(principal: Principal, rack: Pick<Rack, "allowedTenantIds">): boolean {
  return !isTenantRole(principal.role) || rack.allowedTenantIds.includes(principal.tenantId ?? "");
}
