import { Migration } from "@mikro-orm/migrations";

export class Migration20261202171206_node_pool_scaling_events extends Migration {
  override name = "Migration20261202171206_node_pool_scaling_events";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "kubernetes_node_pool_scaling_event" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "tenant_id" uuid not null, "cluster_id" uuid not null, "node_pool_id" uuid not null, "from_node_count" int not null, "to_node_count" int not null, "reason" varchar(32) not null, "unschedulable_pod_count" int not null, "removed_node_ids" jsonb not null default '[]', "observe_time" timestamptz not null, "outcome" varchar(16) not null, "refused_reason" varchar(64) not null default '', "message" text not null default '', "operation_id" uuid null, primary key ("id"));`,
    );
    this.addSql(
      `create index "kubernetes_node_pool_scaling_event_node_pool_id_cr_b3f18_index" on "kubernetes_node_pool_scaling_event" ("node_pool_id", "create_time");`,
    );
    this.addSql(
      `create index "kubernetes_node_pool_scaling_event_tenant_id_id_index" on "kubernetes_node_pool_scaling_event" ("tenant_id", "id");`,
    );

    this.addSql(
      `alter table "kubernetes_node_pool_scaling_event" add constraint "kubernetes_node_pool_scaling_event_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id");`,
    );
    this.addSql(
      `alter table "kubernetes_node_pool_scaling_event" add constraint "kubernetes_node_pool_scaling_event_cluster_id_foreign" foreign key ("cluster_id") references "kubernetes_cluster" ("id") on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "kubernetes_node_pool_scaling_event" cascade;`);
  }
}
