import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { withDatabase } from "./global-setup.js";

/** A new database with every migration applied, for one test file (or one test). */
export async function freshDatabaseUrl(): Promise<string> {
  const server = inject("postgresServerUrl");
  const name = `rackplane_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject("templateDatabase")}`);
  } finally {
    await admin.end();
  }
  return withDatabase(server, name);
}
