// Quota arithmetic (QUO-1..5), effective capacity (QUO-2), placement ranking (VM-3) and the host
// helpers they lean on (HOST-1): example tests for the edges and fast-check properties for the rules.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { customFieldProblems, freeOf, type CustomFieldDefinition, type Resources } from "../../src/domain/hosts.js";
import { candidatesLeft, rank, score, type Candidate, type PlacementPolicy } from "../../src/domain/placement.js";
import {
  add,
  effectiveCapacity,
  fits,
  quotaShortfall,
  resolveLimit,
  resolveLimits,
  resourceNames,
  subtract,
  type QuotaLimit,
  type QuotaLimits,
} from "../../src/domain/quota.js";

const zero: Resources = { cpuCores: 0, memoryMib: 0, storageGib: 0 };
const res = (cpuCores: number, memoryMib: number, storageGib: number): Resources => ({ cpuCores, memoryMib, storageGib });
const noPolicy = { reservedPerHost: zero, cpuAllocationRatio: 1, memoryAllocationRatio: 1, storageAllocationRatio: 1 };
const candidate = (baremetalId: string, effective: Resources, free: Resources): Candidate => ({
  baremetalId,
  rackId: `rack-${baremetalId}`,
  effective,
  free,
});

// ---- arbitraries ----------------------------------------------------------------------------------

const resourcesArb = (max: number) => fc.record({ cpuCores: fc.nat(max), memoryMib: fc.nat(max * 8), storageGib: fc.nat(max * 4) });
/** Ratios the API accepts (0 < r ≤ 16), including awkward binary fractions such as 0.57 or 1.1. */
const ratioArb = fc.oneof(fc.constantFrom(1, 1.1, 1.5, 2, 4, 0.57, 0.7, 16), fc.double({ min: 0.05, max: 16, noNaN: true }));
const limitArb: fc.Arbitrary<QuotaLimit> = fc.oneof(
  fc.record({ absolute: fc.nat(20_000) }),
  fc.record({ percent: fc.oneof(fc.constantFrom(0, 1, 33.3, 50, 99.9, 100), fc.double({ min: 0, max: 100, noNaN: true })) }),
);
const limitsArb: fc.Arbitrary<QuotaLimits> = fc.record({ cpuCores: limitArb, memoryMib: limitArb, storageGib: limitArb });
const policyArb = fc.record({
  reservedPerHost: resourcesArb(8),
  cpuAllocationRatio: ratioArb,
  memoryAllocationRatio: ratioArb,
  storageAllocationRatio: ratioArb,
});
const placementArb = fc.constantFrom<PlacementPolicy>("SPREAD", "PACK");

function sum(list: readonly Resources[]): Resources {
  return list.reduce(add, zero);
}

function within(a: Resources, limit: Resources): boolean {
  return resourceNames.every((r) => a[r] <= limit[r]);
}

// ---- quota limits ---------------------------------------------------------------------------------

describe("resolveLimit (QUO-1)", () => {
  it("takes an absolute limit as it is, whatever the group holds", () => {
    expect(resolveLimit({ absolute: 40 }, 0)).toBe(40);
    expect(resolveLimit({ absolute: 40 }, 10)).toBe(40);
    expect(resolveLimit({ absolute: 0 }, 1_000)).toBe(0);
  });

  it("rounds a percentage down so a tenant never gets more than its share", () => {
    expect(resolveLimit({ percent: 50 }, 7)).toBe(3);
    expect(resolveLimit({ percent: 33.3 }, 100)).toBe(33);
    expect(resolveLimit({ percent: 99.9 }, 10)).toBe(9);
    expect(resolveLimit({ percent: 100 }, 12_345)).toBe(12_345);
  });

  it("gives nothing for percent 0 and nothing of an empty group", () => {
    expect(resolveLimit({ percent: 0 }, 1_000_000)).toBe(0);
    expect(resolveLimit({ percent: 0 }, 0)).toBe(0);
    expect(resolveLimit({ percent: 100 }, 0)).toBe(0);
    expect(resolveLimit({ percent: 37.5 }, 0)).toBe(0);
  });

  it("resolves each resource against its own capacity", () => {
    expect(
      resolveLimits({ cpuCores: { percent: 50 }, memoryMib: { absolute: 2048 }, storageGib: { percent: 10 } }, res(64, 1_000_000, 5_000)),
    ).toEqual(res(32, 2048, 500));
  });

  it("property: percent is monotonic in group capacity, never above it, an integer ≥ 0, and 100% is the capacity", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 100, noNaN: true }), fc.nat(2 ** 40), fc.nat(2 ** 40), (percent, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        const atLow = resolveLimit({ percent }, low);
        const atHigh = resolveLimit({ percent }, high);
        expect(atLow).toBeLessThanOrEqual(atHigh);
        expect(atHigh).toBeLessThanOrEqual(high);
        expect(atLow).toBeGreaterThanOrEqual(0);
        expect(Number.isInteger(atHigh)).toBe(true);
        expect(resolveLimit({ percent: 100 }, high)).toBe(high);
        expect(resolveLimit({ percent: 0 }, high)).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it("property: percent is monotonic in the percentage too", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.nat(2 ** 40),
        (p, q, capacity) => {
          const [low, high] = p <= q ? [p, q] : [q, p];
          expect(resolveLimit({ percent: low }, capacity)).toBeLessThanOrEqual(resolveLimit({ percent: high }, capacity));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("property: integer percentages of a multiple of 100 are exact", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.nat(10_000_000), (percent, hundreds) => {
        expect(resolveLimit({ percent }, hundreds * 100)).toBe(percent * hundreds);
      }),
    );
  });
});

describe("quotaShortfall (QUO-4, QUO-5)", () => {
  const limit = res(10, 1024, 100);

  it("is undefined when everything fits, including exactly at the limit", () => {
    expect(quotaShortfall(limit, zero, zero)).toBeUndefined();
    expect(quotaShortfall(limit, res(4, 512, 50), res(6, 512, 50))).toBeUndefined();
  });

  it("names the first resource that would pass the limit, with the numbers", () => {
    expect(quotaShortfall(limit, res(4, 0, 0), res(7, 0, 0))).toEqual({ resource: "cpuCores", limit: 10, used: 4, asked: 7 });
    expect(quotaShortfall(limit, res(0, 1000, 0), res(1, 25, 0))).toEqual({ resource: "memoryMib", limit: 1024, used: 1000, asked: 25 });
    expect(quotaShortfall(limit, zero, res(11, 2000, 200))?.resource).toBe("cpuCores");
    expect(quotaShortfall(limit, zero, res(1, 1, 101))).toEqual({ resource: "storageGib", limit: 100, used: 0, asked: 101 });
  });

  it("refuses any request, even an empty one, while a lowered limit is below use, and evicts nothing (QUO-5)", () => {
    const lowered = res(2, 1024, 100);
    expect(quotaShortfall(lowered, res(4, 0, 0), zero)).toEqual({ resource: "cpuCores", limit: 2, used: 4, asked: 0 });
    expect(quotaShortfall(lowered, res(4, 0, 0), res(0, 1, 1))?.resource).toBe("cpuCores");
  });

  it("refuses everything under a zero limit (percent 0) but an empty request", () => {
    const none = resolveLimits({ cpuCores: { percent: 0 }, memoryMib: { percent: 0 }, storageGib: { percent: 0 } }, res(100, 100, 100));
    expect(none).toEqual(zero);
    expect(quotaShortfall(none, zero, res(1, 0, 0))?.resource).toBe("cpuCores");
    expect(quotaShortfall(none, zero, res(0, 0, 1))?.resource).toBe("storageGib");
    expect(quotaShortfall(none, zero, zero)).toBeUndefined();
  });

  it("property: undefined exactly when used + asked stays within the limit on every resource; otherwise the first resource that does not", () => {
    fc.assert(
      fc.property(resourcesArb(200), resourcesArb(200), resourcesArb(200), (lim, used, asked) => {
        const shortfall = quotaShortfall(lim, used, asked);
        const over = resourceNames.filter((r) => used[r] + asked[r] > lim[r]);
        if (over.length === 0) {
          expect(shortfall).toBeUndefined();
        } else {
          expect(shortfall).toEqual({ resource: over[0], limit: lim[over[0]!], used: used[over[0]!], asked: asked[over[0]!] });
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("resource arithmetic", () => {
  it("add and subtract are inverse; fits compares every resource", () => {
    fc.assert(
      fc.property(resourcesArb(1000), resourcesArb(1000), (a, b) => {
        expect(subtract(add(a, b), b)).toEqual(a);
        expect(fits(a, add(a, b))).toBe(true);
        expect(fits(a, a)).toBe(true);
        expect(fits(a, freeOf(add(a, b), b))).toBe(true);
      }),
    );
    expect(fits(res(1, 0, 0), zero)).toBe(false);
    expect(fits(res(0, 0, 1), res(10, 10, 0))).toBe(false);
    expect(fits(zero, zero)).toBe(true);
  });

  it("freeOf is capacity − allocated, negative when a host is over-committed after its capacity was lowered", () => {
    expect(freeOf(res(32, 65536, 1000), res(8, 16384, 100))).toEqual(res(24, 49152, 900));
    expect(freeOf(res(4, 0, 0), res(8, 0, 0))).toEqual(res(-4, 0, 0));
    expect(fits(zero, freeOf(res(4, 0, 0), res(8, 0, 0)))).toBe(false);
  });
});

// ---- effective capacity ---------------------------------------------------------------------------

describe("effectiveCapacity (QUO-2)", () => {
  it("is the capacity at ratio 1 without a reserve", () => {
    expect(effectiveCapacity(res(64, 262144, 4000), noPolicy)).toEqual(res(64, 262144, 4000));
  });

  it("takes off the reserve and then applies the ratio, rounding down", () => {
    expect(
      effectiveCapacity(res(64, 262144, 4000), {
        reservedPerHost: res(4, 8192, 100),
        cpuAllocationRatio: 4,
        memoryAllocationRatio: 1.5,
        storageAllocationRatio: 1.1,
      }),
    ).toEqual(res(240, 380928, 4290));
    expect(
      effectiveCapacity(res(3, 3, 3), { ...noPolicy, cpuAllocationRatio: 0.5, memoryAllocationRatio: 0.5, storageAllocationRatio: 0.5 }),
    ).toEqual(res(1, 1, 1));
  });

  it("is zero, never negative, for a host without capacity or smaller than its reserve", () => {
    expect(effectiveCapacity(zero, noPolicy)).toEqual(zero);
    expect(effectiveCapacity(zero, { ...noPolicy, reservedPerHost: res(2, 4096, 20), cpuAllocationRatio: 16 })).toEqual(zero);
    expect(effectiveCapacity(res(1, 1024, 10), { ...noPolicy, reservedPerHost: res(2, 4096, 20), cpuAllocationRatio: 16 })).toEqual(zero);
  });

  it("property: never negative, an integer, and at most (capacity − reserve) × ratio but less than one below it", () => {
    fc.assert(
      fc.property(resourcesArb(100_000), policyArb, (capacity, policy) => {
        const effective = effectiveCapacity(capacity, policy);
        const ratios = {
          cpuCores: policy.cpuAllocationRatio,
          memoryMib: policy.memoryAllocationRatio,
          storageGib: policy.storageAllocationRatio,
        };
        for (const r of resourceNames) {
          expect(effective[r]).toBeGreaterThanOrEqual(0);
          expect(Number.isInteger(effective[r])).toBe(true);
          const exact = Math.max(0, (capacity[r] - policy.reservedPerHost[r]) * ratios[r]);
          expect(effective[r]).toBeLessThanOrEqual(exact);
          expect(effective[r]).toBeGreaterThan(exact - 1 - 1e-9 * exact);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("property: equals the capacity at ratio 1 without a reserve", () => {
    fc.assert(
      fc.property(resourcesArb(10_000_000), (capacity) => {
        expect(effectiveCapacity(capacity, noPolicy)).toEqual(capacity);
      }),
    );
  });

  it("property: scales linearly with the ratio — ×k for an integer ratio k, doubling the ratio doubles it give or take one, monotonic", () => {
    fc.assert(
      fc.property(
        resourcesArb(100_000),
        resourcesArb(8),
        fc.integer({ min: 1, max: 16 }),
        ratioArb,
        ratioArb,
        (capacity, reserve, k, r, s) => {
          const at = (ratio: number) =>
            effectiveCapacity(capacity, {
              reservedPerHost: reserve,
              cpuAllocationRatio: ratio,
              memoryAllocationRatio: ratio,
              storageAllocationRatio: ratio,
            });
          const one = at(1);
          const times = at(k);
          const single = at(r);
          const doubled = at(2 * r);
          const [low, high] = r <= s ? [at(r), at(s)] : [at(s), at(r)];
          for (const name of resourceNames) {
            expect(times[name]).toBe(k * one[name]);
            expect(doubled[name] - 2 * single[name]).toBeGreaterThanOrEqual(0);
            expect(doubled[name] - 2 * single[name]).toBeLessThanOrEqual(1);
            expect(low[name]).toBeLessThanOrEqual(high[name]);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

// ---- placement ------------------------------------------------------------------------------------

describe("score and rank (VM-3)", () => {
  const effective = res(32, 65536, 1000);
  const empty = candidate("b", effective, effective);
  const half = candidate("a", effective, res(16, 32768, 500));
  const asked = res(4, 8192, 100);

  it("SPREAD takes the emptiest host first, PACK the fullest", () => {
    expect(rank("SPREAD", [half, empty], asked).map((c) => c.baremetalId)).toEqual(["b", "a"]);
    expect(rank("PACK", [empty, half], asked).map((c) => c.baremetalId)).toEqual(["a", "b"]);
  });

  it("scores the share left free after placing, averaged over the three resources", () => {
    expect(score("SPREAD", empty, zero)).toBe(1);
    expect(score("SPREAD", empty, res(16, 32768, 500))).toBe(0.5);
    expect(score("PACK", empty, res(16, 32768, 500))).toBe(-0.5);
    expect(score("SPREAD", half, res(16, 32768, 500))).toBe(0);
  });

  it("counts a resource a host has none of as no share, without dividing by zero", () => {
    const zeroHost = candidate("z", zero, zero);
    expect(score("SPREAD", zeroHost, zero)).toBe(0);
    expect(score("SPREAD", zeroHost, asked)).toBe(0);
    expect(Number.isFinite(score("PACK", zeroHost, asked))).toBe(true);
    const diskless = candidate("d", res(32, 65536, 0), res(32, 65536, 0));
    expect(score("SPREAD", diskless, zero)).toBeCloseTo(2 / 3, 12);
    // Both zero-capacity hosts score 0 (or −0): the id decides, under either policy.
    const other = candidate("y", zero, zero);
    expect(rank("SPREAD", [zeroHost, other], zero).map((c) => c.baremetalId)).toEqual(["y", "z"]);
    expect(rank("PACK", [zeroHost, other], zero).map((c) => c.baremetalId)).toEqual(["y", "z"]);
  });

  it("breaks ties by id and keeps every candidate, with its score", () => {
    const twins = ["c", "a", "b"].map((id) => candidate(id, effective, effective));
    const ranked = rank("SPREAD", twins, asked);
    expect(ranked.map((c) => c.baremetalId)).toEqual(["a", "b", "c"]);
    expect(ranked.every((c) => c.score === score("SPREAD", c, asked))).toBe(true);
    expect(rank("PACK", [], asked)).toEqual([]);
    expect(twins.map((c) => c.baremetalId)).toEqual(["c", "a", "b"]);
  });

  /** Two hosts of the same size; one has at least as much free on every resource and more on one. */
  const emptierAndFullerArb = fc
    .record({
      effective: resourcesArb(10_000).map((e) => add(e, res(1, 1, 1))),
      seed: fc.tuple(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
      ),
    })
    .chain(({ effective, seed }) => {
      const fuller = res(
        Math.floor(effective.cpuCores * seed[0]),
        Math.floor(effective.memoryMib * seed[1]),
        Math.floor(effective.storageGib * seed[2]),
      );
      return fc
        .record({
          extra: fc.record({
            cpuCores: fc.nat(effective.cpuCores - fuller.cpuCores),
            memoryMib: fc.nat(effective.memoryMib - fuller.memoryMib),
            storageGib: fc.nat(effective.storageGib - fuller.storageGib),
          }),
          ids: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 2, maxLength: 2 }),
        })
        .filter(({ extra }) => extra.cpuCores + extra.memoryMib + extra.storageGib > 0)
        .map(({ extra, ids }) => ({ effective, fuller, emptier: add(fuller, extra), ids: ids as [string, string] }));
    });

  it("property: SPREAD puts a strictly emptier host before a fuller one for the same request, PACK the opposite — whatever the ids", () => {
    fc.assert(
      fc.property(emptierAndFullerArb, resourcesArb(100), fc.boolean(), ({ effective: size, fuller, emptier, ids }, request, swap) => {
        const e = candidate(ids[0], size, emptier);
        const f = candidate(ids[1], size, fuller);
        const input = swap ? [f, e] : [e, f];
        expect(rank("SPREAD", input, request).map((c) => c.baremetalId)).toEqual([e.baremetalId, f.baremetalId]);
        expect(rank("PACK", input, request).map((c) => c.baremetalId)).toEqual([f.baremetalId, e.baremetalId]);
      }),
      { numRuns: 1000 },
    );
  });

  const candidatesArb = fc.uniqueArray(
    fc
      .record({
        baremetalId: fc.string({ minLength: 1, maxLength: 4 }),
        effective: resourcesArb(64),
        used: fc.tuple(fc.nat(64), fc.nat(512), fc.nat(256)),
      })
      .map(({ baremetalId, effective, used }) =>
        candidate(
          baremetalId,
          effective,
          freeOf(
            effective,
            res(Math.min(used[0], effective.cpuCores), Math.min(used[1], effective.memoryMib), Math.min(used[2], effective.storageGib)),
          ),
        ),
      ),
    { selector: (c) => c.baremetalId, maxLength: 12 },
  );

  it("property: rank is deterministic — the same order whatever the input order, sorted by score then id, SPREAD and PACK reversed in score", () => {
    fc.assert(
      fc.property(placementArb, candidatesArb, resourcesArb(32), fc.nat(), (policy, candidates, asked, shuffleSeed) => {
        const ranked = rank(policy, candidates, asked);
        const rotated = [
          ...candidates.slice(shuffleSeed % Math.max(1, candidates.length)),
          ...candidates.slice(0, shuffleSeed % Math.max(1, candidates.length)),
        ];
        expect(rank(policy, [...rotated].reverse(), asked).map((c) => c.baremetalId)).toEqual(ranked.map((c) => c.baremetalId));
        expect(ranked).toHaveLength(candidates.length);
        for (let i = 1; i < ranked.length; i++) {
          const [before, after] = [ranked[i - 1]!, ranked[i]!];
          expect(before.score > after.score || (before.score === after.score && before.baremetalId < after.baremetalId)).toBe(true);
        }
        for (const c of ranked) expect(score(policy === "SPREAD" ? "PACK" : "SPREAD", c, asked)).toBe(-c.score);
      }),
      { numRuns: 1000 },
    );
  });
});

// ---- quota + placement together (QUO-4) -----------------------------------------------------------

describe("greedy reservation against quota and capacity (QUO-4, QUO-5)", () => {
  interface Outcome {
    readonly accepted: Resources[];
    readonly allocated: Resources[];
    readonly used: Resources;
  }

  /** Accepts a request only when the quota has room and some host fits it; places it on the best-ranked host that fits. */
  function reserve(
    effective: readonly Resources[],
    placement: PlacementPolicy,
    limitAt: (index: number) => Resources,
    requests: readonly Resources[],
    start?: { readonly allocated: Resources[]; readonly used: Resources },
  ): Outcome & { readonly refusals: Array<"quota" | "capacity"> } {
    const allocated = start ? [...start.allocated] : effective.map(() => zero);
    let used = start?.used ?? zero;
    const accepted: Resources[] = [];
    const refusals: Array<"quota" | "capacity"> = [];
    for (const [index, request] of requests.entries()) {
      if (quotaShortfall(limitAt(index), used, request) !== undefined) {
        refusals.push("quota");
        continue;
      }
      const candidates = effective
        .map((e, i) => candidate(`h${String(i).padStart(3, "0")}`, e, freeOf(e, allocated[i]!)))
        .filter((c) => fits(request, c.free));
      const best = rank(placement, candidates, request)[0];
      if (!best) {
        refusals.push("capacity");
        continue;
      }
      const at = Number(best.baremetalId.slice(1));
      allocated[at] = add(allocated[at]!, request);
      used = add(used, request);
      accepted.push(request);
    }
    return { accepted, allocated, used, refusals };
  }

  const scenarioArb = fc.record({
    capacities: fc.array(resourcesArb(64), { minLength: 0, maxLength: 8 }),
    policy: policyArb,
    limits: limitsArb,
    placement: placementArb,
    requests: fc.array(resourcesArb(24), { maxLength: 60 }),
  });

  it("property: accepted requests never pass the resolved limit, and no host's allocation passes its effective capacity", () => {
    fc.assert(
      fc.property(scenarioArb, ({ capacities, policy, limits, placement, requests }) => {
        const effective = capacities.map((c) => effectiveCapacity(c, policy));
        const limit = resolveLimits(limits, sum(effective));
        const outcome = reserve(effective, placement, () => limit, requests);
        expect(within(sum(outcome.accepted), limit)).toBe(true);
        expect(outcome.used).toEqual(sum(outcome.accepted));
        expect(sum(outcome.allocated)).toEqual(outcome.used);
        for (const [i, a] of outcome.allocated.entries()) expect(within(a, effective[i]!)).toBe(true);
        expect(outcome.accepted.length + outcome.refusals.length).toBe(requests.length);
        // A percentage limit is taken of the group: at most 100% means it never exceeds the group either.
        for (const r of resourceNames) if ("percent" in limits[r]) expect(limit[r]).toBeLessThanOrEqual(sum(effective)[r]);
      }),
      { numRuns: 500 },
    );
  });

  it("property: after a limit is lowered, nothing is evicted and every later acceptance stays within the new limit", () => {
    fc.assert(
      fc.property(
        scenarioArb,
        limitsArb,
        fc.array(resourcesArb(24), { maxLength: 30 }),
        ({ capacities, policy, limits, placement, requests }, lowerTo, later) => {
          const effective = capacities.map((c) => effectiveCapacity(c, policy));
          const group = sum(effective);
          const before = resolveLimits(limits, group);
          const first = reserve(effective, placement, () => before, requests);
          const after = resolveLimits(lowerTo, group);
          const lowered: Resources = res(
            Math.min(before.cpuCores, after.cpuCores),
            Math.min(before.memoryMib, after.memoryMib),
            Math.min(before.storageGib, after.storageGib),
          );
          const second = reserve(effective, placement, () => lowered, later, first);
          // Nothing taken back.
          for (const r of resourceNames) expect(second.used[r]).toBeGreaterThanOrEqual(first.used[r]);
          if (second.accepted.length > 0) expect(within(second.used, lowered)).toBe(true);
          if (!within(first.used, lowered)) expect(second.accepted).toEqual([]);
          for (const [i, a] of second.allocated.entries()) expect(within(a, effective[i]!)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("places nothing on zero-capacity hosts and nothing at all under percent 0", () => {
    const hosts = [zero, zero];
    const outcome = reserve(hosts, "SPREAD", () => res(100, 100, 100), [res(1, 0, 0), zero]);
    expect(outcome.refusals).toEqual(["capacity"]);
    expect(outcome.accepted).toEqual([zero]);

    const group = [res(16, 1024, 100)];
    const limit = resolveLimits({ cpuCores: { percent: 0 }, memoryMib: { percent: 100 }, storageGib: { absolute: 1000 } }, sum(group));
    expect(reserve(group, "PACK", () => limit, [res(1, 1, 1), res(1, 0, 0)]).refusals).toEqual(["quota", "quota"]);
  });

  it("SPREAD spreads equal requests across equal hosts; PACK fills one host first", () => {
    const hosts = [res(8, 8, 8), res(8, 8, 8), res(8, 8, 8)];
    const many = res(1000, 1000, 1000);
    const spread = reserve(hosts, "SPREAD", () => many, [res(2, 2, 2), res(2, 2, 2), res(2, 2, 2)]);
    expect(spread.allocated).toEqual([res(2, 2, 2), res(2, 2, 2), res(2, 2, 2)]);
    const pack = reserve(hosts, "PACK", () => many, [res(2, 2, 2), res(2, 2, 2), res(2, 2, 2), res(2, 2, 2), res(2, 2, 2)]);
    expect(pack.allocated).toEqual([res(8, 8, 8), res(2, 2, 2), zero]);
  });
});

// ---- custom fields (HOST-1) -----------------------------------------------------------------------

describe("customFieldProblems (HOST-1)", () => {
  const definition = (
    name: string,
    type: CustomFieldDefinition["type"],
    required = false,
    enumValues: string[] = [],
    resourceTypes = ["baremetal"],
  ): CustomFieldDefinition => ({
    id: `id-${name}`,
    name,
    type,
    enumValues,
    required,
    resourceTypes,
    description: "",
    createTime: new Date(0),
  });
  const definitions = [
    definition("owner", "STRING", true),
    definition("cores_disabled", "INTEGER"),
    definition("gpu", "BOOLEAN"),
    definition("tier", "ENUM", false, ["gold", "silver"]),
    definition("rack_note", "STRING", true, [], ["rack"]),
  ];

  it("accepts values of the defined types", () => {
    expect(customFieldProblems(definitions, "baremetal", { owner: "ops", cores_disabled: 2, gpu: false, tier: "gold" }, true)).toEqual([]);
    expect(customFieldProblems(definitions, "baremetal", {}, false)).toEqual([]);
  });

  it("names each field with a problem", () => {
    const problems = customFieldProblems(
      definitions,
      "baremetal",
      { owner: 7, cores_disabled: 1.5, gpu: "yes", tier: "bronze", rack_note: "x", unknown: 1 },
      true,
    );
    expect(problems.map((p) => p.field)).toEqual(["owner", "cores_disabled", "gpu", "tier", "rack_note", "unknown"]);
    expect(problems.find((p) => p.field === "tier")?.problem).toContain("gold, silver");
    expect(customFieldProblems(definitions, "baremetal", { owner: "x".repeat(1025) }, false)).toHaveLength(1);
    expect(customFieldProblems(definitions, "baremetal", { cores_disabled: 2 ** 53 }, false)).toHaveLength(1);
  });

  it("asks for required fields only when the values are complete, and only those of the resource type", () => {
    expect(customFieldProblems(definitions, "baremetal", {}, true)).toEqual([{ field: "owner", problem: "is required" }]);
    expect(customFieldProblems(definitions, "rack", {}, true)).toEqual([{ field: "rack_note", problem: "is required" }]);
  });

  it("asks for a required field whose name is also an Object.prototype member", () => {
    // "constructor" is a valid field name (lower snake case); `in` would find it on every object.
    const inherited = [definition("constructor", "STRING", true)];
    expect(customFieldProblems(inherited, "baremetal", {}, true)).toEqual([{ field: "constructor", problem: "is required" }]);
    expect(customFieldProblems(inherited, "baremetal", { constructor: "x" }, true)).toEqual([]);
  });
});

describe("candidates left within a batch of creations", () => {
  it("greedy decisions over shared candidates never take more than a host had free", () => {
    // A batch's creations see the same candidates; each takes the best of what the earlier left.
    const hostsArb = fc.uniqueArray(fc.record({ id: fc.uuid(), free: resourcesArb(64) }), {
      selector: (host) => host.id,
      minLength: 1,
      maxLength: 8,
    });
    fc.assert(
      fc.property(hostsArb, fc.array(resourcesArb(16), { minLength: 1, maxLength: 16 }), placementArb, (hosts, asks, policy) => {
        const candidates = hosts.map((host) => candidate(host.id, res(64, 512, 256), host.free));
        const taken = new Map<string, Resources>();
        for (const asked of asks) {
          const left = candidatesLeft(
            candidates.filter((c) => fits(asked, c.free)),
            taken,
            asked,
          );
          for (const c of left) expect(fits(asked, c.free)).toBe(true);
          const chosen = rank(policy, left, asked)[0];
          if (chosen) taken.set(chosen.baremetalId, add(taken.get(chosen.baremetalId) ?? zero, asked));
        }
        for (const host of hosts) expect(fits(taken.get(host.id) ?? zero, host.free)).toBe(true);
      }),
    );
  });

  it("leaves a candidate untouched when nothing was taken from it", () => {
    const a = candidate("a", res(16, 100, 100), res(8, 50, 50));
    const b = candidate("b", res(16, 100, 100), res(8, 50, 50));
    const left = candidatesLeft([a, b], new Map([["a", res(7, 0, 0)]]), res(2, 10, 10));
    expect(left).toEqual([b]);
    expect(left[0]).toBe(b);
    expect(candidatesLeft([a], new Map([["a", res(6, 40, 0)]]), res(2, 10, 10))).toEqual([{ ...a, free: res(2, 10, 50) }]);
  });
});
