// What counts as "the database is unavailable" (app/database-errors.ts), on real driver errors.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { isDatabaseUnavailable } from "../../src/app/database-errors.js";

const dir = mkdtempSync(join(tmpdir(), "rackplane-no-socket-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("reads a unix-domain socket whose server is gone (no socket file) as the database unavailable", async () => {
  const client = new pg.Client({ host: dir, port: 5432, user: "u", database: "d" });
  const error = await client.connect().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect((error as { code?: string }).code).toBe("ENOENT");
  expect(isDatabaseUnavailable(error)).toBe(true);
});

it("does not read any missing file as the database unavailable", () => {
  let error: unknown;
  try {
    readFileSync(join(dir, "missing"));
  } catch (e) {
    error = e;
  }
  expect((error as { code?: string }).code).toBe("ENOENT");
  expect(isDatabaseUnavailable(error)).toBe(false);
});
