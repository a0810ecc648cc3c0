// Who is calling, and the role rules that decide what they may do (API-6).
import { PermissionDeniedError } from "./errors.js";

export const roles = ["PLATFORM_ADMIN", "TENANT_ADMIN", "TENANT_MEMBER", "SERVICE", "AGENT"] as const;
export type Role = (typeof roles)[number];

export interface Principal {
  /** The principal's name, e.g. "alice" or "vm-service". */
  readonly name: string;
  readonly role: Role;
  /** Set exactly for tenant roles. */
  readonly tenantId: string | undefined;
  /** The token presented; empty for the server's own work. */
  readonly tokenId: string;
  /** For an agent token confined to part of the fleet: where it may work (domain/agent-scope.ts).
   * Absent means the whole fleet. */
  readonly agentScope?: AgentTokenScope;
}

/** The part of the fleet an agent token is confined to, set by the admin who issued it. Each
 * non-empty list restricts; empty lists do not. */
export interface AgentTokenScope {
  readonly datacenterIds: readonly string[];
  readonly groupIds: readonly string[];
  readonly jobKinds: readonly string[];
}

export function isTenantRole(role: Role): boolean {
  return role === "TENANT_ADMIN" || role === "TENANT_MEMBER";
}

/** Refuses unless the principal holds one of the roles. */
export function requireRole(principal: Principal, allowed: readonly Role[], action: string): void {
  if (!allowed.includes(principal.role)) {
    throw new PermissionDeniedError("ROLE_NOT_ALLOWED", `role ${principal.role} may not ${action}`, {
      role: principal.role,
      allowed_roles: allowed.join(","),
    });
  }
}

/** Inventory (regions … unit slots) is platform data: operators and backend services change it. */
export const inventoryWriters: readonly Role[] = ["PLATFORM_ADMIN", "SERVICE"];
/** Agents act on jobs; they have no business browsing the inventory. */
export const inventoryReaders: readonly Role[] = ["PLATFORM_ADMIN", "SERVICE", "TENANT_ADMIN", "TENANT_MEMBER"];
