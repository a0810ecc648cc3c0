// DELETED VMs stay as the record of what ran where, until what they belonged to goes: a tenant,
// host or host group that is deleted takes its deleted VMs (and their placement records) with it,
// in its own transaction. Live VMs are never purged; the owners' delete guards refuse them first.
import type { EntityManager } from "@mikro-orm/postgresql";

export async function purgeDeletedVirtualMachines(
  em: EntityManager,
  owner: "tenant_id" | "baremetal_id" | "group_id",
  id: string,
): Promise<void> {
  await em.execute(
    `delete from scheduling_record where virtual_machine_id in (select id from virtual_machine where ${owner} = ? and state = 'DELETED')`,
    [id],
  );
  await em.execute(`delete from virtual_machine where ${owner} = ? and state = 'DELETED'`, [id]);
}

/** VMs that are not DELETED: what blocks deleting their tenant, host or group. */
export async function liveVirtualMachines(
  em: EntityManager,
  owner: "tenant_id" | "baremetal_id" | "group_id",
  id: string,
): Promise<number> {
  const [row] = await em.execute<{ n: number }[]>(
    `select count(*)::int as n from virtual_machine where ${owner} = ? and state <> 'DELETED'`,
    [id],
  );
  return row?.n ?? 0;
}
