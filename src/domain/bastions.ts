// Bastion associations (K8S-10): a VM of role BASTION serving a cluster of its tenant, as read with
// the names around it. The rules live where they are enforced (app/kubernetes/addons/bastions.ts);
// the type is here so that the cluster's view and the association's resource share it.
import type { VirtualMachineState } from "./compute.js";

/** An association as read: with its cluster's name and its VM's name, state and addresses. */
export interface BastionAssociation {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly tenantId: string;
  readonly clusterId: string;
  readonly virtualMachineId: string;
  readonly clusterName: string;
  readonly virtualMachineName: string;
  readonly virtualMachineState: VirtualMachineState;
  readonly ipAddresses: readonly string[];
}
