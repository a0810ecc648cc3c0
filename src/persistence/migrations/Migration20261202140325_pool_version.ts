import { Migration } from "@mikro-orm/migrations";

export class Migration20261202140325_pool_version extends Migration {
  override name = "Migration20261202140325_pool_version";

  override up(): void | Promise<void> {
    this.addSql(`alter table "kubernetes_node_pool" add "kubernetes_version" varchar(16) not null default '';`);
    // Every pool so far runs its cluster's version: no upgrade existed.
    this.addSql(
      `update "kubernetes_node_pool" p set "kubernetes_version" = c."kubernetes_version" from "kubernetes_cluster" c where c."id" = p."cluster_id";`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "kubernetes_node_pool" drop column "kubernetes_version";`);
  }
}
