// One PostgreSQL for the whole run: DATABASE_URL when given, otherwise a throwaway embedded one.
// A template database with every migration applied is prepared once; each test file clones it
// (CREATE DATABASE … TEMPLATE), which takes milliseconds and keeps files independent.
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../src/persistence/embedded-postgres.js";
import { openDatabase } from "../../src/persistence/orm.js";

declare module "vitest" {
  export interface ProvidedContext {
    postgresServerUrl: string;
    templateDatabase: string;
  }
}

let embedded: EmbeddedDatabase | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  let baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    dir = mkdtempSync(join(tmpdir(), "rackplane-test-"));
    // RACKPLANE_TEST_PG_LOG=FILE keeps PostgreSQL's own log (deadlock reports name both statements).
    const logFile = process.env.RACKPLANE_TEST_PG_LOG;
    embedded = await startEmbeddedPostgres({
      dir,
      durable: false,
      ...(logFile ? { log: (line: string) => appendFileSync(logFile, `${line}\n`), settings: ["log_lock_waits=on"] } : {}),
    });
    baseUrl = embedded.url;
  }
  const template = `rackplane_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  await admin.end();
  const orm = await openDatabase(withDatabase(baseUrl, template));
  await orm.close();
  project.provide("postgresServerUrl", baseUrl);
  project.provide("templateDatabase", template);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
