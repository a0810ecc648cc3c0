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

/** Gives a reservation back: host counters, quota usage, the VM's `reserved` flag, and an event on
 * its scheduling record. Idempotent: a VM no longer reserved changes nothing. */
export async function release(em: EntityManager, reservation: Reservation, reason: string): Promise<void> {
  const [vm] = await em.execute<{ id: string }[]>(
    "update virtual_machine set reserved = false, update_time = now(), version = version + 1 where id = ? and reserved returning id",
    [reservation.virtualMachineId],
  );
  if (!vm) return;
  const { cpuCores, memoryMib, storageGib } = reservation.resources;
  // Quota row before host row: the order placement locks them in, so the two never deadlock.
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
