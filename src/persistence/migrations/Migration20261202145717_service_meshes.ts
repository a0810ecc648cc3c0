import { Migration } from "@mikro-orm/migrations";

export class Migration20261202145717_service_meshes extends Migration {
  override name = "Migration20261202145717_service_meshes";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "service_mesh" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "tenant_id" uuid not null, "name" varchar(63) not null, "type" varchar(16) not null, "mesh_version" varchar(64) not null default '', "status" varchar(16) not null default 'ACTIVE', "description" text not null default '', primary key ("id"));`,
    );
    this.addSql(`alter table "service_mesh" add constraint "service_mesh_tenant_id_name_unique" unique ("tenant_id", "name");`);

    this.addSql(
      `create table "kubernetes_cluster_service_mesh" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "tenant_id" uuid not null, "mesh_id" uuid not null, "cluster_id" uuid not null, "role" varchar(16) not null, "status" varchar(16) not null, "status_message" text not null default '', "active_operation_id" uuid null, primary key ("id"));`,
    );
    this.addSql(`create index "kubernetes_cluster_service_mesh_mesh_id_index" on "kubernetes_cluster_service_mesh" ("mesh_id");`);
    this.addSql(
      `create index "kubernetes_cluster_service_mesh_tenant_id_id_index" on "kubernetes_cluster_service_mesh" ("tenant_id", "id");`,
    );
    this.addSql(
      `alter table "kubernetes_cluster_service_mesh" add constraint "kubernetes_cluster_service_mesh_cluster_id_mesh_id_unique" unique ("cluster_id", "mesh_id");`,
    );

    this.addSql(
      `alter table "service_mesh" add constraint "service_mesh_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id");`,
    );

    this.addSql(
      `alter table "kubernetes_cluster_service_mesh" add constraint "kubernetes_cluster_service_mesh_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id");`,
    );
    this.addSql(
      `alter table "kubernetes_cluster_service_mesh" add constraint "kubernetes_cluster_service_mesh_mesh_id_foreign" foreign key ("mesh_id") references "service_mesh" ("id");`,
    );
    this.addSql(
      `alter table "kubernetes_cluster_service_mesh" add constraint "kubernetes_cluster_service_mesh_cluster_id_foreign" foreign key ("cluster_id") references "kubernetes_cluster" ("id") on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "kubernetes_cluster_service_mesh" drop constraint "kubernetes_cluster_service_mesh_mesh_id_foreign";`);

    this.addSql(`drop table if exists "service_mesh" cascade;`);
    this.addSql(`drop table if exists "kubernetes_cluster_service_mesh" cascade;`);
  }
}
