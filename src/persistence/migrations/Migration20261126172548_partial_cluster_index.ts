import { Migration } from "@mikro-orm/migrations";

// Most VMs are in no cluster: indexing only those that are spares every other creation an index
// entry, and still serves the cluster filter (cluster_id = … implies it is not null).
export class Migration20261126172548_partial_cluster_index extends Migration {
  override name = "Migration20261126172548_partial_cluster_index";

  override up(): void | Promise<void> {
    this.addSql(`drop index "virtual_machine_cluster_id_index";`);
    this.addSql(`create index virtual_machine_clustered_index on virtual_machine (cluster_id) where cluster_id is not null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "virtual_machine_clustered_index";`);
    this.addSql(`create index "virtual_machine_cluster_id_index" on "virtual_machine" ("cluster_id");`);
  }
}
