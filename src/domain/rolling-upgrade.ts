// The rolling-upgrade planner (K8S-4): which nodes are replaced in which order, as a pure function
// of the nodes and each pool's strategy. The control plane goes first, one node per batch (etcd
// loses at most one member at a time); then each pool in turn, in batches of up to
// max_surge + max_unavailable nodes, of which max_surge are covered by new nodes created before any
// old one is drained — so no batch takes more than max_unavailable nodes below the pool's count.
// A node already on the target version is not planned again, so planning after a restart resumes
// where the workflow stopped.
import { InvalidArgumentError } from "./errors.js";
import { compareKubernetesVersions, parseKubernetesVersion, type UpgradeStrategy } from "./kubernetes.js";

export interface UpgradeNode {
  /** The node's VM. */
  readonly id: string;
  readonly role: "CONTROL_PLANE" | "WORKER";
  /** Its pool; null for the control plane. */
  readonly poolId: string | null;
  /** The version its kubelet runs. */
  readonly version: string;
}

export interface UpgradePool {
  readonly id: string;
  readonly upgradeStrategy: UpgradeStrategy;
}

export interface UpgradePlanInput {
  readonly nodes: readonly UpgradeNode[];
  /** Every pool, in the order they are upgraded. */
  readonly pools: readonly UpgradePool[];
  readonly targetVersion: string;
  /** 1 (the default) creates a new control-plane node before removing an old one, as Cluster API's
   * KubeadmControlPlane does; 0 upgrades in place, one node down at a time. */
  readonly controlPlaneSurge?: 0 | 1;
}

export interface UpgradeBatch {
  readonly phase: "CONTROL_PLANE" | "NODE_POOL";
  /** The pool; null for the control plane. */
  readonly poolId: string | null;
  /** The old nodes replaced in this batch: drained, then deleted. */
  readonly nodeIds: readonly string[];
  /** New nodes at the target version created before any old one is drained; their quota is held
   * for the batch (admitted before the upgrade starts). */
  readonly surge: number;
  /** How many nodes the batch takes below the pool's (or control plane's) count: nodeIds.length -
   * surge, never more than max_unavailable. */
  readonly unavailable: number;
}

export function planRollingUpgrade(input: UpgradePlanInput): UpgradeBatch[] {
  const target = parseKubernetesVersion(input.targetVersion);
  if (!target) throw new InvalidArgumentError("KUBERNETES_VERSION_INVALID", `${input.targetVersion} is not a Kubernetes version`);
  const outdated = (node: UpgradeNode) => {
    const version = parseKubernetesVersion(node.version);
    return !version || compareKubernetesVersions(version, target) < 0;
  };
  const poolIds = new Set(input.pools.map((pool) => pool.id));
  for (const node of input.nodes) {
    if (node.role === "WORKER" && (node.poolId === null || !poolIds.has(node.poolId))) {
      throw new Error(`worker node ${node.id} names pool ${node.poolId}, which is not among the pools planned`);
    }
  }
  const batches: UpgradeBatch[] = [];
  const controlPlaneSurge = input.controlPlaneSurge ?? 1;
  for (const node of input.nodes) {
    if (node.role !== "CONTROL_PLANE" || !outdated(node)) continue;
    batches.push({
      phase: "CONTROL_PLANE",
      poolId: null,
      nodeIds: [node.id],
      surge: controlPlaneSurge,
      unavailable: 1 - controlPlaneSurge,
    });
  }
  for (const pool of input.pools) {
    const { maxSurge, maxUnavailable } = pool.upgradeStrategy;
    if (maxSurge === 0 && maxUnavailable === 0) {
      throw new InvalidArgumentError("UPGRADE_STRATEGY_INVALID", `pool ${pool.id}: max_surge and max_unavailable are both zero`);
    }
    const remaining = input.nodes
      .filter((node) => node.role === "WORKER" && node.poolId === pool.id && outdated(node))
      .map((node) => node.id);
    for (let start = 0; start < remaining.length; ) {
      const size = Math.min(maxSurge + maxUnavailable, remaining.length - start);
      const surge = Math.min(maxSurge, size);
      batches.push({
        phase: "NODE_POOL",
        poolId: pool.id,
        nodeIds: remaining.slice(start, start + size),
        surge,
        unavailable: size - surge,
      });
      start += size;
    }
  }
  return batches;
}

/**
 * The most surge nodes each pool (null: the control plane) holds at once: what admission must find
 * room for before the upgrade starts. Batches run one after another and a batch's surge nodes
 * become the pool's nodes as its old ones go, so the peak is the largest batch's surge, not a sum.
 */
export function peakSurge(plan: readonly UpgradeBatch[]): Map<string | null, number> {
  const peaks = new Map<string | null, number>();
  for (const batch of plan) peaks.set(batch.poolId, Math.max(peaks.get(batch.poolId) ?? 0, batch.surge));
  return peaks;
}
