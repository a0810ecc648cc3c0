// Which agent streams a new job wakes (agents/dispatcher.ts, streamsToWake): enough that one able to
// take it looks at once, few enough that a fleet of idle agents does not all query for one job.
import { describe, expect, it } from "vitest";
import { scopeKey, streamsToWake, type WakeCandidate } from "../../src/agents/dispatcher.js";

const group = "00000000-0000-7000-8000-000000000001";
const other = "00000000-0000-7000-8000-000000000002";

function stream(name: string, options: { kinds?: string[]; free?: number; groups?: string[]; hosts?: string[] } = {}) {
  const scope = { jobKinds: options.kinds ?? [], groupIds: options.groups ?? [], baremetalIds: options.hosts ?? [] };
  return {
    name,
    declaration: { scope },
    scopeKey: scopeKey(scope, undefined),
    free: options.free ?? 4,
  } satisfies WakeCandidate & { name: string };
}

const names = (streams: { name: string }[]) => streams.map((s) => s.name);

describe("streams woken for a new job", () => {
  it("wakes one stream of a fleet of alike agents, in turn", () => {
    const fleet = Array.from({ length: 100 }, (_, i) => stream(`agent-${i}`));
    expect(names(streamsToWake(fleet, group, 0))).toEqual(["agent-0"]);
    expect(names(streamsToWake(fleet, group, 1))).toEqual(["agent-1"]);
    expect(names(streamsToWake(fleet, group, 101))).toEqual(["agent-1"]);
  });

  it("wakes one stream of each different scope, so a job reaches one that can take its kind", () => {
    const fleet = [
      stream("vm-1", { kinds: ["DELETE_VIRTUAL_MACHINE", "CREATE_VIRTUAL_MACHINE"] }),
      stream("vm-2", { kinds: ["CREATE_VIRTUAL_MACHINE", "DELETE_VIRTUAL_MACHINE"] }),
      stream("k8s-1", { kinds: ["CREATE_KUBERNETES_CLUSTER"] }),
      stream("k8s-2", { kinds: ["CREATE_KUBERNETES_CLUSTER"] }),
      stream("any-1"),
    ];
    expect(names(streamsToWake(fleet, group, 0))).toEqual(["vm-1", "k8s-1", "any-1"]);
  });

  it("prefers streams with room, and never wakes more than four", () => {
    const fleet = [
      stream("full", { free: 0 }),
      stream("room", { free: 1 }),
      ...Array.from({ length: 6 }, (_, i) => stream(`host-${i}`, { hosts: [`h${i}`] })),
    ];
    const woken = names(streamsToWake(fleet, group, 0));
    expect(woken[0]).toBe("room");
    expect(woken).not.toContain("full");
    expect(woken).toHaveLength(4);
  });

  it("wakes no stream scoped to another group, and any for a job announced anywhere", () => {
    const fleet = [stream("west", { groups: [other] }), stream("east", { groups: [group] })];
    expect(names(streamsToWake(fleet, group, 0))).toEqual(["east"]);
    expect(names(streamsToWake([fleet[0]!], group, 0))).toEqual([]);
    expect(names(streamsToWake([fleet[0]!], "", 0))).toEqual(["west"]);
  });
});
