// What an operation's outcome does to its resource. Agents' reports (and cancellations) land here,
// in the transaction that records them, so the operation, the resource and the reservation move
// together.
import type { EntityManager } from "@mikro-orm/postgresql";
import type { VirtualMachineState } from "../../domain/compute.js";
import type { JobKind } from "../../domain/operations.js";
import { VirtualMachine } from "../../persistence/entities/index.js";
import { notify } from "../../persistence/notifications.js";
import { release } from "../compute/reservations.js";

interface OperationView {
  readonly id: string;
  readonly kind: JobKind;
  readonly resourceId: string;
  readonly previousState: string;
}

/** Facts an agent learned while doing the work. */
export interface Facts {
  readonly hypervisorId?: string;
  readonly ipAddresses?: readonly string[];
}

/** State a VM takes when its operation succeeds. */
const onSuccess: Record<JobKind, VirtualMachineState> = {
  CREATE_VIRTUAL_MACHINE: "RUNNING",
  START_VIRTUAL_MACHINE: "RUNNING",
  STOP_VIRTUAL_MACHINE: "STOPPED",
  REBOOT_VIRTUAL_MACHINE: "RUNNING",
  DELETE_VIRTUAL_MACHINE: "DELETED",
};

/** An agent took the job: a VM being created is now PROVISIONING. */
export async function markStarted(em: EntityManager, operation: OperationView): Promise<void> {
  if (operation.kind === "CREATE_VIRTUAL_MACHINE") await setState(em, operation.resourceId, "PROVISIONING", {});
}

export async function applySuccess(em: EntityManager, operation: OperationView, facts: Facts): Promise<void> {
  const vm = await lockVm(em, operation.resourceId);
  if (!vm) return;
  await setState(em, vm.id, onSuccess[operation.kind], facts);
  if (operation.kind === "DELETE_VIRTUAL_MACHINE") await release(em, reservationOf(vm), "deleted");
}

/** A failed creation releases its reservation and leaves the VM in ERROR; a failed deletion leaves
 * it in ERROR, still reserved (what the host holds is unknown); any other failure returns the VM to
 * where it was. */
export async function applyFailure(em: EntityManager, operation: OperationView): Promise<void> {
  const vm = await lockVm(em, operation.resourceId);
  if (!vm) return;
  if (operation.kind === "CREATE_VIRTUAL_MACHINE") {
    await setState(em, vm.id, "ERROR", {});
    await release(em, reservationOf(vm), "creation failed");
  } else if (operation.kind === "DELETE_VIRTUAL_MACHINE") {
    await setState(em, vm.id, "ERROR", {});
  } else {
    await setState(em, vm.id, (operation.previousState || vm.state) as VirtualMachineState, {});
  }
}

/** Undoes an operation no agent took: a creation is withdrawn (the VM is DELETED and its
 * reservation released), anything else returns the VM to its previous state. */
export async function undoQueued(em: EntityManager, operation: OperationView): Promise<void> {
  const vm = await lockVm(em, operation.resourceId);
  if (!vm) return;
  if (operation.kind === "CREATE_VIRTUAL_MACHINE") {
    await setState(em, vm.id, "DELETED", {});
    await release(em, reservationOf(vm), "creation cancelled");
  } else {
    await setState(em, vm.id, operation.previousState as VirtualMachineState, {});
  }
}

async function lockVm(em: EntityManager, id: string) {
  const [vm] = await em.execute<
    {
      id: string;
      state: VirtualMachineState;
      tenant_id: string;
      group_id: string;
      baremetal_id: string;
      cpu_cores: number;
      memory_mib: number;
      storage_gib: number;
    }[]
  >(
    "select id, state, tenant_id, group_id, baremetal_id, cpu_cores, memory_mib, storage_gib from virtual_machine where id = ? for update",
    [id],
  );
  return vm;
}

function reservationOf(vm: NonNullable<Awaited<ReturnType<typeof lockVm>>>) {
  return {
    virtualMachineId: vm.id,
    tenantId: vm.tenant_id,
    groupId: vm.group_id,
    baremetalId: vm.baremetal_id,
    resources: { cpuCores: vm.cpu_cores, memoryMib: vm.memory_mib, storageGib: vm.storage_gib },
  };
}

/** Sets the state, clears the active operation (the one that ended) and records the facts. */
async function setState(em: EntityManager, id: string, state: VirtualMachineState, facts: Facts): Promise<void> {
  await em.nativeUpdate(
    VirtualMachine,
    { id },
    {
      state,
      stateChangeTime: new Date(),
      updateTime: new Date(),
      ...(state === "PROVISIONING" ? {} : { activeOperationId: null }),
      ...(facts.hypervisorId !== undefined ? { hypervisorId: facts.hypervisorId } : {}),
      ...(facts.ipAddresses !== undefined ? { ipAddresses: [...facts.ipAddresses] } : {}),
    },
  );
  await em.execute("update virtual_machine set version = version + 1 where id = ?", [id]);
  await notify(em, "rackplane_operation", "");
}
