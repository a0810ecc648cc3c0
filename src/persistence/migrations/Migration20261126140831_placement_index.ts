import { Migration } from '@mikro-orm/migrations';

export class Migration20261126140831_placement_index extends Migration {

  override name = 'Migration20261126140831_placement_index';

  override up(): void | Promise<void> {
    this.addSql(`drop index "baremetal_free_cpu_index";`);
    this.addSql(`drop index "baremetal_free_memory_index";`);
    this.addSql(`create index baremetal_placement_index on baremetal (group_id, free_cpu_cores, id) where status = 'ACTIVE';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "baremetal_placement_index";`);
    this.addSql(`create index "baremetal_free_cpu_index" on "baremetal" ("free_cpu_cores");`);
    this.addSql(`create index "baremetal_free_memory_index" on "baremetal" ("free_memory_mib");`);
  }

}
