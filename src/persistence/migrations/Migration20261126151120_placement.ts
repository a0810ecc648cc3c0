import { Migration } from "@mikro-orm/migrations";

export class Migration20261126151120_placement extends Migration {
  override name = "Migration20261126151120_placement";

  // Written to run on a database that already ran this migration's first version, which had the
  // same effect under the name Migration20261126140831_placement_index.
  override up(): void | Promise<void> {
    this.addSql(`drop index if exists "baremetal_free_cpu_index";`);
    this.addSql(`drop index if exists "baremetal_free_memory_index";`);
    this.addSql(
      `create index if not exists baremetal_placement_index on baremetal (group_id, free_cpu_cores, id) where status = 'ACTIVE';`,
    );

    this.addSql(
      `create or replace function "rackplane_require"("ok" boolean, "message" text) returns boolean language plpgsql as $$ begin if ok is not true then raise exception using errcode = 'serialization_failure', message = message; end if; return true; end $$;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "baremetal_placement_index";`);
    this.addSql(`create index "baremetal_free_cpu_index" on "baremetal" ("free_cpu_cores");`);
    this.addSql(`create index "baremetal_free_memory_index" on "baremetal" ("free_memory_mib");`);

    this.addSql(`drop function if exists "rackplane_require"(boolean, text);`);
  }
}
