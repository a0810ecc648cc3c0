import { FailedPreconditionError } from "./errors.js";

// Virtual machines (VM-1..7): plain types and the lifecycle state machine.
export const architectures = ["X86_64", "ARM64"] as const;
export type Architecture = (typeof architectures)[number];

export const imageStatuses = ["ACTIVE", "DEPRECATED", "DISABLED"] as const;
export type ImageStatus = (typeof imageStatuses)[number];

export const virtualMachineRoles = ["CONTROL_PLANE", "WORKER", "MANAGEMENT", "BASTION"] as const;
/** "" is a VM without a particular role. */
export type VirtualMachineRole = (typeof virtualMachineRoles)[number] | "";

export const virtualMachineStates = ["PENDING", "PROVISIONING", "RUNNING", "STOPPED", "REBOOTING", "DELETING", "DELETED", "ERROR"] as const;
export type VirtualMachineState = (typeof virtualMachineStates)[number];

/** The lifecycle verbs and the states each may start from (VM-4). */
export const lifecycle = {
  START: { from: ["STOPPED"], during: undefined },
  STOP: { from: ["RUNNING"], during: undefined },
  REBOOT: { from: ["RUNNING"], during: "REBOOTING" },
  DELETE: { from: ["PENDING", "RUNNING", "STOPPED", "ERROR"], during: "DELETING" },
} as const satisfies Record<string, { from: readonly VirtualMachineState[]; during: VirtualMachineState | undefined }>;
export type LifecycleVerb = keyof typeof lifecycle;

/**
 * Refuses a verb the VM's state does not allow, or any verb while another operation is under way:
 * two conflicting operations never run at once. To delete a VM whose operation is still queued,
 * cancel that operation first; the order of effects stays plain.
 */
export function requireTransition(
  vm: { readonly id: string; readonly state: VirtualMachineState; readonly activeOperationId?: string | null },
  verb: LifecycleVerb,
): void {
  if (vm.activeOperationId) {
    throw new FailedPreconditionError(
      "OPERATION_IN_PROGRESS",
      `virtual machine ${vm.id} has operation ${vm.activeOperationId} under way; wait for it or cancel it`,
      {
        virtual_machine_id: vm.id,
        operation_id: vm.activeOperationId,
        state: vm.state,
      },
    );
  }
  const allowed: readonly VirtualMachineState[] = lifecycle[verb].from;
  if (!allowed.includes(vm.state)) {
    throw new FailedPreconditionError(
      "INVALID_STATE",
      `cannot ${verb.toLowerCase()} virtual machine ${vm.id}: it is ${vm.state} (allowed from ${allowed.join(", ")})`,
      {
        virtual_machine_id: vm.id,
        state: vm.state,
        allowed_states: allowed.join(","),
      },
    );
  }
}

/** A virtual machine as use cases return it. */
export interface VirtualMachine {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly name: string;
  readonly tenantId: string;
  readonly specificationId: string;
  readonly imageId: string;
  readonly cpuCores: number;
  readonly memoryMib: number;
  readonly storageGib: number;
  readonly groupId: string;
  readonly baremetalId: string;
  readonly clusterId?: string | null;
  readonly role: VirtualMachineRole;
  readonly state: VirtualMachineState;
  readonly stateChangeTime: Date;
  readonly activeOperationId?: string | null;
  readonly hypervisorId: string;
  readonly ipAddresses: string[];
}
