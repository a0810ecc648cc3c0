// What a tenant owns (TEN-3): a tenant is deleted only when every counter here reads zero. Each kind
// of resource a tenant can own is one entry; VMs, clusters and quotas add one line each.
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError } from "../../domain/errors.js";
import { BaremetalGroupTenantQuota, RackReservation } from "../../persistence/entities/index.js";
import { liveVirtualMachines } from "../compute/history.js";

export interface OwnedCount {
  /** Stable snake_case key: the ErrorInfo metadata key of TENANT_HAS_RESOURCES. */
  readonly kind: string;
  readonly count: number;
}

interface OwnedKind {
  readonly kind: string;
  /** How the message names them: "2 rack reservation(s)". */
  readonly label: string;
  count(em: EntityManager, tenantId: string): Promise<number>;
}

const ownedKinds: readonly OwnedKind[] = [
  { kind: "rack_reservations", label: "rack reservation(s)", count: (em, tenantId) => em.count(RackReservation, { tenantId }) },
  { kind: "quotas", label: "quota(s)", count: (em, tenantId) => em.count(BaremetalGroupTenantQuota, { tenantId }) },
  { kind: "virtual_machines", label: "virtual machine(s)", count: (em, tenantId) => liveVirtualMachines(em, "tenant_id", tenantId) },
];

/** Every kind, counted inside the caller's transaction (after it locked the tenant row). */
export async function countOwned(em: EntityManager, tenantId: string): Promise<OwnedCount[]> {
  const counts: OwnedCount[] = [];
  for (const owned of ownedKinds) counts.push({ kind: owned.kind, count: await owned.count(em, tenantId) });
  return counts;
}

/** FAILED_PRECONDITION / TENANT_HAS_RESOURCES when any count is not zero. */
export function requireOwnsNothing(tenant: { id: string; name: string }, counts: readonly OwnedCount[]): void {
  const held = counts.filter((owned) => owned.count > 0);
  if (held.length === 0) return;
  const labels = new Map(ownedKinds.map((owned) => [owned.kind, owned.label]));
  const listed = held.map((owned) => `${owned.count} ${labels.get(owned.kind) ?? owned.kind}`).join(", ");
  throw new FailedPreconditionError("TENANT_HAS_RESOURCES", `tenant ${tenant.name} still owns ${listed}; release or delete them first`, {
    tenant_id: tenant.id,
    ...Object.fromEntries(counts.map((owned) => [owned.kind, String(owned.count)])),
  });
}
