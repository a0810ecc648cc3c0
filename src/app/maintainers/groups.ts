// Maintainer groups and their membership (MNT-2). A group always has a manager, and the manager is
// always a member: creating a group and changing its manager add the manager as a member in the
// same transaction, and the manager's membership cannot be removed. Every membership change locks
// the group row first, so two concurrent changes (a new manager, removing a member) are serialised
// and the rule holds whatever their order.
import type { EntityManager } from "@mikro-orm/postgresql";
import { DomainError, FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import { decodePageToken, effectivePageSize, encodePageToken } from "../../domain/page-token.js";
import type { Maintainer, MaintainerGroup } from "../../domain/maintainer.js";
import { MaintainerGroup as GroupEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { createOnce, findForChange, readById } from "../standard-methods.js";
import { requireMaintainerRead, requireMaintainerWrite } from "./access.js";
import { maintainerGroupFilter } from "./filters.js";
import { maintainerColumns, maintainerFromRow } from "./rows.js";

export interface MaintainerGroupFields {
  readonly name: string;
  readonly description: string;
  readonly managerId: string;
}

type GroupRow = Omit<MaintainerGroup, "memberCount">;

export async function createMaintainerGroup(
  db: Database,
  ctx: CallContext,
  fields: MaintainerGroupFields,
  requestId: string,
): Promise<MaintainerGroup> {
  requireMaintainerWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    await requireMaintainer(em, fields.managerId);
    const id = await createOnce(em, ctx, "maintainer_group", requestId, fields, async (id) => {
      em.create(GroupEntity, { id, ...fields });
      await em.flush();
      await addMember(em, id, fields.managerId);
    });
    return groupView(em, await readById(em, GroupEntity, "maintainer_group", id));
  });
}

export async function getMaintainerGroup(db: Database, ctx: CallContext, id: string): Promise<MaintainerGroup> {
  requireMaintainerRead(ctx.principal);
  const em = db.em();
  return groupView(em, await readById(em, GroupEntity, "maintainer_group", id));
}

/** One query for the page, one for the member counts of all its groups. */
export async function listMaintainerGroups(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<MaintainerGroup>> {
  requireMaintainerRead(ctx.principal);
  const em = db.em();
  const page = await listPage(em, GroupEntity, request, maintainerGroupFilter);
  const counts = await memberCounts(
    em,
    page.items.map((group) => group.id),
  );
  return { items: page.items.map((group) => withCount(group, counts.get(group.id) ?? 0)), nextPageToken: page.nextPageToken };
}

/** A new manager must exist and becomes a member (if not one already). */
export async function updateMaintainerGroup(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: Partial<MaintainerGroupFields>,
): Promise<MaintainerGroup> {
  // The request names the group as `group`, which the interceptor's generic target does not see.
  Object.assign(ctx.audit, { resourceType: "maintainer_group", resourceId: id });
  requireMaintainerWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    const group = await findForChange(em, ctx, GroupEntity, "maintainer_group", id, etag);
    if (patch.managerId !== undefined && patch.managerId !== group.managerId) {
      await requireMaintainer(em, patch.managerId);
      await addMember(em, id, patch.managerId);
    }
    em.assign(group, patch);
    await em.flush();
    return groupView(em, group);
  });
}

/** Deletes the group with its memberships and assignments (the foreign keys cascade). */
export async function deleteMaintainerGroup(db: Database, ctx: CallContext, id: string, etag: string): Promise<void> {
  requireMaintainerWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const group = await findForChange(em, ctx, GroupEntity, "maintainer_group", id, etag);
    em.remove(group);
  });
}

/** Adding a member twice is a no-op (the membership's primary key is the pair). A change of
 * membership changes the group's member_count, so it changes the group's etag too. */
export async function addGroupMember(db: Database, ctx: CallContext, groupId: string, maintainerId: string): Promise<MaintainerGroup> {
  requireMaintainerWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    const group = await findForChange(em, ctx, GroupEntity, "maintainer_group", groupId, "");
    await requireMaintainer(em, maintainerId);
    if (await addMember(em, groupId, maintainerId)) {
      em.assign(group, { updateTime: new Date() });
      await em.flush();
    }
    return groupView(em, group);
  });
}

/** The manager cannot leave (GROUP_MANAGER_REQUIRED): set another manager first. */
export async function removeGroupMember(db: Database, ctx: CallContext, groupId: string, maintainerId: string): Promise<MaintainerGroup> {
  requireMaintainerWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    const group = await findForChange(em, ctx, GroupEntity, "maintainer_group", groupId, "");
    if (group.managerId === maintainerId) {
      throw new FailedPreconditionError(
        "GROUP_MANAGER_REQUIRED",
        `maintainer ${maintainerId} manages group ${group.name} and cannot leave it; give the group another manager (UpdateMaintainerGroup) first`,
        {
          resource_type: "maintainer_group",
          resource_id: groupId,
          group_ids: groupId,
          group_names: group.name,
          maintainer_id: maintainerId,
        },
      );
    }
    const removed = await em.execute<{ maintainer_id: string }[]>(
      `delete from maintainer_group_member where group_id = ? and maintainer_id = ? returning maintainer_id`,
      [groupId, maintainerId],
    );
    if (removed.length === 0) throw new NotAMemberError(group.name, groupId, maintainerId);
    em.assign(group, { updateTime: new Date() });
    await em.flush();
    return groupView(em, group);
  });
}

export interface MemberPageRequest {
  readonly pageSize: number;
  readonly pageToken: string;
}

/** The group's members by maintainer id (keyset over the membership's primary key). */
export async function listGroupMembers(
  db: Database,
  ctx: CallContext,
  groupId: string,
  request: MemberPageRequest,
): Promise<Page<Maintainer>> {
  requireMaintainerRead(ctx.principal);
  const em = db.em();
  const pageSize = effectivePageSize(request.pageSize);
  const binding = { list: "maintainer_group_members", orderBy: "maintainer_id asc", filter: "", scope: `maintainer_group/${groupId}` };
  const after = decodePageToken(request.pageToken, binding)?.[0];
  await readById(em, GroupEntity, "maintainer_group", groupId);
  const rows = await em.execute<Record<string, unknown>[]>(
    `select ${maintainerColumns("m", "")}
       from maintainer_group_member gm join maintainer m on m.id = gm.maintainer_id
      where gm.group_id = ?${after ? " and gm.maintainer_id > ?" : ""}
      order by gm.maintainer_id
      limit ?`,
    after ? [groupId, after, pageSize + 1] : [groupId, pageSize + 1],
  );
  const items = rows.slice(0, pageSize).map((row) => maintainerFromRow(em, row, ""));
  const last = items.at(-1);
  return { items, nextPageToken: rows.length > pageSize && last ? encodePageToken(binding, [last.id]) : "" };
}

// ---------------------------------------------------------------------------------------------

/** The maintainer must exist; its row is held FOR SHARE so it cannot be deleted under the change. */
async function requireMaintainer(em: EntityManager, id: string): Promise<void> {
  const [row] = await em.execute<{ id: string }[]>(`select id from maintainer where id = ? for share`, [id]);
  if (!row) throw new NotFoundError("maintainer", id);
}

/** Whether the maintainer was added (false: already a member). */
async function addMember(em: EntityManager, groupId: string, maintainerId: string): Promise<boolean> {
  const inserted = await em.execute<{ maintainer_id: string }[]>(
    `insert into maintainer_group_member (group_id, maintainer_id, create_time) values (?, ?, now())
     on conflict (group_id, maintainer_id) do nothing returning maintainer_id`,
    [groupId, maintainerId],
  );
  return inserted.length > 0;
}

async function memberCounts(em: EntityManager, groupIds: readonly string[]): Promise<Map<string, number>> {
  if (groupIds.length === 0) return new Map();
  const rows = await em.execute<{ group_id: string; members: number }[]>(
    `select group_id, count(*)::int as members from maintainer_group_member where group_id = any(array[?]::uuid[]) group by group_id`,
    [[...groupIds]],
  );
  return new Map(rows.map((row) => [row.group_id, Number(row.members)]));
}

async function groupView(em: EntityManager, group: GroupRow): Promise<MaintainerGroup> {
  const counts = await memberCounts(em, [group.id]);
  return withCount(group, counts.get(group.id) ?? 0);
}

function withCount(group: GroupRow, memberCount: number): MaintainerGroup {
  return {
    id: group.id,
    version: group.version,
    createTime: group.createTime,
    updateTime: group.updateTime,
    name: group.name,
    description: group.description,
    managerId: group.managerId,
    memberCount,
  };
}

/** NOT_FOUND with the usual reason, naming the membership that is not there. */
class NotAMemberError extends DomainError {
  readonly code = "NOT_FOUND";
  constructor(groupName: string, groupId: string, maintainerId: string) {
    super("RESOURCE_NOT_FOUND", `maintainer ${maintainerId} is not a member of group ${groupName}`, {
      resource_type: "maintainer_group_member",
      resource_id: maintainerId,
      group_id: groupId,
    });
  }
}
