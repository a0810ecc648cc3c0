import { Migrator } from "@mikro-orm/migrations";
import { defineConfig, MikroORM, type Options } from "@mikro-orm/postgresql";
import { entities } from "./entities/index.js";
import { migrations } from "./migrations/index.js";
import { routines } from "./routines.js";
import pg from "pg";
import { connectionSettings } from "./connection-settings.js";
import { keepAlive, poolGuardOptions, poolTimeouts } from "./pool-guard.js";

// Every bigint this schema stores (ASNs, capacities, counts) fits a double exactly; reading them as
// numbers keeps plain-row reads and entity reads alike.
pg.types.setTypeParser(pg.types.builtins.INT8, Number);

export const migrationsFolder = new URL("./migrations/", import.meta.url);

export function ormOptions(databaseUrl: string, poolSize = 20): Options {
  const { connect_timeout, ...settings } = connectionSettings(databaseUrl);
  const timeouts = poolTimeouts({ ...settings, ...(connect_timeout !== undefined ? { connect_timeout } : {}) });
  return defineConfig({
    clientUrl: databaseUrl,
    entities,
    routines,
    extensions: [Migrator],
    migrations: {
      // Listed explicitly rather than discovered by glob: what runs is what the code imports.
      migrationsList: migrations,
      path: migrationsFolder.pathname,
      emit: "ts",
      snapshot: false,
      silent: true,
    },
    pool: { min: 1, max: poolSize },
    // A connection that reached a read-only server (a standby after a failover) is destroyed, not
    // pooled again, and every wait on the database is bounded (pool-guard.ts).
    // MikroORM reads only host, port, user, password and database from the URL; the TLS and session
    // settings it names reach every pooled connection through these (docs/deployment.md).
    driverOptions: { ...settings, ...poolGuardOptions(timeouts) },
    // Each request forks its own EntityManager; the global one must never be used by accident.
    allowGlobalContext: false,
    debug: false,
  });
}

/** The advisory lock key migrations run under: any fixed number no other code takes. */
const migrationLock = 7_257_622_018;

/** Connects and applies every pending migration (there is no schema sync outside tests). */
export async function openDatabase(databaseUrl: string, poolSize?: number): Promise<MikroORM> {
  const orm = await MikroORM.init(ormOptions(databaseUrl, poolSize));
  try {
    await migrateUnderLock(orm, databaseUrl);
  } catch (error) {
    await orm.close();
    throw error;
  }
  return orm;
}

/**
 * Replicas started together (a rolling restart, a fresh fleet) must not run the same migration at
 * once: each waits for a session-level advisory lock, held on a connection of its own (outside the
 * pool, which may have a single connection the migrator needs), and the first to get it migrates;
 * the others then find nothing pending. A lock holder that dies releases the lock with its session.
 */
async function migrateUnderLock(orm: MikroORM, databaseUrl: string): Promise<void> {
  // Bounded like the pool's connections, but not its queries: waiting for the lock while another
  // replica migrates is expected.
  const lock = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: poolTimeouts(connectionSettings(databaseUrl)).connectMs,
    ...keepAlive,
  });
  lock.on("error", () => undefined);
  await lock.connect();
  try {
    await lock.query("select pg_advisory_lock($1)", [migrationLock]);
    await orm.migrator.up();
  } finally {
    await lock.end().catch(() => undefined);
  }
}
