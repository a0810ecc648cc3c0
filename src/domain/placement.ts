import type { Resources } from "./hosts.js";
import { fits, subtract } from "./quota.js";

// Placement (VM-3, QUO-4): plain types.
export const placementPolicies = ["SPREAD", "PACK"] as const;
export type PlacementPolicy = (typeof placementPolicies)[number];

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

/** A host the scheduler may choose. */
export interface Candidate {
  readonly baremetalId: string;
  readonly rackId: string;
  readonly effective: Resources;
  readonly free: Resources;
}

/**
 * How good a host is for a request under a policy, higher is better. The measure is the share of the
 * host left free after placing the request, averaged over the three resources: SPREAD prefers the
 * emptiest host (load and failure impact spread out), PACK the fullest that still fits (whole hosts
 * stay free for large VMs and maintenance).
 */
export function score(policy: PlacementPolicy, candidate: Candidate, asked: Resources): number {
  const share = (free: number, asked: number, effective: number) => (effective <= 0 ? 0 : (free - asked) / effective);
  const left =
    (share(candidate.free.cpuCores, asked.cpuCores, candidate.effective.cpuCores) +
      share(candidate.free.memoryMib, asked.memoryMib, candidate.effective.memoryMib) +
      share(candidate.free.storageGib, asked.storageGib, candidate.effective.storageGib)) /
    3;
  return policy === "SPREAD" ? left : -left;
}

/** Candidates best first; ties broken by id so the order is deterministic. */
export function rank(
  policy: PlacementPolicy,
  candidates: readonly Candidate[],
  asked: Resources,
): Array<Candidate & { readonly score: number }> {
  return candidates
    .map((candidate) => ({ ...candidate, score: score(policy, candidate, asked) }))
    .sort((a, b) => b.score - a.score || (a.baremetalId < b.baremetalId ? -1 : 1));
}

/** The candidates that still fit `asked` once `taken` (per host id, by decisions the candidates'
 * reading did not see: earlier creations of the same batch) is subtracted from their free capacity. */
export function candidatesLeft(candidates: readonly Candidate[], taken: ReadonlyMap<string, Resources>, asked: Resources): Candidate[] {
  return candidates.flatMap((candidate) => {
    const used = taken.get(candidate.baremetalId);
    const free = used ? subtract(candidate.free, used) : candidate.free;
    return fits(asked, free) ? [used ? { ...candidate, free } : candidate] : [];
  });
}
