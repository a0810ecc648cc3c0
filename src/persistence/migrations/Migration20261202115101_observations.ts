import { Migration } from "@mikro-orm/migrations";

// The latest observation of each host and VM (issue 19): one row per resource, upserted in batches
// by AgentService.ReportObservations, with the drift of a VM's observed power from its recorded state.

export class Migration20261202115101_observations extends Migration {
  override name = "Migration20261202115101_observations";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "observation" ("resource_type" varchar(32) not null, "resource_id" uuid not null, "observe_time" timestamptz not null, "receive_time" timestamptz not null, "power_state" varchar(8) not null, "health" varchar(16) not null, "reasons" jsonb not null, "cpu_percent" double precision not null, "memory_used_mib" bigint not null, "storage_used_gib" bigint not null, "drift_since" timestamptz null, "drift_recorded_state" varchar(16) not null default '', "drifted" boolean not null default false, "reported_by" varchar(128) not null, primary key ("resource_type", "resource_id"));`,
    );
    this.addSql(`create index observation_drifted_index on observation (resource_type) where drifted;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "observation" cascade;`);
  }
}
