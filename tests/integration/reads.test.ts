// Reads on prepared statements (src/persistence/reads.ts), against real PostgreSQL: the rows are
// the ones MikroORM's query builder maps (arrays, bigints, dates, nulls), a read inside a
// transaction sees that transaction's writes, a column added by a migration does not break them, and
// errors come out as MikroORM's exceptions.
import { DriverException, type MikroORM } from "@mikro-orm/postgresql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../src/domain/ids.js";
import { Datacenter, Rack, Region, Room } from "../../src/persistence/entities/index.js";
import { openDatabase } from "../../src/persistence/orm.js";
import { readRowById, readRows } from "../../src/persistence/reads.js";
import { freshDatabaseUrl } from "../support/database.js";

let orm: MikroORM;
const rackIds: string[] = [];
beforeAll(async () => {
  orm = await openDatabase(await freshDatabaseUrl(), 2);
  const em = orm.em.fork();
  const region = em.create(Region, { name: "reads", description: "" } as never);
  await em.flush();
  const datacenter = em.create(Datacenter, { name: "reads-dc", regionId: region.id } as never);
  await em.flush();
  const room = em.create(Room, { name: "reads-room", datacenterId: datacenter.id, regionId: region.id } as never);
  await em.flush();
  for (const [i, asn] of [4_200_000_000, null, 65_001].entries()) {
    const rack = em.create(Rack, {
      name: `rack-${i}`,
      roomId: room.id,
      datacenterId: datacenter.id,
      regionId: region.id,
      status: "ACTIVE",
      heightUnits: 42 + i,
      asn,
      torSwitches: i === 0 ? [] : ["tor-a", `tor-${i}`],
      allowedTenantIds: i === 2 ? [newId()] : [],
    } as never);
    await em.flush();
    rackIds.push(rack.id);
  }
});
afterAll(async () => {
  await orm?.close();
});

/** What the query builder's own execution maps a query to: the reference. */
function builder(where: object) {
  return orm.em.fork().createQueryBuilder(Rack).select("*").where(where).orderBy({ id: "asc" }).limit(10);
}

describe("reads on prepared statements", () => {
  it("map rows exactly as the query builder does, by id and for a filtered list", async () => {
    for (const id of rackIds) {
      expect(await readRowById(orm.em.fork(), Rack, id)).toEqual(await builder({ id }).execute("get", true));
    }
    for (const where of [{}, { heightUnits: { $gte: 43 } }, { torSwitches: { $contains: ["tor-a"] } }, { asn: null }]) {
      const reference = await builder(where).execute("all", true);
      // Twice: the second run executes the statement the connection prepared in the first.
      for (let run = 0; run < 2; run++) expect(await readRows(orm.em.fork(), Rack, builder(where).toQuery())).toEqual(reference);
    }
    expect(await readRowById(orm.em.fork(), Rack, newId())).toBeUndefined();
  });

  it("see the caller's uncommitted writes inside its transaction", async () => {
    await orm.em.fork().transactional(async (em) => {
      await em.execute("update rack set description = 'changed here' where id = ?", [rackIds[0]]);
      expect((await readRowById(em, Rack, rackIds[0]!))?.description).toBe("changed here");
      expect((await readRowById(orm.em.fork(), Rack, rackIds[0]!))?.description).toBe("");
    });
  });

  it("keep working after a migration adds a column to a table they read", async () => {
    // Both pooled connections prepare the by-id read and a list read first.
    const warm = () =>
      Promise.all([
        readRowById(orm.em.fork(), Rack, rackIds[1]!),
        readRowById(orm.em.fork(), Rack, rackIds[2]!),
        readRows(orm.em.fork(), Rack, builder({}).toQuery()),
      ]);
    await warm();
    await orm.em.fork().execute("alter table rack add column reads_probe text");
    try {
      // Without the stale-plan handling each of these fails with "cached plan must not change result
      // type", on every later read of the connection too.
      for (let run = 0; run < 3; run++) {
        const [one, two, list] = await warm();
        expect(one?.id).toBe(rackIds[1]);
        expect(two?.id).toBe(rackIds[2]);
        expect(list.map((rack) => rack.id)).toEqual(rackIds);
      }
    } finally {
      await orm.em.fork().execute("alter table rack drop column reads_probe");
    }
    expect((await readRowById(orm.em.fork(), Rack, rackIds[0]!))?.id).toBe(rackIds[0]);
  });

  it("fail with MikroORM's exceptions", async () => {
    await expect(readRowById(orm.em.fork(), Rack, "not-a-uuid")).rejects.toBeInstanceOf(DriverException);
  });
});
