// The query-builder SQL kept per shape (src/persistence/query-shapes.ts), against MikroORM's real
// query builder: for every kind of condition a list writes, the cached query is exactly the one the
// builder writes for the same values, and the builder stops being called once a shape is known —
// except for conditions whose values the builder does not pass through as plain parameters.
import type { MikroORM } from "@mikro-orm/postgresql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../src/domain/ids.js";
import { Rack } from "../../src/persistence/entities/index.js";
import { openDatabase } from "../../src/persistence/orm.js";
import { queryOfShape } from "../../src/persistence/query-shapes.js";
import type { ReadQuery } from "../../src/persistence/reads.js";
import { freshDatabaseUrl } from "../support/database.js";

let orm: MikroORM;
beforeAll(async () => {
  orm = await openDatabase(await freshDatabaseUrl(), 1);
});
afterAll(async () => {
  await orm?.close();
});

let builds = 0;
function build(condition: unknown): ReadQuery {
  builds++;
  return orm.em
    .fork()
    .createQueryBuilder(Rack)
    .select("*")
    .where(condition as never)
    .orderBy({ id: "asc" })
    .limit(51)
    .toQuery();
}

/** Conditions of each kind a list writes (scope, AIP-160 filters, keyset), as functions of their values. */
const kinds: Record<string, (n: number) => object> = {
  equality: (n) => ({ $and: [{ regionId: newId() }, { status: { $eq: n % 2 ? "ACTIVE" : "PLANNED" } }] }),
  "keyset after a filter": () => ({ $and: [{ name: { $ilike: `%r${newId()}%` } }, { id: { $gt: newId() } }] }),
  numbers: (n) => ({ $and: [{ heightUnits: { $gte: 40 + n } }, { heightUnits: { $lt: 100 + n } }] }),
  "sorted keyset on a time": (n) => {
    const at = new Date(Date.UTC(2026, 0, 1 + n));
    return { $or: [{ createTime: { $gt: at } }, { createTime: at, id: { $gt: newId() } }] };
  },
  "not and like": (n) => ({ $not: { name: { $like: `rack-${n}%` } } }),
  "is null": (n) => ({ $and: [{ asn: null }, { name: { $ne: `x${n}` } }] }),
  "or of three": (n) => ({ $or: [{ name: `a${n}` }, { name: `b${n}` }, { roomId: newId() }] }),
};

describe("query texts kept per shape", () => {
  for (const [kind, condition] of Object.entries(kinds)) {
    it(`${kind}: the kept query equals the builder's, and the builder is not called once the shape is known`, () => {
      const key = `rack ${kind}`;
      for (let n = 1; n <= 4; n++) {
        const where = condition(n);
        const reference = build(where);
        builds = 0;
        expect(queryOfShape(key, where, build)).toEqual(reference);
        // First call: learnt with sentinels, then checked against the builder; after that, looked up.
        if (n >= 3) expect(builds).toBe(0);
      }
    });
  }

  it("keeps no query for a condition whose value the builder does not pass as a plain parameter", () => {
    const key = "rack contains";
    for (let n = 1; n <= 3; n++) {
      const where = { torSwitches: { $contains: [`tor-${n}`] } };
      const reference = build(where);
      builds = 0;
      expect(queryOfShape(key, where, build)).toEqual(reference);
      expect(builds).toBeGreaterThan(0);
    }
  });

  it("tells apart shapes that differ only in the number of values or in a null", () => {
    const key = "rack lengths";
    const one = { id: { $in: [newId()] } };
    const two = { id: { $in: [newId(), newId()] } };
    const nulled = { asn: null };
    const valued = { asn: 65_001 };
    for (const where of [one, two, one, two, nulled, valued, nulled, valued]) expect(queryOfShape(key, where, build)).toEqual(build(where));
  });
});
