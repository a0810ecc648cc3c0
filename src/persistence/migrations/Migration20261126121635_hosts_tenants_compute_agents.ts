import { Migration } from "@mikro-orm/migrations";

export class Migration20261126121635_hosts_tenants_compute_agents extends Migration {
  override name = "Migration20261126121635_hosts_tenants_compute_agents";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "agent" ("id" varchar(128) not null, "principal" varchar(128) not null, "job_kinds" text[] not null default '{}', "group_ids" text[] not null default '{}', "baremetal_ids" text[] not null default '{}', "max_concurrent_jobs" int not null, "description" varchar(256) not null default '', "connected" boolean not null default false, "replica" varchar(128) not null default '', "connect_time" timestamptz not null, "last_seen_time" timestamptz not null, primary key ("id"));`,
    );

    this.addSql(
      `create table "baremetal_group" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "description" text not null default '', "dimension" varchar(16) not null, "cpu_allocation_ratio" double precision not null default 1, "memory_allocation_ratio" double precision not null default 1, "storage_allocation_ratio" double precision not null default 1, "reserved_cpu_cores" int not null default 0, "reserved_memory_mib" bigint not null default '0', "reserved_storage_gib" bigint not null default '0', "placement_policy" varchar(8) not null default 'SPREAD', "effective_cpu_total" bigint not null default '0', "effective_memory_mib_total" bigint not null default '0', "effective_storage_gib_total" bigint not null default '0', primary key ("id"));`,
    );
    this.addSql(`alter table "baremetal_group" add constraint "baremetal_group_name_unique" unique ("name");`);

    this.addSql(
      `create table "custom_field_definition" ("id" uuid not null, "name" varchar(63) not null, "type" varchar(16) not null, "enum_values" text[] not null default '{}', "required" boolean not null default false, "resource_types" text[] not null default '{}', "description" text not null default '', "create_time" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "custom_field_definition" add constraint "custom_field_definition_name_unique" unique ("name");`);

    this.addSql(
      `create table "image" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "os_family" varchar(32) not null default '', "os_version" varchar(32) not null default '', "architecture" varchar(16) not null, "status" varchar(16) not null, "description" text not null default '', primary key ("id"));`,
    );
    this.addSql(`alter table "image" add constraint "image_name_unique" unique ("name");`);

    this.addSql(
      `create table "maintainer" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(128) not null, "account" varchar(64) not null, "email" varchar(256) not null default '', "phone" varchar(64) not null default '', "chat" varchar(128) not null default '', "status" varchar(16) not null, primary key ("id"));`,
    );
    this.addSql(`alter table "maintainer" add constraint "maintainer_account_unique" unique ("account");`);

    this.addSql(
      `create table "maintainer_group" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "description" text not null default '', "manager_id" uuid not null, primary key ("id"));`,
    );
    this.addSql(`alter table "maintainer_group" add constraint "maintainer_group_name_unique" unique ("name");`);
    this.addSql(`create index "maintainer_group_manager_id_index" on "maintainer_group" ("manager_id");`);

    this.addSql(
      `create table "maintainer_group_member" ("group_id" uuid not null, "maintainer_id" uuid not null, "create_time" timestamptz not null, primary key ("group_id", "maintainer_id"));`,
    );
    this.addSql(`create index "maintainer_group_member_maintainer_id_index" on "maintainer_group_member" ("maintainer_id");`);

    this.addSql(
      `create table "operation" ("id" uuid not null, "kind" varchar(64) not null, "resource_type" varchar(64) not null, "resource_id" uuid not null, "tenant_id" uuid null, "state" varchar(16) not null, "progress_percent" smallint not null default 0, "message" text not null default '', "error_code" varchar(32) not null default '', "error_reason" varchar(64) not null default '', "error_message" text not null default '', "error_metadata" jsonb not null default '{}', "requested_by" varchar(128) not null, "previous_state" varchar(16) not null default '', "create_time" timestamptz not null, "update_time" timestamptz not null, "done_time" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "operation_resource_type_resource_id_id_index" on "operation" ("resource_type", "resource_id", "id");`);
    this.addSql(`create index "operation_tenant_id_id_index" on "operation" ("tenant_id", "id");`);

    this.addSql(
      `create table "job" ("id" uuid not null, "operation_id" uuid not null, "kind" varchar(64) not null, "resource_type" varchar(64) not null, "resource_id" uuid not null, "group_id" uuid null, "baremetal_id" uuid null, "payload" jsonb not null, "state" varchar(16) not null, "attempt" int not null default 0, "max_attempts" int not null default 3, "agent_id" varchar(128) not null default '', "lease_token" varchar(64) not null default '', "lease_expire_time" timestamptz null, "create_time" timestamptz not null, "update_time" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "job_operation_id_index" on "job" ("operation_id");`);
    this.addSql(`create index job_queued_index on job (id) where state = 'QUEUED';`);
    this.addSql(`create index "job_resource_type_resource_id_id_index" on "job" ("resource_type", "resource_id", "id");`);
    this.addSql(`create index job_lease_index on job (lease_expire_time) where state = 'LEASED';`);

    this.addSql(
      `create table "resource_maintainer" ("id" uuid not null, "resource_type" varchar(64) not null, "resource_id" uuid not null, "maintainer_id" uuid null, "group_id" uuid null, "role" varchar(32) not null, "create_time" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "resource_maintainer_maintainer_id_index" on "resource_maintainer" ("maintainer_id");`);
    this.addSql(`create index "resource_maintainer_group_id_index" on "resource_maintainer" ("group_id");`);
    this.addSql(
      `create index "resource_maintainer_resource_type_resource_id_index" on "resource_maintainer" ("resource_type", "resource_id");`,
    );
    this.addSql(
      `alter table "resource_maintainer" add constraint "resource_maintainer_maintainer_unique" unique ("resource_type", "resource_id", "maintainer_id", "role");`,
    );
    this.addSql(
      `alter table "resource_maintainer" add constraint "resource_maintainer_group_unique" unique ("resource_type", "resource_id", "group_id", "role");`,
    );

    this.addSql(
      `create table "baremetal" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "serial_number" varchar(64) not null, "cpu_cores" int not null, "memory_mib" bigint not null, "storage_gib" bigint not null, "effective_cpu_cores" int not null default 0, "effective_memory_mib" bigint not null default '0', "effective_storage_gib" bigint not null default '0', "cpu_cores_allocated" int not null default 0, "memory_mib_allocated" bigint not null default '0', "storage_gib_allocated" bigint not null default '0', "free_cpu_cores" int generated always as (effective_cpu_cores - cpu_cores_allocated) stored not null, "free_memory_mib" bigint generated always as (effective_memory_mib - memory_mib_allocated) stored not null, "free_storage_gib" bigint generated always as (effective_storage_gib - storage_gib_allocated) stored not null, "status" varchar(16) not null, "status_reason" varchar(512) not null default '', "status_change_time" timestamptz not null, "group_id" uuid null, "rack_id" uuid not null, "first_position" smallint not null, "height_units" smallint not null, "room_id" uuid not null, "datacenter_id" uuid not null, "region_id" uuid not null, "custom_fields" jsonb not null default '{}', "description" text not null default '', primary key ("id"));`,
    );
    this.addSql(`alter table "baremetal" add constraint "baremetal_name_unique" unique ("name");`);
    this.addSql(`alter table "baremetal" add constraint "baremetal_serial_number_unique" unique ("serial_number");`);
    this.addSql(`create index "baremetal_rack_id_index" on "baremetal" ("rack_id");`);
    this.addSql(`create index "baremetal_room_id_index" on "baremetal" ("room_id");`);
    this.addSql(`create index "baremetal_datacenter_id_index" on "baremetal" ("datacenter_id");`);
    this.addSql(`create index "baremetal_region_id_index" on "baremetal" ("region_id");`);
    this.addSql(`create index "baremetal_group_status_id_index" on "baremetal" ("group_id", "status", "id");`);
    this.addSql(`create index "baremetal_status_id_index" on "baremetal" ("status", "id");`);
    this.addSql(`create index "baremetal_free_cpu_index" on "baremetal" ("free_cpu_cores");`);
    this.addSql(`create index "baremetal_free_memory_index" on "baremetal" ("free_memory_mib");`);
    this.addSql(`create index baremetal_custom_fields_index on baremetal using gin (custom_fields jsonb_path_ops);`);

    this.addSql(
      `create table "scheduling_record" ("id" uuid not null, "virtual_machine_id" uuid not null, "tenant_id" uuid not null, "group_id" uuid not null, "cpu_cores" int not null, "memory_mib" bigint not null, "storage_gib" bigint not null, "candidates" jsonb not null, "baremetal_id" uuid not null, "reason" text not null, "policy" varchar(8) not null, "events" jsonb not null, "create_time" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "scheduling_record_virtual_machine_id_index" on "scheduling_record" ("virtual_machine_id");`);
    this.addSql(`create index "scheduling_record_tenant_id_id_index" on "scheduling_record" ("tenant_id", "id");`);
    this.addSql(`create index "scheduling_record_baremetal_id_id_index" on "scheduling_record" ("baremetal_id", "id");`);

    this.addSql(
      `create table "tenant" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "description" text not null default '', "kind" varchar(32) not null, "contact_name" varchar(128) not null default '', "contact_email" varchar(256) not null default '', "contact_phone" varchar(64) not null default '', "disabled" boolean not null default false, "disabled_reason" varchar(512) not null default '', "state_change_time" timestamptz null, "naming_template" varchar(128) not null default '', "naming_pattern" varchar(256) not null default '', primary key ("id"));`,
    );
    this.addSql(`alter table "tenant" add constraint "tenant_name_unique" unique ("name");`);

    this.addSql(
      `create table "name_sequence" ("tenant_id" uuid not null, "prefix" varchar(128) not null, "last_value" int not null, primary key ("tenant_id", "prefix"));`,
    );

    this.addSql(
      `create table "baremetal_group_tenant_quota" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "tenant_id" uuid not null, "group_id" uuid not null, "cpu_absolute" bigint null, "cpu_percent" double precision null, "memory_mib_absolute" bigint null, "memory_mib_percent" double precision null, "storage_gib_absolute" bigint null, "storage_gib_percent" double precision null, "cpu_used" bigint not null default '0', "memory_mib_used" bigint not null default '0', "storage_gib_used" bigint not null default '0', "updated_by" varchar(128) not null default '', primary key ("id"));`,
    );
    this.addSql(`create index "baremetal_group_tenant_quota_group_id_index" on "baremetal_group_tenant_quota" ("group_id");`);
    this.addSql(
      `alter table "baremetal_group_tenant_quota" add constraint "baremetal_group_tenant_quota_tenant_id_group_id_unique" unique ("tenant_id", "group_id");`,
    );

    this.addSql(
      `create table "virtual_machine_specification" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "vcpu" int not null, "memory_mib" bigint not null, "storage_gib" bigint not null, "generation" varchar(32) not null default '', "deprecated" boolean not null default false, "description" text not null default '', primary key ("id"));`,
    );
    this.addSql(`alter table "virtual_machine_specification" add constraint "virtual_machine_specification_name_unique" unique ("name");`);

    this.addSql(
      `create table "virtual_machine" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "tenant_id" uuid not null, "specification_id" uuid not null, "image_id" uuid not null, "cpu_cores" int not null, "memory_mib" bigint not null, "storage_gib" bigint not null, "group_id" uuid not null, "baremetal_id" uuid not null, "cluster_id" uuid null, "role" varchar(16) not null default '', "state" varchar(16) not null, "state_change_time" timestamptz not null, "reserved" boolean not null default true, "active_operation_id" uuid null, "hypervisor_id" varchar(128) not null default '', "ip_addresses" text[] not null default '{}', primary key ("id"));`,
    );
    this.addSql(`create index "virtual_machine_specification_id_index" on "virtual_machine" ("specification_id");`);
    this.addSql(`create index "virtual_machine_image_id_index" on "virtual_machine" ("image_id");`);
    this.addSql(`create index "virtual_machine_group_id_index" on "virtual_machine" ("group_id");`);
    this.addSql(`create index "virtual_machine_baremetal_id_index" on "virtual_machine" ("baremetal_id");`);
    this.addSql(`create index "virtual_machine_cluster_id_index" on "virtual_machine" ("cluster_id");`);
    this.addSql(`create index "virtual_machine_tenant_id_id_index" on "virtual_machine" ("tenant_id", "id");`);
    this.addSql(`create index "virtual_machine_state_id_index" on "virtual_machine" ("state", "id");`);
    this.addSql(`create unique index virtual_machine_live_name_unique on virtual_machine (tenant_id, name) where state <> 'DELETED';`);

    this.addSql(`alter table "rack_unit" add "baremetal_id" uuid null;`);
    this.addSql(`create index "rack_unit_baremetal_id_index" on "rack_unit" ("baremetal_id");`);

    this.addSql(
      `alter table "maintainer_group" add constraint "maintainer_group_manager_id_foreign" foreign key ("manager_id") references "maintainer" ("id");`,
    );

    this.addSql(
      `alter table "maintainer_group_member" add constraint "maintainer_group_member_group_id_foreign" foreign key ("group_id") references "maintainer_group" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "maintainer_group_member" add constraint "maintainer_group_member_maintainer_id_foreign" foreign key ("maintainer_id") references "maintainer" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(`alter table "job" add constraint "job_operation_id_foreign" foreign key ("operation_id") references "operation" ("id");`);

    this.addSql(
      `alter table "resource_maintainer" add constraint "resource_maintainer_maintainer_id_foreign" foreign key ("maintainer_id") references "maintainer" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "resource_maintainer" add constraint "resource_maintainer_group_id_foreign" foreign key ("group_id") references "maintainer_group" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "resource_maintainer" add constraint "resource_maintainer_one_assignee" check ((maintainer_id is null) <> (group_id is null));`,
    );

    this.addSql(
      `alter table "baremetal" add constraint "baremetal_group_id_foreign" foreign key ("group_id") references "baremetal_group" ("id") on delete set null;`,
    );
    this.addSql(`alter table "baremetal" add constraint "baremetal_rack_id_foreign" foreign key ("rack_id") references "rack" ("id");`);

    this.addSql(
      `alter table "name_sequence" add constraint "name_sequence_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id");`,
    );

    this.addSql(
      `alter table "baremetal_group_tenant_quota" add constraint "baremetal_group_tenant_quota_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id");`,
    );
    this.addSql(
      `alter table "baremetal_group_tenant_quota" add constraint "baremetal_group_tenant_quota_group_id_foreign" foreign key ("group_id") references "baremetal_group" ("id");`,
    );

    this.addSql(
      `alter table "virtual_machine" add constraint "virtual_machine_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id");`,
    );
    this.addSql(
      `alter table "virtual_machine" add constraint "virtual_machine_specification_id_foreign" foreign key ("specification_id") references "virtual_machine_specification" ("id");`,
    );
    this.addSql(
      `alter table "virtual_machine" add constraint "virtual_machine_image_id_foreign" foreign key ("image_id") references "image" ("id");`,
    );
    this.addSql(
      `alter table "virtual_machine" add constraint "virtual_machine_group_id_foreign" foreign key ("group_id") references "baremetal_group" ("id");`,
    );
    this.addSql(
      `alter table "virtual_machine" add constraint "virtual_machine_baremetal_id_foreign" foreign key ("baremetal_id") references "baremetal" ("id");`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "baremetal" drop constraint "baremetal_group_id_foreign";`);
    this.addSql(`alter table "baremetal_group_tenant_quota" drop constraint "baremetal_group_tenant_quota_group_id_foreign";`);
    this.addSql(`alter table "virtual_machine" drop constraint "virtual_machine_group_id_foreign";`);
    this.addSql(`alter table "virtual_machine" drop constraint "virtual_machine_image_id_foreign";`);
    this.addSql(`alter table "maintainer_group" drop constraint "maintainer_group_manager_id_foreign";`);
    this.addSql(`alter table "maintainer_group_member" drop constraint "maintainer_group_member_maintainer_id_foreign";`);
    this.addSql(`alter table "resource_maintainer" drop constraint "resource_maintainer_maintainer_id_foreign";`);
    this.addSql(`alter table "maintainer_group_member" drop constraint "maintainer_group_member_group_id_foreign";`);
    this.addSql(`alter table "resource_maintainer" drop constraint "resource_maintainer_group_id_foreign";`);
    this.addSql(`alter table "job" drop constraint "job_operation_id_foreign";`);
    this.addSql(`alter table "virtual_machine" drop constraint "virtual_machine_baremetal_id_foreign";`);
    this.addSql(`alter table "name_sequence" drop constraint "name_sequence_tenant_id_foreign";`);
    this.addSql(`alter table "baremetal_group_tenant_quota" drop constraint "baremetal_group_tenant_quota_tenant_id_foreign";`);
    this.addSql(`alter table "virtual_machine" drop constraint "virtual_machine_tenant_id_foreign";`);
    this.addSql(`alter table "virtual_machine" drop constraint "virtual_machine_specification_id_foreign";`);

    this.addSql(`drop table if exists "agent" cascade;`);
    this.addSql(`drop table if exists "baremetal_group" cascade;`);
    this.addSql(`drop table if exists "custom_field_definition" cascade;`);
    this.addSql(`drop table if exists "image" cascade;`);
    this.addSql(`drop table if exists "maintainer" cascade;`);
    this.addSql(`drop table if exists "maintainer_group" cascade;`);
    this.addSql(`drop table if exists "maintainer_group_member" cascade;`);
    this.addSql(`drop table if exists "operation" cascade;`);
    this.addSql(`drop table if exists "job" cascade;`);
    this.addSql(`drop table if exists "resource_maintainer" cascade;`);
    this.addSql(`drop table if exists "baremetal" cascade;`);
    this.addSql(`drop table if exists "scheduling_record" cascade;`);
    this.addSql(`drop table if exists "tenant" cascade;`);
    this.addSql(`drop table if exists "name_sequence" cascade;`);
    this.addSql(`drop table if exists "baremetal_group_tenant_quota" cascade;`);
    this.addSql(`drop table if exists "virtual_machine_specification" cascade;`);
    this.addSql(`drop table if exists "virtual_machine" cascade;`);

    this.addSql(`drop index "rack_unit_baremetal_id_index";`);
    this.addSql(`alter table "rack_unit" drop column "baremetal_id";`);
  }
}
