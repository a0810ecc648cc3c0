// The autoscaler's rule (domain/autoscaling.ts): one node more while pods fit no node, up to max;
// the nodes empty long enough removed, never below min; nothing otherwise.
import { describe, expect, it } from "vitest";
import { decideScaling } from "../../src/domain/autoscaling.js";

const at = new Date("2026-12-02T12:00:00Z");
const ago = (ms: number) => new Date(at.getTime() - ms);
const live = new Set(["a", "b", "c"]);
const pool = (nodeCount: number) => ({ nodeCount, minNodeCount: 1, maxNodeCount: 3 });

describe("decideScaling", () => {
  it("adds one node while pods fit no node, up to max", () => {
    expect(decideScaling(pool(1), { nodePoolId: "p", unschedulablePodCount: 40, emptyNodes: [] }, at, live, 600_000)).toEqual({
      from: 1,
      to: 2,
      reason: "UNSCHEDULABLE_PODS",
      removedNodeIds: [],
    });
    expect(decideScaling(pool(3), { nodePoolId: "p", unschedulablePodCount: 40, emptyNodes: [] }, at, live, 600_000)).toBeUndefined();
  });

  it("prefers adding to removing while pods are unschedulable", () => {
    const figures = { nodePoolId: "p", unschedulablePodCount: 1, emptyNodes: [{ virtualMachineId: "a", emptySince: ago(3_600_000) }] };
    expect(decideScaling(pool(2), figures, at, live, 600_000)?.reason).toBe("UNSCHEDULABLE_PODS");
  });

  it("removes the live nodes empty for the period, the longest empty first, never below min", () => {
    const figures = {
      nodePoolId: "p",
      unschedulablePodCount: 0,
      emptyNodes: [
        { virtualMachineId: "b", emptySince: ago(700_000) },
        { virtualMachineId: "a", emptySince: ago(900_000) },
        { virtualMachineId: "c", emptySince: ago(800_000) },
        { virtualMachineId: "gone", emptySince: ago(999_000) },
      ],
    };
    expect(decideScaling(pool(3), figures, at, live, 600_000)).toEqual({
      from: 3,
      to: 1,
      reason: "EMPTY_NODES",
      removedNodeIds: ["a", "c"],
    });
    expect(decideScaling(pool(1), figures, at, live, 600_000)).toBeUndefined();
  });

  it("keeps a node empty for less than the period, and does nothing without figures", () => {
    const young = { nodePoolId: "p", unschedulablePodCount: 0, emptyNodes: [{ virtualMachineId: "a", emptySince: ago(599_999) }] };
    expect(decideScaling(pool(3), young, at, live, 600_000)).toBeUndefined();
    expect(decideScaling(pool(2), { nodePoolId: "p", unschedulablePodCount: 0, emptyNodes: [] }, at, live, 600_000)).toBeUndefined();
  });
});
