import { Migration } from "@mikro-orm/migrations";

// Observation history (issue 19): raw samples written by the ingest statement, folded each completed
// hour into one roll-up row per resource (min, sum, max, count) kept 30 days. docs/observations.md.

export class Migration20261202140143_observation_history extends Migration {
  override name = "Migration20261202140143_observation_history";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "observation_rollup" ("resource_type" varchar(32) not null, "resource_id" uuid not null, "hour_start" timestamptz not null, "sample_count" int not null, "cpu_percent_min" double precision not null, "cpu_percent_sum" double precision not null, "cpu_percent_max" double precision not null, "memory_used_mib_min" bigint not null, "memory_used_mib_sum" double precision not null, "memory_used_mib_max" bigint not null, "storage_used_gib_min" bigint not null, "storage_used_gib_sum" double precision not null, "storage_used_gib_max" bigint not null, primary key ("resource_type", "resource_id", "hour_start"));`,
    );
    this.addSql(`create index "observation_rollup_hour_index" on "observation_rollup" ("hour_start");`);
    this.addSql(
      `create table "observation_sample" ("resource_type" varchar(32) not null, "resource_id" uuid not null, "observe_time" timestamptz not null, "cpu_percent" double precision not null, "memory_used_mib" bigint not null, "storage_used_gib" bigint not null, primary key ("resource_type", "resource_id", "observe_time"));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "observation_rollup" cascade;`);
    this.addSql(`drop table if exists "observation_sample" cascade;`);
  }
}
