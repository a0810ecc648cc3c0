// Plain rows of the hand-written look-up queries (snake_case columns) as domain values. Timestamps
// arrive as PostgreSQL text (MikroORM keeps them raw); they are parsed exactly as MikroORM parses
// them for entity reads, so a row reads the same whichever path served it.
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Maintainer, MaintainerRole, MaintainerStatus, ResourceMaintainer } from "../../domain/maintainer.js";

type Row = Readonly<Record<string, unknown>>;

/** The maintainer columns, aliased with `prefix`, for a select list: `m.id as m_id, …`. */
export function maintainerColumns(alias: string, prefix: string): string {
  return ["id", "version", "create_time", "update_time", "name", "account", "email", "phone", "chat", "status"]
    .map((column) => `${alias}.${column} as ${prefix}${column}`)
    .join(", ");
}

export function maintainerFromRow(em: EntityManager, row: Row, prefix: string): Maintainer {
  return {
    id: row[`${prefix}id`] as string,
    version: Number(row[`${prefix}version`]),
    createTime: date(em, row[`${prefix}create_time`]),
    updateTime: date(em, row[`${prefix}update_time`]),
    name: row[`${prefix}name`] as string,
    account: row[`${prefix}account`] as string,
    email: row[`${prefix}email`] as string,
    phone: row[`${prefix}phone`] as string,
    chat: row[`${prefix}chat`] as string,
    status: row[`${prefix}status`] as MaintainerStatus,
  };
}

/** The assignment columns of alias `rm` as the look-ups select them. */
export const assignmentColumns =
  "rm.id as rm_id, rm.resource_type, rm.resource_id, rm.maintainer_id as rm_maintainer_id, rm.group_id as rm_group_id, rm.role, rm.create_time as rm_create_time";

export function assignmentFromRow(em: EntityManager, row: Row): ResourceMaintainer {
  return {
    id: row.rm_id as string,
    resourceType: row.resource_type as string,
    resourceId: row.resource_id as string,
    maintainerId: (row.rm_maintainer_id as string | null) ?? null,
    groupId: (row.rm_group_id as string | null) ?? null,
    role: row.role as MaintainerRole,
    createTime: date(em, row.rm_create_time),
  };
}

function date(em: EntityManager, value: unknown): Date {
  if (value instanceof Date) return value;
  const parsed = em.getPlatform().parseDate(value as string);
  if (!(parsed instanceof Date)) throw new Error(`unparseable timestamp from the database: ${String(value)}`);
  return parsed;
}
