// The pipelined transaction (BEGIN with the first statement, COMMIT with the final one) and the
// prepared statements that run on it, against real PostgreSQL: what commits, what rolls back, and
// that a connection goes back to the pool clean after every kind of failure.
import type { MikroORM } from "@mikro-orm/postgresql";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CallContext } from "../../src/app/context.js";
import { Database } from "../../src/app/database.js";
import { mutatePipelined } from "../../src/app/mutation.js";
import { AbortedError } from "../../src/domain/errors.js";
import { openDatabase } from "../../src/persistence/orm.js";
import { formatStatement, pipelinedTransaction } from "../../src/persistence/pipelined-transaction.js";
import { executePrepared, preparedStatement } from "../../src/persistence/prepared.js";
import { freshDatabaseUrl } from "../support/database.js";

const tenant = "00000000-0000-7000-8000-0000000000aa";
const sequenceValue = preparedStatement(
  "test_sequence_value",
  "select last_value from name_sequence where tenant_id = ? and prefix = any(?::text[])",
);

let orm: MikroORM;
let observer: pg.Client;
beforeAll(async () => {
  const url = await freshDatabaseUrl();
  // One connection: every test reuses the connection the previous one left behind.
  orm = await openDatabase(url, 1);
  observer = new pg.Client({ connectionString: url });
  await observer.connect();
  await observer.query(
    "insert into tenant (id, version, create_time, update_time, name, kind) values ($1, 1, now(), now(), 'pipelined', 'PROJECT')",
    [tenant],
  );
});
afterAll(async () => {
  await observer.end();
  await orm.close();
});

const insertSequence = (prefix: string) =>
  ["insert into name_sequence (tenant_id, prefix, last_value) values (?, ?, 1)", [tenant, prefix]] as const;
async function sequences(prefix: string): Promise<number> {
  return (await observer.query("select count(*)::int as n from name_sequence where prefix = $1", [prefix])).rows[0].n;
}
async function openTransactions(): Promise<number> {
  return (
    await observer.query(
      "select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'",
    )
  ).rows[0].n;
}

describe("a pipelined transaction", () => {
  it("commits with its final statement, and nothing is visible before", async () => {
    await pipelinedTransaction(orm, async (tx) => {
      await tx.execute(...insertSequence("first"));
      expect(await sequences("first")).toBe(0);
      tx.commitWithNext();
      const rows = await tx.execute<{ n: number }[]>("select count(*)::int as n from name_sequence where prefix = ?", ["first"]);
      expect(rows).toEqual([{ n: 1 }]);
    });
    expect(await sequences("first")).toBe(1);
    expect(await openTransactions()).toBe(0);
  });

  it("commits at the end when no statement was marked final, and begins and commits a lone final statement", async () => {
    await pipelinedTransaction(orm, (tx) => tx.execute(...insertSequence("unmarked")));
    await pipelinedTransaction(orm, async (tx) => {
      tx.commitWithNext();
      await tx.execute(...insertSequence("lone"));
    });
    expect([await sequences("unmarked"), await sequences("lone")]).toEqual([1, 1]);
    expect(await openTransactions()).toBe(0);
  });

  it("rolls everything back when the final statement fails, and answers ABORTED for a failed check", async () => {
    const ctx: CallContext = {
      principal: { name: "test", role: "PLATFORM_ADMIN", tenantId: null } as never,
      requestId: "r1",
      method: "test/Check",
      audit: { resourceType: "test", resourceId: "x", written: false },
    };
    const failing = mutatePipelined(new Database(orm), ctx, async (tx) => {
      await tx.execute(...insertSequence("checked"));
      tx.commitWithNext();
      await tx.execute("select rackplane_require(false, 'the check failed')");
    });
    await expect(failing).rejects.toBeInstanceOf(AbortedError);
    await expect(failing).rejects.toMatchObject({ reason: "CONCURRENT_CHANGE" });
    expect(await sequences("checked")).toBe(0);
    expect(await openTransactions()).toBe(0);
    const audited = await observer.query("select count(*)::int as n from audit_event where request_id = 'r1'");
    expect(audited.rows[0].n).toBe(0);
  });

  it("rolls back when the use case throws between statements, and after a constraint violation", async () => {
    await expect(
      pipelinedTransaction(orm, async (tx) => {
        await tx.execute(...insertSequence("thrown"));
        throw new Error("the use case refused");
      }),
    ).rejects.toThrow("the use case refused");
    await expect(
      pipelinedTransaction(orm, async (tx) => {
        await tx.execute(...insertSequence("duplicate"));
        tx.commitWithNext();
        await tx.execute(...insertSequence("duplicate"));
      }),
    ).rejects.toMatchObject({ name: "UniqueConstraintViolationException" });
    expect([await sequences("thrown"), await sequences("duplicate")]).toEqual([0, 0]);
    expect(await openTransactions()).toBe(0);
  });

  it("refuses a statement after the final one", async () => {
    await expect(
      pipelinedTransaction(orm, async (tx) => {
        tx.commitWithNext();
        await tx.execute(...insertSequence("after"));
        await tx.execute("select 1");
      }),
    ).rejects.toThrow("already committed");
    // The final statement had committed; the one after it never ran.
    expect(await sequences("after")).toBe(1);
  });

  it("runs a declared statement prepared on its connection, and as plain SQL through an EntityManager", async () => {
    await observer.query("insert into name_sequence (tenant_id, prefix, last_value) values ($1, 'p-a', 7), ($1, 'p\"b', 9)", [tenant]);
    const prefixes = ["p-a", 'p"b', "absent"];
    const viaPrepared = await pipelinedTransaction(orm, (tx) =>
      executePrepared<{ last_value: number }[]>(tx, sequenceValue, [tenant, prefixes]),
    );
    const viaEntityManager = await executePrepared<{ last_value: number }[]>(orm.em.fork(), sequenceValue, [tenant, prefixes]);
    expect(viaPrepared.map((row) => row.last_value).sort()).toEqual([7, 9]);
    expect(viaEntityManager).toEqual(viaPrepared);
    const prepared = await pipelinedTransaction(orm, (tx) =>
      tx.execute<{ name: string }[]>("select name from pg_prepared_statements where name = ?", [sequenceValue.name]),
    );
    expect(prepared).toEqual([{ name: sequenceValue.name }]);
  });
});

describe("the pipelined transaction's literals", () => {
  // Each value with the type it is read as: PostgreSQL must read the same value from the literal
  // formatStatement writes as from the one MikroORM's em.execute writes.
  const noNul = (text: string) => !text.includes("\0");
  const typed = fc.oneof(
    fc.tuple(fc.string({ unit: "binary" }).filter(noNul), fc.constant("text")),
    fc.tuple(fc.constantFrom("it's", "back\\slash", "\\'; select 1; --", "?", "''", "\\\\"), fc.constant("text")),
    fc.tuple(fc.integer(), fc.constant("bigint")),
    fc.tuple(
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => n === 0 || Math.abs(n) > 1e-300),
      fc.constant("float8"),
    ),
    fc.tuple(fc.boolean(), fc.constant("boolean")),
    fc.tuple(fc.constant(null), fc.constant("text")),
    fc.tuple(fc.date({ min: new Date("1970-01-01"), max: new Date("2200-01-01"), noInvalidDate: true }), fc.constant("timestamptz")),
    fc.tuple(
      fc.dictionary(fc.string().filter(noNul), fc.oneof(fc.string({ unit: "binary" }).filter(noNul), fc.integer(), fc.boolean())),
      fc.constant("jsonb"),
    ),
  );

  it("mean to PostgreSQL what MikroORM's literals mean", async () => {
    const platform = orm.em.getPlatform();
    await fc.assert(
      fc.asyncProperty(fc.array(typed, { minLength: 1, maxLength: 6 }), async (values) => {
        const comparisons = values.map(
          ([value, type], i) =>
            `(${formatStatement("?", [value])})::${type} is not distinct from (${platform.formatQuery("?", [value])})::${type} as same_${i}`,
        );
        const { rows } = await observer.query(`select ${comparisons.join(", ")}`);
        expect(Object.values(rows[0])).toEqual(values.map(() => true));
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a placeholder count that does not match the parameters, and keeps an escaped question mark", () => {
    expect(() => formatStatement("select ?, ?", [1])).toThrow("more placeholders");
    expect(() => formatStatement("select ?", [1, 2])).toThrow("1 placeholders for 2 parameters");
    expect(formatStatement("select '\\?', ?", ["a"])).toBe("select '?', 'a'");
    expect(formatStatement("select ?", [["a", "b"]])).toBe("select 'a', 'b'");
  });
});
