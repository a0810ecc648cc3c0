// DELETED VMs stay as the record of what ran where, until what they belonged to goes: a tenant,
// host or host group that is deleted takes its deleted VMs (their placement records and maintainer
// assignments too) with it, in its own transaction. Live VMs are never purged; the owners' delete
// guards refuse them first.
import type { EntityManager } from "@mikro-orm/postgresql";
import { removeSelectedAssignments } from "../maintainers/resources.js";

type Owner = "tenant_id" | "baremetal_id" | "group_id";

/** The owner's DELETED VMs, as a sub-select with one `?` for the owner's id. */
const deletedVirtualMachines = (owner: Owner) => `select id from virtual_machine where ${owner} = ? and state = 'DELETED'`;

export async function purgeDeletedVirtualMachines(em: EntityManager, owner: Owner, id: string): Promise<void> {
  await removeDeletedVirtualMachineAssignments(em, owner, id);
  await removeDeletedVirtualMachineRecords(em, owner, id);
  await removeDeletedVirtualMachines(em, owner, id);
}

/** The maintainer assignments of the owner's DELETED VMs; how many were removed. */
export function removeDeletedVirtualMachineAssignments(em: EntityManager, owner: Owner, id: string): Promise<number> {
  return removeSelectedAssignments(em, "virtual_machine", deletedVirtualMachines(owner), [id]);
}

/** The scheduling records of the owner's DELETED VMs; how many were removed. */
export function removeDeletedVirtualMachineRecords(em: EntityManager, owner: Owner, id: string): Promise<number> {
  return countDeleted(em, `delete from scheduling_record where virtual_machine_id in (${deletedVirtualMachines(owner)})`, [id]);
}

/** The owner's DELETED VMs themselves (after their records and assignments); how many. */
export function removeDeletedVirtualMachines(em: EntityManager, owner: Owner, id: string): Promise<number> {
  return countDeleted(em, `delete from virtual_machine where ${owner} = ? and state = 'DELETED'`, [id]);
}

/** VMs that are not DELETED: what blocks deleting their tenant, host or group. */
export async function liveVirtualMachines(em: EntityManager, owner: Owner, id: string): Promise<number> {
  const [row] = await em.execute<{ n: number }[]>(
    `select count(*)::int as n from virtual_machine where ${owner} = ? and state <> 'DELETED'`,
    [id],
  );
  return row?.n ?? 0;
}

async function countDeleted(em: EntityManager, deleteSql: string, params: unknown[]): Promise<number> {
  const [row] = await em.execute<{ n: number }[]>(`with gone as (${deleteSql} returning 1) select count(*)::int as n from gone`, params);
  return row?.n ?? 0;
}
