// The resource registry (MNT-3): what a ResourceRef's `type` may name, where resources of that kind
// live and what their name is. An assignment stores only (resource_type, resource_id), so a new kind
// of resource — virtual_machine, k8s_cluster — needs one line here and no schema change:
//
//   virtual_machine: { table: "virtual_machine", label: "name", tenantVisible: "t.tenant_id = ?::uuid" },
//
// and its delete use case calls removeAssignments(em, "virtual_machine", [id]) in its transaction.
// Table and column names below are trusted SQL (never user input): a request's type is looked up
// here before it is used, and an unknown one is refused.
import { readBound } from "../../persistence/reads.js";
import type { EntityManager } from "@mikro-orm/postgresql";
import { InvalidArgumentError, NotFoundError } from "../../domain/errors.js";
import { isTenantRole, type Principal } from "../../domain/principal.js";

export interface ResourceKind {
  /** The table holding resources of this kind; its primary key is `id` (uuid). */
  readonly table: string;
  /** The column shown as MaintainedResource.resource_name. */
  readonly label: string;
  /**
   * For kinds a tenant principal sees only in part: an SQL condition on the kind's row, aliased
   * `t`, with one `?` for the tenant id. Omitted: every tenant principal sees every resource of
   * the kind (the inventory hierarchy). Must say what the kind's own Get says (security.md).
   */
  readonly tenantVisible?: string;
}

/** Racks tenants may use, as src/app/inventory/access.ts decides (allowed_tenant_ids); hosts are
 * visible with their rack. */
const tenantMayUseRack = "t.allowed_tenant_ids @> array[?]::text[]";

const registry: Readonly<Record<string, ResourceKind>> = {
  region: { table: "region", label: "name" },
  datacenter: { table: "datacenter", label: "name" },
  room: { table: "room", label: "name" },
  rack: { table: "rack", label: "name", tenantVisible: tenantMayUseRack },
  baremetal: {
    table: "baremetal",
    label: "name",
    tenantVisible: "exists (select 1 from rack r where r.id = t.rack_id and r.allowed_tenant_ids @> array[?]::text[])",
  },
  baremetal_group: { table: "baremetal_group", label: "name" },
  virtual_machine: { table: "virtual_machine", label: "name", tenantVisible: "t.tenant_id = ?::uuid" },
  k8s_cluster: { table: "kubernetes_cluster", label: "name", tenantVisible: "t.tenant_id = ?::uuid" },
};

/** The registered kinds, in registry order. */
export function resourceTypes(): string[] {
  return Object.keys(registry);
}

/** The kind a type names; INVALID_ARGUMENT / UNKNOWN_RESOURCE_TYPE listing the known ones otherwise. */
export function resourceKind(type: string, field = "resource.type"): ResourceKind {
  if (Object.hasOwn(registry, type)) return registry[type]!;
  const known = resourceTypes().join(", ");
  throw new InvalidArgumentError(
    "UNKNOWN_RESOURCE_TYPE",
    `${field}: unknown resource type ${JSON.stringify(type.slice(0, 64))}; known types: ${known}`,
    [{ field, description: `must be one of: ${known}` }],
    { resource_type: type.slice(0, 64), known_types: resourceTypes().join(",") },
  );
}

/**
 * Checks that the resource exists (and that a tenant principal may see it: otherwise NOT_FOUND, as
 * for a resource that does not exist). With `lock`, the row is held FOR SHARE until the transaction
 * ends, so a concurrent delete of the resource waits for the new assignment and then removes it
 * too (removeAssignments runs after the delete has locked the resource).
 */
export async function requireResource(
  em: EntityManager,
  principal: Principal,
  type: string,
  id: string,
  options: { lock?: boolean; field?: string } = {},
): Promise<void> {
  const kind = resourceKind(type, options.field);
  const visible = visibility(kind, principal);
  const [row] = await readBound<{ id: string }>(
    em,
    `select t.id from ${kind.table} t where t.id = ? and ${visible.sql}${options.lock ? " for share of t" : ""}`,
    [id, ...visible.params],
  );
  if (!row) throw new NotFoundError(type, id);
}

/**
 * The names of the given resources, one query per kind (never one per resource). Kinds no longer
 * registered and resources without a row get no entry.
 */
export async function resourceNames(
  em: EntityManager,
  refs: ReadonlyArray<{ readonly resourceType: string; readonly resourceId: string }>,
): Promise<Map<string, string>> {
  const idsByType = new Map<string, Set<string>>();
  for (const ref of refs) {
    if (!Object.hasOwn(registry, ref.resourceType)) continue;
    let ids = idsByType.get(ref.resourceType);
    if (!ids) {
      ids = new Set();
      idsByType.set(ref.resourceType, ids);
    }
    ids.add(ref.resourceId);
  }
  const names = new Map<string, string>();
  await Promise.all(
    [...idsByType].map(async ([type, ids]) => {
      const kind = registry[type]!;
      const rows = await em.execute<{ id: string; label: string }[]>(
        `select t.id, t.${kind.label}::text as label from ${kind.table} t where t.id = any(array[?]::uuid[])`,
        [[...ids]],
      );
      for (const row of rows) names.set(nameKey(type, row.id), row.label);
    }),
  );
  return names;
}

export function nameKey(type: string, id: string): string {
  return `${type}/${id}`;
}

/**
 * For tenant principals: an SQL condition on an assignment row (alias `x`, columns resource_type
 * and resource_id) that holds when the tenant may see the assigned resource. `true` for everyone
 * else. Kinds without `tenantVisible` are visible to all.
 */
export function assignmentVisibility(principal: Principal): { sql: string; params: string[] } {
  if (!isTenantRole(principal.role)) return { sql: "true", params: [] };
  const parts: string[] = [];
  const params: string[] = [];
  for (const [type, kind] of Object.entries(registry)) {
    if (!kind.tenantVisible) continue;
    parts.push(`(x.resource_type <> ? or exists (select 1 from ${kind.table} t where t.id = x.resource_id and ${kind.tenantVisible}))`);
    params.push(type, principal.tenantId ?? "");
  }
  return parts.length === 0 ? { sql: "true", params: [] } : { sql: parts.join(" and "), params };
}

function visibility(kind: ResourceKind, principal: Principal): { sql: string; params: string[] } {
  if (!kind.tenantVisible || !isTenantRole(principal.role)) return { sql: "true", params: [] };
  return { sql: kind.tenantVisible, params: [principal.tenantId ?? ""] };
}

/**
 * Removes every assignment of the given resources. Deleting a resource calls this inside its own
 * transaction, after the resource rows are locked or deleted (so an assignment being created
 * concurrently either waits and is removed here, or finds the resource gone), so an assignment
 * never outlives its resource. Returns how many assignments were removed.
 */
export async function removeAssignments(em: EntityManager, resourceType: string, resourceIds: readonly string[]): Promise<number> {
  if (!Object.hasOwn(registry, resourceType))
    throw new Error(`removeAssignments: ${JSON.stringify(resourceType)} is not a registered resource type`);
  if (resourceIds.length === 0) return 0;
  const removed = await em.execute<{ id: string }[]>(
    `delete from resource_maintainer where resource_type = ? and resource_id = any(array[?]::uuid[]) returning id`,
    [resourceType, [...resourceIds]],
  );
  return removed.length;
}

/**
 * removeAssignments for resources chosen by a sub-select (`select id from … where …`, trusted SQL
 * with its own parameters) rather than listed: a purge of many rows never ships their ids back and
 * forth. Returns how many assignments were removed.
 */
export async function removeSelectedAssignments(
  em: EntityManager,
  resourceType: string,
  selectIds: string,
  params: readonly unknown[],
): Promise<number> {
  if (!Object.hasOwn(registry, resourceType))
    throw new Error(`removeSelectedAssignments: ${JSON.stringify(resourceType)} is not a registered resource type`);
  const [row] = await em.execute<{ n: number }[]>(
    `with gone as (delete from resource_maintainer where resource_type = ? and resource_id in (${selectIds}) returning 1)
     select count(*)::int as n from gone`,
    [resourceType, ...params],
  );
  return row?.n ?? 0;
}
