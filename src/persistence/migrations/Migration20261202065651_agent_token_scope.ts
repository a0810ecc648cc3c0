import { Migration } from "@mikro-orm/migrations";

// Agent tokens carry the scope their issuer set (all empty: the whole fleet); a change to a token
// row (a revocation) or its deletion is announced so every replica forgets it at once.

export class Migration20261202065651_agent_token_scope extends Migration {
  override name = "Migration20261202065651_agent_token_scope";

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "api_token" add "scope_datacenter_ids" text[] not null default '{}', add "scope_group_ids" text[] not null default '{}', add "scope_job_kinds" text[] not null default '{}';`,
    );
    this.addSql(
      `create or replace function "api_token_api_token_changed_fn"() returns trigger as $$ begin perform pg_notify('rackplane_token', old.id::text); return null; end; $$ language plpgsql;`,
    );
    this.addSql(
      `create trigger "api_token_changed" AFTER UPDATE OR DELETE on "api_token" for each ROW execute function "api_token_api_token_changed_fn"();`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop trigger if exists "api_token_changed" on "api_token";`);
    this.addSql(`drop function if exists "api_token_api_token_changed_fn"();`);
    this.addSql(
      `alter table "api_token" drop column "scope_datacenter_ids", drop column "scope_group_ids", drop column "scope_job_kinds";`,
    );
  }
}
