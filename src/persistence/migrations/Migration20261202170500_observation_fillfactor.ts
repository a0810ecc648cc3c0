import { Migration } from "@mikro-orm/migrations";

// Every resource's latest observation is rewritten every minute or so. With room left on each page,
// PostgreSQL writes the new version beside the old one (a HOT update: no new primary-key entry, the
// dead version pruned in place); on full pages almost every update moved the row and added an index
// entry. Pages written from now on keep 30% free; existing ones get it when the table is rewritten
// (VACUUM FULL), which is not needed for correctness. docs/observations.md, "Ingest speed".
export class Migration20261202170500_observation_fillfactor extends Migration {
  override name = "Migration20261202170500_observation_fillfactor";

  override up(): void | Promise<void> {
    this.addSql(`alter table observation set (fillfactor = 70);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table observation reset (fillfactor);`);
  }
}
