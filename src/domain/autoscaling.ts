// The autoscaler's rule (K8S-5, automatic part): from one health report of a pool with bounds,
// whether to scale and to what. Pure: the caller reads the pool, its live nodes and the report,
// and checks the cool-down and the cluster's state. docs/kubernetes-health.md#autoscaling.
import type { NodePoolHealth } from "./cluster-health.js";

export const scalingReasons = ["UNSCHEDULABLE_PODS", "EMPTY_NODES"] as const;
export type ScalingReason = (typeof scalingReasons)[number];

export const scalingOutcomes = ["STARTED", "REFUSED"] as const;
export type ScalingOutcome = (typeof scalingOutcomes)[number];

export interface ScalingDecision {
  readonly from: number;
  readonly to: number;
  readonly reason: ScalingReason;
  /** For a scale-down: the nodes to drain and remove. */
  readonly removedNodeIds: readonly string[];
}

export interface BoundedPool {
  readonly nodeCount: number;
  readonly minNodeCount: number;
  readonly maxNodeCount: number;
}

/**
 * Pods that fit no node come first: one node more, up to max (a node's capacity for pods is the
 * cluster's business, so the step is one node per cool-down). Otherwise the nodes reported empty
 * for at least `emptyMillis` before the report's time, among the pool's live nodes, are removed,
 * never below min. Undefined when neither applies.
 */
export function decideScaling(
  pool: BoundedPool,
  figures: NodePoolHealth,
  observeTime: Date,
  liveNodeIds: ReadonlySet<string>,
  emptyMillis: number,
): ScalingDecision | undefined {
  if (figures.unschedulablePodCount > 0) {
    if (pool.nodeCount >= pool.maxNodeCount) return undefined;
    return { from: pool.nodeCount, to: pool.nodeCount + 1, reason: "UNSCHEDULABLE_PODS", removedNodeIds: [] };
  }
  const room = pool.nodeCount - pool.minNodeCount;
  if (room <= 0) return undefined;
  const idle = figures.emptyNodes
    .filter((node) => liveNodeIds.has(node.virtualMachineId.toLowerCase()))
    .filter((node) => observeTime.getTime() - node.emptySince.getTime() >= emptyMillis)
    .sort((a, b) => a.emptySince.getTime() - b.emptySince.getTime() || a.virtualMachineId.localeCompare(b.virtualMachineId))
    .slice(0, room)
    .map((node) => node.virtualMachineId.toLowerCase());
  if (idle.length === 0) return undefined;
  return { from: pool.nodeCount, to: pool.nodeCount - idle.length, reason: "EMPTY_NODES", removedNodeIds: idle };
}
