import { Migration } from "@mikro-orm/migrations";

// Indexes every placement paid for and queries barely used. Custom-field filters compare `->>`
// values, which a jsonb_path_ops index does not serve. A page of a datacenter's or region's hosts
// walks the primary key instead: a few milliseconds at 100,000 hosts unless the place is nearly empty
// (docs/hosts.md). A host's reservation update is not HOT (free CPU is indexed for placement), so it
// rewrites an entry in every index the host has.
export class Migration20261126164910_lean_host_indexes extends Migration {
  override name = "Migration20261126164910_lean_host_indexes";

  override up(): void | Promise<void> {
    this.addSql(`drop index "baremetal_custom_fields_index";`);
    this.addSql(`drop index "baremetal_datacenter_id_index";`);
    this.addSql(`drop index "baremetal_region_id_index";`);
  }

  override down(): void | Promise<void> {
    this.addSql(`create index "baremetal_custom_fields_index" on "baremetal" using gin ("custom_fields" jsonb_path_ops);`);
    this.addSql(`create index "baremetal_datacenter_id_index" on "baremetal" ("datacenter_id");`);
    this.addSql(`create index "baremetal_region_id_index" on "baremetal" ("region_id");`);
  }
}
