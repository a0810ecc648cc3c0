// A host's effective capacity — what the scheduler may hand out — is (capacity − the group's
// reserve per host) × the group's allocation ratio, per resource, never below zero; hosts without a
// group count at face value. This is the one place that formula is written: every change to a host's
// capacity or group, or to a group's policy, calls this in its own transaction, and the row locks of
// the UPDATE serialise it with placements on the same hosts.
import type { EntityManager } from "@mikro-orm/postgresql";

export async function refreshEffectiveCapacity(
  em: EntityManager,
  scope: { readonly baremetalIds: readonly string[] } | { readonly groupId: string },
  /** Groups whose totals changed besides the hosts' current ones (a host that left a group). */
  formerGroupIds: readonly (string | null | undefined)[] = [],
): Promise<void> {
  const [condition, parameter] =
    "groupId" in scope ? ["h.group_id = ?", scope.groupId] : ["h.id = any(array[?]::uuid[])", scope.baremetalIds];
  if (Array.isArray(parameter) && parameter.length === 0) return;
  const updated = await em.execute<{ group_id: string | null }[]>(
    `update baremetal b
        set effective_cpu_cores = greatest(0, floor((h.cpu_cores - coalesce(g.reserved_cpu_cores, 0)) * coalesce(g.cpu_allocation_ratio, 1)))::int,
            effective_memory_mib = greatest(0, floor((h.memory_mib - coalesce(g.reserved_memory_mib, 0)) * coalesce(g.memory_allocation_ratio, 1)))::bigint,
            effective_storage_gib = greatest(0, floor((h.storage_gib - coalesce(g.reserved_storage_gib, 0)) * coalesce(g.storage_allocation_ratio, 1)))::bigint
       from baremetal h left join baremetal_group g on g.id = h.group_id
      where b.id = h.id and ${condition}
      returning b.group_id`,
    [parameter],
  );
  await refreshGroupTotals(em, [...updated.map((row) => row.group_id), ...formerGroupIds]);
}

/** Recomputes the groups' effective totals from their hosts. */
export async function refreshGroupTotals(em: EntityManager, groupIds: readonly (string | null | undefined)[]): Promise<void> {
  const ids = [...new Set(groupIds.filter((id): id is string => Boolean(id)))];
  if (ids.length === 0) return;
  await em.execute(
    `update baremetal_group g
        set effective_cpu_total = coalesce(t.cpu, 0), effective_memory_mib_total = coalesce(t.memory, 0), effective_storage_gib_total = coalesce(t.storage, 0)
       from baremetal_group g2 left join lateral (
              select sum(effective_cpu_cores) as cpu, sum(effective_memory_mib) as memory, sum(effective_storage_gib) as storage
                from baremetal where group_id = g2.id) t on true
      where g.id = g2.id and g.id = any(array[?]::uuid[])`,
    [ids],
  );
}
