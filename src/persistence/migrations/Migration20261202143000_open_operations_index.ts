import { Migration } from "@mikro-orm/migrations";

// The operations gauge of /metrics counts unfinished operations at every scrape; without an index it
// read the whole table, which only grows.
export class Migration20261202143000_open_operations_index extends Migration {
  override name = "Migration20261202143000_open_operations_index";

  override up(): void | Promise<void> {
    this.addSql(`create index operation_open_index on operation (state) where state in ('PENDING', 'RUNNING');`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists operation_open_index;`);
  }
}
