// Pure rules of the security hardening: the token bucket behind rate limits and its setting, and
// what an agent token's scope lets a stream ask for and a report touch.
import { describe, expect, it } from "vitest";
import { jobInScope, placeInScope, scopeExcess, type Place } from "../../src/domain/agent-scope.js";
import { RateLimitedError } from "../../src/domain/errors.js";
import { parseRateLimit, RateLimiter } from "../../src/domain/rate-limit.js";

describe("the token bucket", () => {
  it("lets a burst through, then one call per 1/rate, and says how long to wait", () => {
    const limiter = new RateLimiter({ ratePerSecond: 2, burst: 3 });
    expect([0, 0, 0].map(() => limiter.take("alice", 1_000))).toEqual([0, 0, 0]);
    expect(limiter.take("alice", 1_000)).toBe(500);
    expect(limiter.take("alice", 1_250)).toBe(250);
    expect(limiter.take("alice", 1_500)).toBe(0);
    // Principals do not share buckets.
    expect(limiter.take("bob", 1_500)).toBe(0);
    // Idle time refills up to the burst, never beyond.
    expect([0, 0, 0, 0].map(() => limiter.take("alice", 60_000))).toEqual([0, 0, 0, 500]);
  });

  it("refuses with RATE_LIMITED and the wait", () => {
    const limiter = new RateLimiter({ ratePerSecond: 0.5, burst: 1 });
    limiter.admit("carol", 0);
    let refused: unknown;
    try {
      limiter.admit("carol", 500);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect(refused).toMatchObject({ code: "RESOURCE_EXHAUSTED", reason: "RATE_LIMITED", retryAfterMillis: 1_500 });
  });

  it("reads its setting: off by default, <rate>/s, burst defaulting to one second's worth", () => {
    expect(parseRateLimit(undefined, undefined)).toBeUndefined();
    expect(parseRateLimit("off", "5")).toBeUndefined();
    expect(parseRateLimit("20/s", undefined)).toEqual({ ratePerSecond: 20, burst: 20 });
    expect(parseRateLimit("0.5/s", undefined)).toEqual({ ratePerSecond: 0.5, burst: 1 });
    expect(parseRateLimit(" 10 / s ", "40")).toEqual({ ratePerSecond: 10, burst: 40 });
    for (const [rate, burst] of [
      ["20", undefined],
      ["0/s", undefined],
      ["-1/s", undefined],
      ["ten/s", undefined],
      ["5/s", "0"],
      ["5/s", "2.5"],
    ]) {
      expect(() => parseRateLimit(rate, burst), `${rate} ${burst}`).toThrow(/RACKPLANE_RATE_LIMIT/);
    }
  });
});

describe("an agent token's scope", () => {
  const dc1 = "00000000-0000-7000-8000-0000000000d1";
  const dc2 = "00000000-0000-7000-8000-0000000000d2";
  const g1 = "00000000-0000-7000-8000-0000000000a1";
  const g2 = "00000000-0000-7000-8000-0000000000a2";
  const at = (datacenterId: string | null, groupId: string | null): Place => ({ datacenterId, groupId });
  const scope = { datacenterIds: [dc1], groupIds: [g1], jobKinds: ["CREATE_VIRTUAL_MACHINE"] };

  it("holds a job only where every restriction agrees; empty lists and no scope restrict nothing", () => {
    expect(jobInScope(scope, "CREATE_VIRTUAL_MACHINE", at(dc1, g1))).toBe(true);
    expect(jobInScope(scope, "STOP_VIRTUAL_MACHINE", at(dc1, g1))).toBe(false);
    expect(jobInScope(scope, "CREATE_VIRTUAL_MACHINE", at(dc2, g1))).toBe(false);
    expect(jobInScope(scope, "CREATE_VIRTUAL_MACHINE", at(dc1, g2))).toBe(false);
    expect(jobInScope(scope, "CREATE_VIRTUAL_MACHINE", at(null, g1))).toBe(false);
    expect(placeInScope({ datacenterIds: [], groupIds: [g1], jobKinds: [] }, at(null, g1.toUpperCase()))).toBe(true);
    expect(jobInScope(undefined, "ANYTHING", at(null, null))).toBe(true);
  });

  it("lets a stream narrow it and names everything a stream asks for beyond it", () => {
    const hosts = new Map<string, Place>([
      ["h-in", at(dc1, g1)],
      ["h-other-dc", at(dc2, g1)],
    ]);
    expect(scopeExcess(scope, { jobKinds: [], groupIds: [], baremetalIds: [] }, hosts)).toEqual({});
    expect(scopeExcess(scope, { jobKinds: ["CREATE_VIRTUAL_MACHINE"], groupIds: [g1], baremetalIds: ["h-in"] }, hosts)).toEqual({});
    expect(
      scopeExcess(
        scope,
        {
          jobKinds: ["CREATE_VIRTUAL_MACHINE", "STOP_VIRTUAL_MACHINE"],
          groupIds: [g1, g2],
          baremetalIds: ["h-in", "h-other-dc", "h-unknown"],
        },
        hosts,
      ),
    ).toEqual({ job_kinds: ["STOP_VIRTUAL_MACHINE"], group_ids: [g2], baremetal_ids: ["h-other-dc", "h-unknown"] });
    // A whole-fleet token: a stream may ask for anything.
    expect(scopeExcess(undefined, { jobKinds: ["X"], groupIds: [g2], baremetalIds: ["h-unknown"] }, hosts)).toEqual({});
  });
});
