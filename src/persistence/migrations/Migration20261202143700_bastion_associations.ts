import { Migration } from "@mikro-orm/migrations";

export class Migration20261202143700_bastion_associations extends Migration {
  override name = "Migration20261202143700_bastion_associations";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "bastion_cluster_association" ("id" uuid not null, "version" int not null default 1, "create_time" timestamptz not null, "update_time" timestamptz not null, "tenant_id" uuid not null, "cluster_id" uuid not null, "virtual_machine_id" uuid not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "bastion_cluster_association_virtual_machine_id_index" on "bastion_cluster_association" ("virtual_machine_id");`,
    );
    this.addSql(`create index "bastion_cluster_association_tenant_id_id_index" on "bastion_cluster_association" ("tenant_id", "id");`);
    this.addSql(
      `alter table "bastion_cluster_association" add constraint "bastion_cluster_association_cluster_id_virtual_ma_dceb1_unique" unique ("cluster_id", "virtual_machine_id");`,
    );

    this.addSql(
      `alter table "bastion_cluster_association" add constraint "bastion_cluster_association_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id");`,
    );
    this.addSql(
      `alter table "bastion_cluster_association" add constraint "bastion_cluster_association_cluster_id_foreign" foreign key ("cluster_id") references "kubernetes_cluster" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "bastion_cluster_association" add constraint "bastion_cluster_association_virtual_machine_id_foreign" foreign key ("virtual_machine_id") references "virtual_machine" ("id") on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "bastion_cluster_association" cascade;`);
  }
}
