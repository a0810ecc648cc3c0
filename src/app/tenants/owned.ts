// What deleting a tenant means (TEN-3), as two registries of kinds, one entry each:
// - `blockers`: what the tenant must no longer have — live VMs and clusters not yet DELETED. Any of
//   them refuses the delete.
// - `clearedWithTenant`: the tenant's own records, removed in the delete's transaction, in this
//   order, before the tenant row. Every table that names a tenant is here or is history on purpose
//   (audit_event, operation, job: see docs/tenants.md).
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError } from "../../domain/errors.js";
import {
  liveVirtualMachines,
  removeDeletedVirtualMachineAssignments,
  removeDeletedVirtualMachineRecords,
  removeDeletedVirtualMachines,
} from "../compute/history.js";
import { removeSelectedAssignments } from "../maintainers/resources.js";

export interface KindCount {
  /** Stable snake_case key: ErrorInfo metadata of TENANT_HAS_RESOURCES, or the audit detail. */
  readonly kind: string;
  readonly count: number;
}

interface Blocker {
  readonly kind: string;
  /** How the message names them: "2 live virtual machine(s)". */
  readonly label: string;
  count(em: EntityManager, tenantId: string): Promise<number>;
}

interface ClearedKind {
  readonly kind: string;
  /** Removes the tenant's rows of this kind; returns how many rows it removed or changed. */
  clear(em: EntityManager, tenantId: string): Promise<number>;
}

const blockers: readonly Blocker[] = [
  { kind: "virtual_machines", label: "live virtual machine(s)", count: (em, tenantId) => liveVirtualMachines(em, "tenant_id", tenantId) },
  { kind: "clusters", label: "Kubernetes cluster(s)", count: liveClusters },
];

const clearedWithTenant: readonly ClearedKind[] = [
  {
    // The units held go back to FREE, as ReleaseRackUnits would do.
    kind: "rack_reservations",
    clear: async (em, tenantId) => {
      await em.execute(
        `update rack_unit set status = 'FREE', reservation_id = null, version = version + 1, update_time = now()
          where status = 'RESERVED' and reservation_id in (select id from rack_reservation where tenant_id = ?)`,
        [tenantId],
      );
      return changed(em, "delete from rack_reservation where tenant_id = ?", [tenantId]);
    },
  },
  {
    // A rack left with an empty list is platform use only; a unit left empty falls back to its rack.
    kind: "rack_allowed_tenant_entries",
    clear: (em, tenantId) => forgetTenantIn(em, "rack", tenantId),
  },
  { kind: "unit_allowed_tenant_entries", clear: (em, tenantId) => forgetTenantIn(em, "rack_unit", tenantId) },
  // No live VM is left (a blocker), so nothing is reserved against these any more.
  { kind: "quotas", clear: (em, tenantId) => changed(em, "delete from baremetal_group_tenant_quota where tenant_id = ?", [tenantId]) },
  // The naming rule is columns of the tenant row; its counters are rows of their own.
  { kind: "name_sequences", clear: (em, tenantId) => changed(em, "delete from name_sequence where tenant_id = ?", [tenantId]) },
  // Deleted, not only revoked: the rows would name a tenant that no longer exists. The audit trail
  // keeps the principals' names on what they did.
  { kind: "tokens", clear: (em, tenantId) => changed(em, "delete from api_token where tenant_id = ?", [tenantId]) },
  // Only DELETED VMs are left (a blocker): their assignments and records go first, then the rows.
  { kind: "maintainer_assignments", clear: (em, tenantId) => removeDeletedVirtualMachineAssignments(em, "tenant_id", tenantId) },
  { kind: "scheduling_records", clear: (em, tenantId) => removeDeletedVirtualMachineRecords(em, "tenant_id", tenantId) },
  { kind: "deleted_virtual_machines", clear: (em, tenantId) => removeDeletedVirtualMachines(em, "tenant_id", tenantId) },
  // Only DELETED clusters are left (a blocker): their assignments, then the rows (their pools and
  // CAs go with them).
  {
    kind: "cluster_maintainer_assignments",
    clear: (em, tenantId) =>
      removeSelectedAssignments(em, "k8s_cluster", "select id from kubernetes_cluster where tenant_id = ?", [tenantId]),
  },
  { kind: "deleted_clusters", clear: (em, tenantId) => changed(em, "delete from kubernetes_cluster where tenant_id = ?", [tenantId]) },
  // Their bindings went with the clusters.
  { kind: "service_meshes", clear: (em, tenantId) => changed(em, "delete from service_mesh where tenant_id = ?", [tenantId]) },
];

/** Clusters of the tenant not yet DELETED (a creation holds the tenant FOR SHARE, the delete FOR UPDATE: neither slips past the other). */
async function liveClusters(em: EntityManager, tenantId: string): Promise<number> {
  const [row] = await em.execute<{ n: number }[]>(
    "select count(*)::int as n from kubernetes_cluster where tenant_id = ? and status <> 'DELETED'",
    [tenantId],
  );
  return row?.n ?? 0;
}

/** Every blocker, counted inside the caller's transaction (after it locked the tenant row). */
export async function countBlockers(em: EntityManager, tenantId: string): Promise<KindCount[]> {
  const counts: KindCount[] = [];
  for (const blocker of blockers) counts.push({ kind: blocker.kind, count: await blocker.count(em, tenantId) });
  return counts;
}

/** FAILED_PRECONDITION / TENANT_HAS_RESOURCES, naming each blocker and its count, when any is not zero. */
export function requireNoBlockers(tenant: { id: string; name: string }, counts: readonly KindCount[]): void {
  const held = counts.filter((blocker) => blocker.count > 0);
  if (held.length === 0) return;
  const labels = new Map(blockers.map((blocker) => [blocker.kind, blocker.label]));
  const listed = held.map((blocker) => `${blocker.count} ${labels.get(blocker.kind) ?? blocker.kind}`).join(", ");
  throw new FailedPreconditionError("TENANT_HAS_RESOURCES", `tenant ${tenant.name} still has ${listed}; delete them first`, {
    tenant_id: tenant.id,
    ...Object.fromEntries(counts.map((blocker) => [blocker.kind, String(blocker.count)])),
  });
}

/** Clears every kind, in order, inside the caller's transaction; returns what each removed. */
export async function clearWithTenant(em: EntityManager, tenantId: string): Promise<KindCount[]> {
  const counts: KindCount[] = [];
  for (const cleared of clearedWithTenant) counts.push({ kind: cleared.kind, count: await cleared.clear(em, tenantId) });
  return counts;
}

/** The audit detail of a delete: every kind with its count, zeros too, so the line always reads the same. */
export function clearedDetail(counts: readonly KindCount[]): string {
  return `cleared with the tenant: ${counts.map((cleared) => `${cleared.kind}=${cleared.count}`).join(", ")}`;
}

async function forgetTenantIn(em: EntityManager, table: "rack" | "rack_unit", tenantId: string): Promise<number> {
  return changed(
    em,
    `update ${table} set allowed_tenant_ids = array_remove(allowed_tenant_ids, ?), version = version + 1, update_time = now()
      where ? = any(allowed_tenant_ids)`,
    [tenantId, tenantId],
  );
}

/** Runs a delete or update and counts the rows it touched. */
async function changed(em: EntityManager, sql: string, params: unknown[]): Promise<number> {
  const [row] = await em.execute<{ n: number }[]>(`with touched as (${sql} returning 1) select count(*)::int as n from touched`, params);
  return row?.n ?? 0;
}
