import { Migration } from "@mikro-orm/migrations";

// Kubernetes clusters: version catalogue, templates, clusters, node pools, each cluster's CA, and a
// VM's node pool and kubelet version. (The differ also offered to re-create rackplane_require in
// down(); that function belongs to the placement migration, so those lines were dropped.)
export class Migration20261202072521_kubernetes extends Migration {
  override name = "Migration20261202072521_kubernetes";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "kubernetes_version" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "kubernetes_version" varchar(16) not null, "major" int not null, "minor" int not null, "patch" int not null, "status" varchar(16) not null, "description" text not null default '', primary key ("id"));`,
    );
    this.addSql(
      `alter table "kubernetes_version" add constraint "kubernetes_version_kubernetes_version_unique" unique ("kubernetes_version");`,
    );

    this.addSql(
      `create table "kubernetes_cluster_template" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "description" text not null default '', "tenant_id" uuid null, "kubernetes_version" varchar(16) null, "spec" jsonb not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "kubernetes_cluster_template_kubernetes_version_index" on "kubernetes_cluster_template" ("kubernetes_version");`,
    );
    this.addSql(`create index "kubernetes_cluster_template_tenant_id_id_index" on "kubernetes_cluster_template" ("tenant_id", "id");`);
    this.addSql(
      `create unique index kubernetes_cluster_template_owner_name_unique on kubernetes_cluster_template (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), name);`,
    );

    this.addSql(
      `create table "kubernetes_cluster" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(30) not null, "description" text not null default '', "tenant_id" uuid not null, "kubernetes_version" varchar(16) not null, "control_plane_count" int not null, "control_plane_group_id" uuid not null, "control_plane_specification_id" uuid not null, "control_plane_image_id" uuid not null, "cni" varchar(16) not null, "pod_cidr" varchar(49) not null, "service_cidr" varchar(49) not null, "storage_classes" jsonb not null default '[]', "labels" jsonb not null default '{}', "endpoint" varchar(255) not null default '', "status" varchar(16) not null, "status_reason" text not null default '', "status_time" timestamptz not null, "template_id" uuid null, "template_revision" int null, "active_operation_id" uuid null, primary key ("id"));`,
    );
    this.addSql(`create index "kubernetes_cluster_kubernetes_version_index" on "kubernetes_cluster" ("kubernetes_version");`);
    this.addSql(`create index "kubernetes_cluster_tenant_id_id_index" on "kubernetes_cluster" ("tenant_id", "id");`);
    this.addSql(`create index "kubernetes_cluster_status_id_index" on "kubernetes_cluster" ("status", "id");`);
    this.addSql(
      `create unique index kubernetes_cluster_live_name_unique on kubernetes_cluster (tenant_id, name) where status <> 'DELETED';`,
    );

    this.addSql(
      `create table "kubernetes_node_pool" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "cluster_id" uuid not null, "name" varchar(20) not null, "group_id" uuid not null, "specification_id" uuid not null, "image_id" uuid not null, "node_count" int not null, "autoscaling_min_node_count" int null, "autoscaling_max_node_count" int null, "labels" jsonb not null default '{}', "taints" jsonb not null default '[]', "max_surge" int not null, "max_unavailable" int not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "kubernetes_node_pool" add constraint "kubernetes_node_pool_cluster_id_name_unique" unique ("cluster_id", "name");`,
    );

    this.addSql(
      `create table "kubernetes_cluster_ca" ("cluster_id" uuid not null, "certificate_pem" text not null, "sealed_key" text not null, "create_time" timestamptz not null, "expire_time" timestamptz not null, primary key ("cluster_id"));`,
    );

    this.addSql(`alter table "virtual_machine" add "node_pool_id" uuid null, add "kubernetes_version" varchar(16) not null default '';`);

    this.addSql(
      `alter table "kubernetes_cluster_template" add constraint "kubernetes_cluster_template_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "kubernetes_cluster" add constraint "kubernetes_cluster_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id");`,
    );
    this.addSql(
      `alter table "kubernetes_cluster" add constraint "kubernetes_cluster_control_plane_group_id_foreign" foreign key ("control_plane_group_id") references "baremetal_group" ("id");`,
    );
    this.addSql(
      `alter table "kubernetes_cluster" add constraint "kubernetes_cluster_control_plane_specification_id_foreign" foreign key ("control_plane_specification_id") references "virtual_machine_specification" ("id");`,
    );
    this.addSql(
      `alter table "kubernetes_cluster" add constraint "kubernetes_cluster_control_plane_image_id_foreign" foreign key ("control_plane_image_id") references "image" ("id");`,
    );

    this.addSql(
      `alter table "kubernetes_node_pool" add constraint "kubernetes_node_pool_cluster_id_foreign" foreign key ("cluster_id") references "kubernetes_cluster" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "kubernetes_node_pool" add constraint "kubernetes_node_pool_group_id_foreign" foreign key ("group_id") references "baremetal_group" ("id");`,
    );
    this.addSql(
      `alter table "kubernetes_node_pool" add constraint "kubernetes_node_pool_specification_id_foreign" foreign key ("specification_id") references "virtual_machine_specification" ("id");`,
    );
    this.addSql(
      `alter table "kubernetes_node_pool" add constraint "kubernetes_node_pool_image_id_foreign" foreign key ("image_id") references "image" ("id");`,
    );

    this.addSql(
      `alter table "kubernetes_cluster_ca" add constraint "kubernetes_cluster_ca_cluster_id_foreign" foreign key ("cluster_id") references "kubernetes_cluster" ("id") on update cascade on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "kubernetes_node_pool" drop constraint "kubernetes_node_pool_cluster_id_foreign";`);
    this.addSql(`alter table "kubernetes_cluster_ca" drop constraint "kubernetes_cluster_ca_cluster_id_foreign";`);

    this.addSql(`drop table if exists "kubernetes_version" cascade;`);
    this.addSql(`drop table if exists "kubernetes_cluster_template" cascade;`);
    this.addSql(`drop table if exists "kubernetes_cluster" cascade;`);
    this.addSql(`drop table if exists "kubernetes_node_pool" cascade;`);
    this.addSql(`drop table if exists "kubernetes_cluster_ca" cascade;`);

    this.addSql(`alter table "virtual_machine" drop column "node_pool_id", drop column "kubernetes_version";`);
  }
}
