import { Migration } from "@mikro-orm/migrations";

export class Migration20261202165155_cluster_health extends Migration {
  override name = "Migration20261202165155_cluster_health";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "kubernetes_cluster_health" ("cluster_id" uuid not null, "observe_time" timestamptz not null, "receive_time" timestamptz not null, "ready_node_count" int not null, "not_ready_node_count" int not null, "running_pod_count" int not null, "pending_pod_count" int not null, "failed_pod_count" int not null, "traffic" jsonb null, "node_pools" jsonb not null default '[]', primary key ("cluster_id"));`,
    );

    this.addSql(
      `alter table "kubernetes_cluster_health" add constraint "kubernetes_cluster_health_cluster_id_foreign" foreign key ("cluster_id") references "kubernetes_cluster" ("id") on update cascade on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "kubernetes_cluster_health" cascade;`);
  }
}
