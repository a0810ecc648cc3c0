// A virtual machine's lifecycle: what its operations' start and outcomes, and states observed by its
// agent, do to the VM and its reservation. Registered with the operation engine
// (app/operations/lifecycle.ts) by app/lifecycles.ts; every handler runs in the transaction that
// records the change, so the operation, the VM and the reservation move together.
import type { EntityManager } from "@mikro-orm/postgresql";
import type { VirtualMachineState } from "../../domain/compute.js";
import { FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import type { JobKind } from "../../domain/operations.js";
import { notify } from "../../persistence/notifications.js";
import type { Facts, Lifecycle, ObservedState, OperationView } from "../operations/lifecycle.js";
import { lockReservationHolders, releaseCounters } from "./reservations.js";

const jobKinds = [
  "CREATE_VIRTUAL_MACHINE",
  "START_VIRTUAL_MACHINE",
  "STOP_VIRTUAL_MACHINE",
  "REBOOT_VIRTUAL_MACHINE",
  "DELETE_VIRTUAL_MACHINE",
] as const satisfies readonly JobKind[];

/** State a VM takes when its operation succeeds. */
const onSuccess: Record<(typeof jobKinds)[number], VirtualMachineState> = {
  CREATE_VIRTUAL_MACHINE: "RUNNING",
  START_VIRTUAL_MACHINE: "RUNNING",
  STOP_VIRTUAL_MACHINE: "STOPPED",
  REBOOT_VIRTUAL_MACHINE: "RUNNING",
  DELETE_VIRTUAL_MACHINE: "DELETED",
};

/** An agent took the job: a VM being created is now PROVISIONING. */
async function markStarted(em: EntityManager, operation: OperationView): Promise<void> {
  if (operation.kind === "CREATE_VIRTUAL_MACHINE") await setState(em, operation.resourceId, "PROVISIONING", {});
}

async function applySuccess(em: EntityManager, operation: OperationView, facts: Facts): Promise<void> {
  const releasing = operation.kind === "DELETE_VIRTUAL_MACHINE";
  const vm = await lockVm(em, operation.resourceId, releasing);
  if (!vm) return;
  await setState(em, vm.id, onSuccess[operation.kind as keyof typeof onSuccess], facts, releasing);
  if (releasing) await releaseLocked(em, vm, "deleted");
}

/** A failed creation releases its reservation and leaves the VM in ERROR; a failed deletion leaves
 * it in ERROR, still reserved (what the host holds is unknown); any other failure returns the VM to
 * where it was. */
async function applyFailure(em: EntityManager, operation: OperationView): Promise<void> {
  const releasing = operation.kind === "CREATE_VIRTUAL_MACHINE";
  const vm = await lockVm(em, operation.resourceId, releasing);
  if (!vm) return;
  if (releasing) {
    await setState(em, vm.id, "ERROR", {}, true);
    await releaseLocked(em, vm, "creation failed");
  } else if (operation.kind === "DELETE_VIRTUAL_MACHINE") {
    await setState(em, vm.id, "ERROR", {});
  } else {
    await setState(em, vm.id, (operation.previousState || vm.state) as VirtualMachineState, {});
  }
}

/** Undoes an operation no agent took: a creation is withdrawn (the VM is DELETED and its
 * reservation released), anything else returns the VM to its previous state. */
async function undoQueued(em: EntityManager, operation: OperationView): Promise<void> {
  const releasing = operation.kind === "CREATE_VIRTUAL_MACHINE";
  const vm = await lockVm(em, operation.resourceId, releasing);
  if (!vm) return;
  if (releasing) {
    await setState(em, vm.id, "DELETED", {}, true);
    await releaseLocked(em, vm, "creation cancelled");
  } else {
    await setState(em, vm.id, operation.previousState as VirtualMachineState, {});
  }
}

type LockedVm = {
  id: string;
  state: VirtualMachineState;
  reserved: boolean;
  tenant_id: string;
  group_id: string;
  baremetal_id: string;
  cpu_cores: number;
  memory_mib: number;
  storage_gib: number;
};

/**
 * Locks the VM in the one lock order (docs/compute.md, "Lock order"): when the outcome may release
 * its reservation, the tenant's quota row and the host row first — as a creation takes them — and
 * the VM after them. A creation holding that quota row or host can wait for the VM (a new VM of the
 * same name waits on its unique index entry while the VM's row is being changed), so the VM must
 * never be held while waiting for them. The VM's tenant, group and host never change, so they are
 * read before any lock.
 */
async function lockVm(em: EntityManager, id: string, releasing: boolean): Promise<LockedVm | undefined> {
  if (releasing) {
    const [where] = await em.execute<{ tenant_id: string; group_id: string; baremetal_id: string }[]>(
      "select tenant_id, group_id, baremetal_id from virtual_machine where id = ?",
      [id],
    );
    if (!where) return undefined;
    await lockReservationHolders(em, where.tenant_id, where.group_id, where.baremetal_id);
  }
  const [vm] = await em.execute<LockedVm[]>(
    `select id, state, reserved, tenant_id, group_id, baremetal_id, cpu_cores, memory_mib, storage_gib
       from virtual_machine where id = ? for update`,
    [id],
  );
  return vm;
}

/** Gives the locked VM's reservation back, if it still held one (its row was just updated). */
async function releaseLocked(em: EntityManager, vm: LockedVm, reason: string): Promise<void> {
  if (!vm.reserved) return;
  await releaseCounters(
    em,
    {
      virtualMachineId: vm.id,
      tenantId: vm.tenant_id,
      groupId: vm.group_id,
      baremetalId: vm.baremetal_id,
      resources: { cpuCores: vm.cpu_cores, memoryMib: vm.memory_mib, storageGib: vm.storage_gib },
    },
    reason,
  );
}

/**
 * Sets the state, clears the active operation (the one that ended), records the facts and, when
 * `release` says so, clears the reservation flag — in ONE update. A second update of the row in the
 * same transaction would make PostgreSQL check every foreign key of the row again (the row is then
 * the transaction's own), taking key-share locks on the host, tenant and group rows late, behind
 * creations that hold the host: the deadlock docs/compute.md describes.
 */
async function setState(em: EntityManager, id: string, state: VirtualMachineState, facts: Facts, release = false): Promise<void> {
  await em.execute(
    `update virtual_machine set state = ?, state_change_time = now(), update_time = now(), version = version + 1,
            active_operation_id = case when ? then active_operation_id else null end,
            hypervisor_id = coalesce(?, hypervisor_id), ip_addresses = coalesce(?::text[], ip_addresses),
            reserved = reserved and not ?
      where id = ?`,
    [
      state,
      state === "PROVISIONING",
      facts.hypervisorId ?? null,
      facts.ipAddresses !== undefined ? arrayLiteral(facts.ipAddresses) : null,
      release,
      id,
    ],
  );
  await notify(em, "rackplane_operation", "");
}

/** A PostgreSQL text array literal, each element quoted. */
function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(",")}}`;
}

/** A VM's observed state, outside any job: it follows, unless an operation is under way (whose own
 * outcome decides) or it is being built or torn down. */
async function acceptObserved(em: EntityManager, id: string, observed: ObservedState): Promise<string> {
  const [vm] = await em.execute<{ state: string; active_operation_id: string | null }[]>(
    "select state, active_operation_id from virtual_machine where id = ? for update",
    [id],
  );
  if (!vm) throw new NotFoundError("virtual_machine", id);
  if (vm.active_operation_id) {
    throw new FailedPreconditionError(
      "OPERATION_IN_PROGRESS",
      `virtual machine ${id} has operation ${vm.active_operation_id} under way; its outcome decides the state`,
      { operation_id: vm.active_operation_id },
    );
  }
  if (!["RUNNING", "STOPPED", "ERROR"].includes(vm.state)) {
    throw new FailedPreconditionError("INVALID_STATE", `virtual machine ${id} is ${vm.state}: observed states apply only to built VMs`, {
      state: vm.state,
    });
  }
  const state = observed === "CRASHED" ? "ERROR" : observed;
  await em.execute(
    "update virtual_machine set state = ?, state_change_time = now(), update_time = now(), version = version + 1 where id = ? and state <> ?",
    [state, id, state],
  );
  return state;
}

/** A VM's host group and host, which never change. */
async function placeOf(em: EntityManager, id: string) {
  const [vm] = await em.execute<{ group_id: string | null; baremetal_id: string | null }[]>(
    "select group_id, baremetal_id from virtual_machine where id = ?",
    [id],
  );
  return vm && { groupId: vm.group_id, baremetalId: vm.baremetal_id };
}

export const vmLifecycle: Lifecycle = {
  resourceType: "virtual_machine",
  jobKinds,
  markStarted,
  applySuccess,
  applyFailure,
  undoQueued,
  placeOf,
  acceptObserved,
};
