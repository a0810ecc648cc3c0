import { Migration } from "@mikro-orm/migrations";

export class Migration20261202140400_kubernetes_plugins extends Migration {
  override name = "Migration20261202140400_kubernetes_plugins";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "kubernetes_plugin" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "description" text not null default '', "versions" jsonb not null default '[]', primary key ("id"));`,
    );
    this.addSql(`alter table "kubernetes_plugin" add constraint "kubernetes_plugin_name_unique" unique ("name");`);

    this.addSql(
      `create table "kubernetes_cluster_plugin" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "cluster_id" uuid not null, "tenant_id" uuid not null, "plugin_id" uuid not null, "plugin" varchar(63) not null, "plugin_version" varchar(64) not null, "target_version" varchar(64) not null default '', "status" varchar(16) not null, "status_message" text not null default '', "status_time" timestamptz not null, "active_operation_id" uuid null, primary key ("id"));`,
    );
    this.addSql(`create index "kubernetes_cluster_plugin_plugin_id_index" on "kubernetes_cluster_plugin" ("plugin_id");`);
    this.addSql(`create index "kubernetes_cluster_plugin_tenant_id_id_index" on "kubernetes_cluster_plugin" ("tenant_id", "id");`);
    this.addSql(
      `alter table "kubernetes_cluster_plugin" add constraint "kubernetes_cluster_plugin_cluster_id_plugin_id_unique" unique ("cluster_id", "plugin_id");`,
    );

    this.addSql(
      `alter table "kubernetes_cluster_plugin" add constraint "kubernetes_cluster_plugin_cluster_id_foreign" foreign key ("cluster_id") references "kubernetes_cluster" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "kubernetes_cluster_plugin" add constraint "kubernetes_cluster_plugin_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id");`,
    );
    this.addSql(
      `alter table "kubernetes_cluster_plugin" add constraint "kubernetes_cluster_plugin_plugin_id_foreign" foreign key ("plugin_id") references "kubernetes_plugin" ("id");`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "kubernetes_cluster_plugin" drop constraint "kubernetes_cluster_plugin_plugin_id_foreign";`);

    this.addSql(`drop table if exists "kubernetes_plugin" cascade;`);
    this.addSql(`drop table if exists "kubernetes_cluster_plugin" cascade;`);
  }
}
