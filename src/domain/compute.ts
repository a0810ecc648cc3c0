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
