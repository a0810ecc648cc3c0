import { Migration } from "@mikro-orm/migrations";

export class Migration20261202112547_job_waits extends Migration {
  override name = "Migration20261202112547_job_waits";

  override up(): void | Promise<void> {
    this.addSql(`alter table "job" add "wait_for_operation_ids" text[] not null default '{}';`);
    this.addSql(`create index job_waiting_index on job (id) where state = 'QUEUED' and cardinality(wait_for_operation_ids) > 0;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists job_waiting_index;`);
    this.addSql(`alter table "job" drop column "wait_for_operation_ids";`);
  }
}
