// Reserving and releasing a VM's resources on its host and in its tenant's quota. Both counters move
// in the same transaction as the VM's own row, so at every commit a host's allocated counters equal
// the sum of the reservations of its VMs, and a quota's used counters those of the tenant's VMs in
// the group (a test checks both after concurrent runs).
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Resources } from "../../domain/hosts.js";

export interface Reservation {
  readonly virtualMachineId: string;
  readonly tenantId: string;
  readonly groupId: string;
  readonly baremetalId: string;
  readonly resources: Resources;
}

/**
 * Locks the rows a release changes, in the one lock order (docs/compute.md, "Lock order"): the
 * tenant's quota row in the group, then the host — the order a creation takes them in — before the
 * caller locks the VM itself.
 */
export async function lockReservationHolders(em: EntityManager, tenantId: string, groupId: string, baremetalId: string): Promise<void> {
  await em.execute("select 1 from baremetal_group_tenant_quota where tenant_id = ? and group_id = ? for no key update", [
    tenantId,
    groupId,
  ]);
  await em.execute("select 1 from baremetal where id = ? for no key update", [baremetalId]);
}

/** Gives a reservation back: host counters, quota usage, and an event on its scheduling record.
 * The caller holds the rows (`lockReservationHolders`, then the VM) and has cleared the VM's
 * `reserved` flag in its own update of the VM, which told it the VM was still reserved. */
export async function releaseCounters(em: EntityManager, reservation: Reservation, reason: string): Promise<void> {
  const { cpuCores, memoryMib, storageGib } = reservation.resources;
  await em.execute(
    `update baremetal_group_tenant_quota set cpu_used = cpu_used - ?, memory_mib_used = memory_mib_used - ?, storage_gib_used = storage_gib_used - ?
      where tenant_id = ? and group_id = ?`,
    [cpuCores, memoryMib, storageGib, reservation.tenantId, reservation.groupId],
  );
  await em.execute(
    `update baremetal set cpu_cores_allocated = cpu_cores_allocated - ?, memory_mib_allocated = memory_mib_allocated - ?,
            storage_gib_allocated = storage_gib_allocated - ?, update_time = now() where id = ?`,
    [cpuCores, memoryMib, storageGib, reservation.baremetalId],
  );
  await recordEvent(em, reservation.virtualMachineId, "RELEASED", { cpuCores: 0, memoryMib: 0, storageGib: 0 }, reason);
}

export async function recordEvent(
  em: EntityManager,
  virtualMachineId: string,
  kind: "RESERVED" | "RELEASED" | "RESIZED",
  resources: Resources,
  reason: string,
): Promise<void> {
  await em.execute("update scheduling_record set events = events || ?::jsonb where virtual_machine_id = ?", [
    JSON.stringify([{ kind, resources, reason, time: new Date().toISOString() }]),
    virtualMachineId,
  ]);
}
