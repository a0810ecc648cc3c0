import { Migration } from "@mikro-orm/migrations";

export class Migration20261126112928_initial extends Migration {
  override name = "Migration20261126112928_initial";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "api_token" ("id" uuid not null, "principal" varchar(128) not null, "role" varchar(32) not null, "tenant_id" uuid null, "description" varchar(512) not null default '', "secret_hash" varchar(64) not null, "secret_prefix" varchar(16) not null, "created_by" varchar(128) not null, "create_time" timestamptz not null, "expire_time" timestamptz null, "revoke_time" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "api_token_principal_index" on "api_token" ("principal");`);
    this.addSql(`create index "api_token_tenant_id_index" on "api_token" ("tenant_id");`);
    this.addSql(`alter table "api_token" add constraint "api_token_secret_hash_unique" unique ("secret_hash");`);

    this.addSql(
      `create table "audit_event" ("id" uuid not null, "time" timestamptz not null, "principal" varchar(128) not null, "role" varchar(32) not null default '', "tenant_id" uuid null, "method" varchar(160) not null, "resource_type" varchar(64) not null default '', "resource_id" varchar(64) not null default '', "request_id" varchar(128) not null default '', "result" varchar(32) not null, "reason" varchar(64) not null default '', "message" text not null default '', primary key ("id"));`,
    );
    this.addSql(`create index "audit_event_time_index" on "audit_event" ("time");`);
    this.addSql(`create index "audit_event_principal_id_index" on "audit_event" ("principal", "id");`);
    this.addSql(`create index "audit_event_resource_type_resource_id_id_index" on "audit_event" ("resource_type", "resource_id", "id");`);
    this.addSql(`create index "audit_event_method_id_index" on "audit_event" ("method", "id");`);
    this.addSql(`create index "audit_event_tenant_id_id_index" on "audit_event" ("tenant_id", "id");`);

    this.addSql(
      `create table "idempotency_key" ("id" uuid not null, "principal" varchar(128) not null, "method" varchar(160) not null, "request_id" varchar(128) not null, "request_hash" varchar(64) not null, "resource_type" varchar(64) not null, "resource_id" uuid not null, "create_time" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "idempotency_key" add constraint "idempotency_key_principal_method_request_id_unique" unique ("principal", "method", "request_id");`,
    );

    this.addSql(
      `create table "region" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "description" text not null default '', primary key ("id"));`,
    );
    this.addSql(`alter table "region" add constraint "region_name_unique" unique ("name");`);

    this.addSql(
      `create table "datacenter" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "region_id" uuid not null, "address" varchar(256) not null default '', "city" varchar(128) not null default '', "country_code" varchar(2) not null default '', "latitude" double precision not null default 0, "longitude" double precision not null default 0, "description" text not null default '', primary key ("id"));`,
    );
    this.addSql(`alter table "datacenter" add constraint "datacenter_name_unique" unique ("name");`);
    this.addSql(`create index "datacenter_region_id_index" on "datacenter" ("region_id");`);

    this.addSql(
      `create table "room" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "datacenter_id" uuid not null, "region_id" uuid not null, "description" text not null default '', primary key ("id"));`,
    );
    this.addSql(`create index "room_region_id_index" on "room" ("region_id");`);
    this.addSql(`alter table "room" add constraint "room_datacenter_id_name_unique" unique ("datacenter_id", "name");`);

    this.addSql(
      `create table "rack" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "room_id" uuid not null, "datacenter_id" uuid not null, "region_id" uuid not null, "status" varchar(16) not null, "height_units" smallint not null, "asn" bigint null, "tor_switches" text[] not null default '{}', "subnets" text[] not null default '{}', "management_vlan" smallint not null default 0, "allowed_tenant_ids" text[] not null default '{}', "description" text not null default '', primary key ("id"));`,
    );
    this.addSql(`create index "rack_datacenter_id_index" on "rack" ("datacenter_id");`);
    this.addSql(`create index "rack_region_id_index" on "rack" ("region_id");`);
    this.addSql(`alter table "rack" add constraint "rack_room_id_name_unique" unique ("room_id", "name");`);

    this.addSql(
      `create table "rack_reservation" ("id" uuid not null, "rack_id" uuid not null, "first_position" smallint not null, "unit_count" smallint not null, "purpose" varchar(256) not null, "tenant_id" uuid null, "created_by" varchar(128) not null, "create_time" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "rack_reservation_rack_id_index" on "rack_reservation" ("rack_id");`);

    this.addSql(
      `create table "slot_group" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "name" varchar(63) not null, "description" text not null default '', primary key ("id"));`,
    );
    this.addSql(`alter table "slot_group" add constraint "slot_group_name_unique" unique ("name");`);

    this.addSql(
      `create table "rack_unit" ("id" uuid not null, "version" int not null default 1, "update_time" timestamptz not null, "rack_id" uuid not null, "position" smallint not null, "status" varchar(16) not null, "switch_port" varchar(128) not null default '', "vlan" smallint not null default 0, "addresses" text[] not null default '{}', "slot_group_id" uuid null, "allowed_tenant_ids" text[] not null default '{}', "reservation_id" uuid null, "fault_reason" varchar(512) not null default '', primary key ("id"));`,
    );
    this.addSql(`create index "rack_unit_slot_group_id_index" on "rack_unit" ("slot_group_id");`);
    this.addSql(`create index "rack_unit_reservation_id_index" on "rack_unit" ("reservation_id");`);
    this.addSql(`alter table "rack_unit" add constraint "rack_unit_rack_id_position_unique" unique ("rack_id", "position");`);

    this.addSql(
      `alter table "datacenter" add constraint "datacenter_region_id_foreign" foreign key ("region_id") references "region" ("id");`,
    );

    this.addSql(
      `alter table "room" add constraint "room_datacenter_id_foreign" foreign key ("datacenter_id") references "datacenter" ("id");`,
    );

    this.addSql(`alter table "rack" add constraint "rack_room_id_foreign" foreign key ("room_id") references "room" ("id");`);

    this.addSql(
      `alter table "rack_reservation" add constraint "rack_reservation_rack_id_foreign" foreign key ("rack_id") references "rack" ("id");`,
    );

    this.addSql(`alter table "rack_unit" add constraint "rack_unit_rack_id_foreign" foreign key ("rack_id") references "rack" ("id");`);
    this.addSql(
      `alter table "rack_unit" add constraint "rack_unit_slot_group_id_foreign" foreign key ("slot_group_id") references "slot_group" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "rack_unit" add constraint "rack_unit_reservation_id_foreign" foreign key ("reservation_id") references "rack_reservation" ("id") on delete set null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "datacenter" drop constraint "datacenter_region_id_foreign";`);
    this.addSql(`alter table "room" drop constraint "room_datacenter_id_foreign";`);
    this.addSql(`alter table "rack" drop constraint "rack_room_id_foreign";`);
    this.addSql(`alter table "rack_reservation" drop constraint "rack_reservation_rack_id_foreign";`);
    this.addSql(`alter table "rack_unit" drop constraint "rack_unit_rack_id_foreign";`);
    this.addSql(`alter table "rack_unit" drop constraint "rack_unit_reservation_id_foreign";`);
    this.addSql(`alter table "rack_unit" drop constraint "rack_unit_slot_group_id_foreign";`);

    this.addSql(`drop table if exists "api_token" cascade;`);
    this.addSql(`drop table if exists "audit_event" cascade;`);
    this.addSql(`drop table if exists "idempotency_key" cascade;`);
    this.addSql(`drop table if exists "region" cascade;`);
    this.addSql(`drop table if exists "datacenter" cascade;`);
    this.addSql(`drop table if exists "room" cascade;`);
    this.addSql(`drop table if exists "rack" cascade;`);
    this.addSql(`drop table if exists "rack_reservation" cascade;`);
    this.addSql(`drop table if exists "slot_group" cascade;`);
    this.addSql(`drop table if exists "rack_unit" cascade;`);
  }
}
