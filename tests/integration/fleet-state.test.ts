// The fleet-wide gauges of /metrics are read from the database at every scrape, on every replica:
// each must be answered from an index, not by reading a table that only grows.
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openOperationsSql } from "../../src/app/fleet-state.js";
import { freshDatabaseUrl } from "../support/database.js";

let client: pg.Client;
beforeAll(async () => {
  client = new pg.Client({ connectionString: await freshDatabaseUrl() });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
});

it("counts unfinished operations from their partial index", async () => {
  // An empty table is read whole whatever its indexes; forbidding that shows which index serves.
  await client.query("begin");
  try {
    await client.query("set local enable_seqscan = off");
    const { rows } = await client.query<{ "QUERY PLAN": string }>(`explain ${openOperationsSql}`);
    const plan = rows.map((row) => row["QUERY PLAN"]).join("\n");
    expect(plan).toContain("operation_open_index");
  } finally {
    await client.query("rollback");
  }
});
