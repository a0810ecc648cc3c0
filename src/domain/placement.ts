// Placement (VM-3, QUO-4): plain types.
export const placementPolicies = ["SPREAD", "PACK"] as const;
export type PlacementPolicy = (typeof placementPolicies)[number];

import type { Resources } from "./hosts.js";

/** A host group's platform-level scheduling settings (QUO-2). */
export interface SchedulingPolicy {
  readonly cpuAllocationRatio: number;
  readonly memoryAllocationRatio: number;
  readonly storageAllocationRatio: number;
  readonly reservedPerHost: Resources;
  readonly placementPolicy: PlacementPolicy;
}

export const defaultSchedulingPolicy: SchedulingPolicy = {
  cpuAllocationRatio: 1,
  memoryAllocationRatio: 1,
  storageAllocationRatio: 1,
  reservedPerHost: { cpuCores: 0, memoryMib: 0, storageGib: 0 },
  placementPolicy: "SPREAD",
};
