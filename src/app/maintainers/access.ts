// Who may read and change who-maintains-what (MNT-1..4). Maintainers are platform data: platform
// admins and backend services change them; every authenticated role except agents reads them.
// Tenant principals additionally see only the resources they may see (resources.ts, tenantVisible).
import { requireRole, type Principal, type Role } from "../../domain/principal.js";
import type { ResourceAccess } from "../standard-resource.js";

export const maintainerWriters: readonly Role[] = ["PLATFORM_ADMIN", "SERVICE"];
/** Agents act on jobs; they have no business browsing who maintains what. */
export const maintainerReaders: readonly Role[] = ["PLATFORM_ADMIN", "SERVICE", "TENANT_ADMIN", "TENANT_MEMBER"];

export function requireMaintainerRead(principal: Principal): void {
  requireRole(principal, maintainerReaders, "read maintainers");
}

export function requireMaintainerWrite(principal: Principal): void {
  requireRole(principal, maintainerWriters, "change maintainers");
}

export const maintainerAccess: ResourceAccess = { read: requireMaintainerRead, write: requireMaintainerWrite };
