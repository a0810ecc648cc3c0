// Read routing (DATABASE_READ_URL, docs/deployment.md "Read routing"): the reads of Get and List
// calls go to the read pool, everything else stays on the primary: writes, and the re-read a Create
// or Update answers with. A second database stands in for the streaming replica; it is never
// written to, so what a call answers tells which database it read.
import { Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freshDatabaseUrl } from "../support/database.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let replicaUrl: string;
beforeAll(async () => {
  replicaUrl = await freshDatabaseUrl();
  t = await startTestServer(undefined, { databaseReadUrl: replicaUrl });
});
afterAll(async () => {
  await t?.close();
});

async function count(url: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(sql);
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

it("sends Get and List reads to the replica, and writes and a write's own re-read to the primary", async () => {
  const { inventory } = t.clients();
  const replicaAudit = await count(replicaUrl, "select count(*) as n from audit_event");
  // The Create answers with its own re-read, from the primary: the new region.
  const { region } = await inventory.createRegion({ region: { name: "routed", description: "first" } });
  expect(region?.name).toBe("routed");
  const { region: updated } = await inventory.updateRegion({
    region: { id: region!.id, description: "second", etag: region!.etag },
    updateMask: { paths: ["description"] },
  });
  expect(updated?.description).toBe("second");

  // Get and List read the replica, which has not got it.
  const missing = await inventory.getRegion({ id: region!.id }).catch((e: unknown) => ConnectError.from(e));
  expect((missing as ConnectError).code).toBe(Code.NotFound);
  expect((await inventory.listRegions({ filter: 'name = "routed"' })).regions).toEqual([]);

  // No write reached the replica; the primary has them all.
  expect(await count(replicaUrl, "select count(*) as n from region")).toBe(0);
  expect(await count(replicaUrl, "select count(*) as n from audit_event")).toBe(replicaAudit);
  const primary = t.server.db.em();
  const [row] = await primary.execute<{ description: string }[]>("select description from region where id = ?", [region!.id]);
  expect(row?.description).toBe("second");
});

it("reads from the primary when the replica cannot be reached", async () => {
  // Nothing listens on port 1: every replica connection is refused.
  const unreachable = await startTestServer(undefined, { databaseReadUrl: "postgres://postgres@127.0.0.1:1/postgres" });
  try {
    const { inventory } = unreachable.clients();
    const { region } = await inventory.createRegion({ region: { name: "fallback" } });
    expect((await inventory.getRegion({ id: region!.id })).region?.name).toBe("fallback");
    expect((await inventory.listRegions({ filter: 'name = "fallback"' })).regions.map((r) => r.id)).toEqual([region!.id]);
  } finally {
    await unreachable.close();
  }
});
