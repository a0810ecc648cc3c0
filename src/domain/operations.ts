// Operations and jobs: plain types.
export const operationStates = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"] as const;
export type OperationState = (typeof operationStates)[number];

export const jobStates = ["QUEUED", "LEASED", "SUCCEEDED", "FAILED", "CANCELLED"] as const;
export type JobState = (typeof jobStates)[number];

export const jobKinds = [
  "CREATE_VIRTUAL_MACHINE",
  "START_VIRTUAL_MACHINE",
  "STOP_VIRTUAL_MACHINE",
  "REBOOT_VIRTUAL_MACHINE",
  "DELETE_VIRTUAL_MACHINE",
  "CREATE_KUBERNETES_CLUSTER",
  "DELETE_KUBERNETES_CLUSTER",
  "CREATE_NODE_POOL",
  "SCALE_NODE_POOL",
  "DELETE_NODE_POOL",
  "UPGRADE_KUBERNETES_CLUSTER",
  "UPGRADE_KUBERNETES_NODES",
  "REMOVE_KUBERNETES_NODES",
  "INSTALL_KUBERNETES_PLUGIN",
  "UPGRADE_KUBERNETES_PLUGIN",
  "UNINSTALL_KUBERNETES_PLUGIN",
] as const;
export type JobKind = (typeof jobKinds)[number];
