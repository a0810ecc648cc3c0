import { Migration } from '@mikro-orm/migrations';

export class Migration20261126140831_placement_index extends Migration {

  override name = 'Migration20261126140831_placement_index';

  override up(): void | Promise<void> {
    this.addSql(`drop index "baremetal_free_cpu_index";`);
    this.addSql(`drop index "baremetal_free_memory_index";`);
    this.addSql(`create index baremetal_placement_index on baremetal (group_id, free_cpu_cores, id) where status = 'ACTIVE';`);
    // For a statement that commits in the same round trip: a check that fails aborts it (and the
    // COMMIT after it) with serialization_failure, which callers answer as ABORTED, retryable.
    this.addSql(`create function rackplane_require(ok boolean, message text) returns boolean language plpgsql as $$
      begin
        if ok is not true then raise exception using errcode = 'serialization_failure', message = message; end if;
        return true;
      end $$;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop function rackplane_require(boolean, text);`);
    this.addSql(`drop index "baremetal_placement_index";`);
    this.addSql(`create index "baremetal_free_cpu_index" on "baremetal" ("free_cpu_cores");`);
    this.addSql(`create index "baremetal_free_memory_index" on "baremetal" ("free_memory_mib");`);
  }

}
