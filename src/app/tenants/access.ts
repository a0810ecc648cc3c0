// Who may read and change tenants. Platform admins manage every tenant; backend services read them
// all; a tenant's own principals read only their tenant, and any other tenant is NOT_FOUND to them,
// exactly as one that does not exist. Agents have no business with tenants.
import type { FilterQuery } from "@mikro-orm/postgresql";
import { NotFoundError } from "../../domain/errors.js";
import { isTenantRole, requireRole, type Principal, type Role } from "../../domain/principal.js";
import type { Tenant as TenantEntity } from "../../persistence/entities/index.js";

export const tenantReaders: readonly Role[] = ["PLATFORM_ADMIN", "SERVICE", "TENANT_ADMIN", "TENANT_MEMBER"];
export const tenantWriters: readonly Role[] = ["PLATFORM_ADMIN"];

export function requireTenantRead(principal: Principal): void {
  requireRole(principal, tenantReaders, "read tenants");
}

export function requireTenantWrite(principal: Principal, action: string): void {
  requireRole(principal, tenantWriters, action);
}

/** NOT_FOUND for a tenant principal naming another tenant; nothing for everyone else. */
export function requireTenantVisible(principal: Principal, id: string): void {
  if (isTenantRole(principal.role) && id.toLowerCase() !== (principal.tenantId ?? "").toLowerCase()) throw new NotFoundError("tenant", id);
}

/** The tenants a principal may list, as a query condition; undefined means all of them. */
export function visibleTenants(principal: Principal): FilterQuery<TenantEntity> | undefined {
  if (!isTenantRole(principal.role)) return undefined;
  return { id: principal.tenantId ?? "00000000-0000-0000-0000-000000000000" };
}
