// A host's effective capacity — what the scheduler may hand out — is (capacity − the group's
// reserve per host) × the group's allocation ratio, per resource, never below zero; hosts without a
// group count at face value. This is the one place that formula is written: every change to a host's
// capacity or group, or to a group's policy, calls this in its own transaction, and the row locks of
// the UPDATE serialise it with placements on the same hosts.
import type { EntityManager } from "@mikro-orm/postgresql";

export async function refreshEffectiveCapacity(em: EntityManager, scope: { readonly baremetalIds: readonly string[] } | { readonly groupId: string }): Promise<void> {
  const [condition, parameter] = "groupId" in scope ? ["h.group_id = ?", scope.groupId] : ["h.id = any(array[?]::uuid[])", scope.baremetalIds];
  if (Array.isArray(parameter) && parameter.length === 0) return;
  await em.execute(
    `update baremetal b
        set effective_cpu_cores = greatest(0, floor((h.cpu_cores - coalesce(g.reserved_cpu_cores, 0)) * coalesce(g.cpu_allocation_ratio, 1)))::int,
            effective_memory_mib = greatest(0, floor((h.memory_mib - coalesce(g.reserved_memory_mib, 0)) * coalesce(g.memory_allocation_ratio, 1)))::bigint,
            effective_storage_gib = greatest(0, floor((h.storage_gib - coalesce(g.reserved_storage_gib, 0)) * coalesce(g.storage_allocation_ratio, 1)))::bigint
       from baremetal h left join baremetal_group g on g.id = h.group_id
      where b.id = h.id and ${condition}`,
    [parameter],
  );
}
