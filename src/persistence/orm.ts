import { Migrator } from "@mikro-orm/migrations";
import { defineConfig, MikroORM, type Options } from "@mikro-orm/postgresql";
import { entities } from "./entities/index.js";
import { migrations } from "./migrations/index.js";
import { routines } from "./routines.js";
import pg from "pg";

// Every bigint this schema stores (ASNs, capacities, counts) fits a double exactly; reading them as
// numbers keeps plain-row reads and entity reads alike.
pg.types.setTypeParser(pg.types.builtins.INT8, Number);

export const migrationsFolder = new URL("./migrations/", import.meta.url);

export function ormOptions(databaseUrl: string, poolSize = 20): Options {
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
    // Each request forks its own EntityManager; the global one must never be used by accident.
    allowGlobalContext: false,
    debug: false,
  });
}

/** Connects and applies every pending migration (there is no schema sync outside tests). */
export async function openDatabase(databaseUrl: string, poolSize?: number): Promise<MikroORM> {
  const orm = await MikroORM.init(ormOptions(databaseUrl, poolSize));
  await orm.migrator.up();
  return orm;
}
