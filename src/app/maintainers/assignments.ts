// Resource assignments (MNT-3) and the two look-ups (MNT-4): who answers for a resource, directly
// or as a member of an assigned group; and what a maintainer (directly and through its groups) or a
// group answers for. Each look-up page is one SQL query (a UNION of the direct and the group
// paths), plus, for resource names, one query per resource kind on the page.
import { readBound } from "../../persistence/reads.js";
import type { EntityManager } from "@mikro-orm/postgresql";
import { NotFoundError } from "../../domain/errors.js";
import { parseFilter } from "../../domain/filter.js";
import type { Maintainer, MaintainerRole, ResourceMaintainer, ResourceRef } from "../../domain/maintainer.js";
import { decodePageToken, effectivePageSize, encodePageToken, uuidKeyPart } from "../../domain/page-token.js";
import { ResourceMaintainer as AssignmentEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import type { ListRequest, Page } from "../list.js";
import { mutate } from "../mutation.js";
import { createOnce, readById } from "../standard-methods.js";
import { requireMaintainerRead, requireMaintainerWrite } from "./access.js";
import { maintainedResourceFilter, responsibleMaintainerFilter } from "./filters.js";
import { assignmentVisibility, nameKey, requireResource, resourceKind, resourceNames } from "./resources.js";
import { assignmentColumns, assignmentFromRow, maintainerColumns, maintainerFromRow } from "./rows.js";
import { filterSql } from "./sql-filter.js";

export type Assignee =
  | { readonly maintainerId: string; readonly groupId?: undefined }
  | { readonly groupId: string; readonly maintainerId?: undefined };

export interface AssignmentFields {
  readonly resource: ResourceRef;
  readonly assignee: Assignee;
  readonly role: MaintainerRole;
}

/** A maintainer responsible for a resource, and why: the assignment, and the group it came through
 * (none when assigned directly). */
export interface ResponsibleMaintainer {
  readonly maintainer: Maintainer;
  readonly assignment: ResourceMaintainer;
  readonly viaGroup: { readonly id: string; readonly name: string } | undefined;
}

/** A resource someone answers for, its name when its kind has one, and the path. */
export interface MaintainedResource {
  readonly assignment: ResourceMaintainer;
  readonly resourceName: string;
  readonly viaGroup: { readonly id: string; readonly name: string } | undefined;
}

export type ResourceOwner = { readonly maintainerId: string } | { readonly groupId: string };

/**
 * Assigns a resource to a maintainer or a group. The resource kind must be registered
 * (UNKNOWN_RESOURCE_TYPE) and the resource must exist (NOT_FOUND naming its type); the resource row
 * is held FOR SHARE until commit so a concurrent delete of it removes this assignment too. The
 * same (resource, assignee, role) twice is ALREADY_EXISTS (the unique keys, in mutate()).
 */
export async function createResourceMaintainer(
  db: Database,
  ctx: CallContext,
  fields: AssignmentFields,
  requestId: string,
): Promise<ResourceMaintainer> {
  requireMaintainerWrite(ctx.principal);
  resourceKind(fields.resource.type, "resource_maintainer.resource.type");
  const id = await mutate(db, ctx, async (em) => {
    await requireResource(em, ctx.principal, fields.resource.type, fields.resource.id, {
      lock: true,
      field: "resource_maintainer.resource.type",
    });
    if (fields.assignee.maintainerId !== undefined) await requireRow(em, "maintainer", "maintainer", fields.assignee.maintainerId);
    else await requireRow(em, "maintainer_group", "maintainer_group", fields.assignee.groupId);
    return createOnce(em, ctx, "resource_maintainer", requestId, fields, async (id) => {
      em.create(AssignmentEntity, {
        id,
        resourceType: fields.resource.type,
        resourceId: fields.resource.id,
        maintainerId: fields.assignee.maintainerId ?? null,
        groupId: fields.assignee.groupId ?? null,
        role: fields.role,
      });
    });
  });
  return readById(db.em(), AssignmentEntity, "resource_maintainer", id);
}

export async function deleteResourceMaintainer(db: Database, ctx: CallContext, id: string): Promise<void> {
  requireMaintainerWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = "resource_maintainer";
    ctx.audit.resourceId = id;
    const removed = await em.execute<{ id: string }[]>(`delete from resource_maintainer where id = ? returning id`, [id]);
    if (removed.length === 0) throw new NotFoundError("resource_maintainer", id);
  });
}

/**
 * Everyone responsible for a resource: each direct assignment (via_group empty) and, for each group
 * assignment, every member of the group (via_group set). One query, ordered by the pair
 * (assignment id, maintainer id), which is unique across both halves of the UNION, and paged by
 * keyset on it. Filter fields: role, via_group_id.
 */
export async function listResourceMaintainers(
  db: Database,
  ctx: CallContext,
  resource: ResourceRef,
  request: ListRequest,
): Promise<Page<ResponsibleMaintainer>> {
  requireMaintainerRead(ctx.principal);
  const em = db.em();
  // Tenants: a resource they may not see reads as one that does not exist.
  return maintainersOf(em, resource, request, () => requireResource(em, ctx.principal, resource.type, resource.id));
}

/**
 * listResourceMaintainers's page. `check` (that the reader may see the resource) runs beside the
 * query, after the request is validated; without it, the caller has checked already.
 */
export async function maintainersOf(
  em: EntityManager,
  resource: ResourceRef,
  request: ListRequest,
  check?: () => Promise<void>,
): Promise<Page<ResponsibleMaintainer>> {
  const pageSize = effectivePageSize(request.pageSize);
  const binding = {
    list: "resource_maintainers",
    orderBy: "assignment_id asc, maintainer_id asc",
    filter: request.filter,
    scope: `${resource.type}/${resource.id}`,
  };
  const after = decodePageToken(request.pageToken, binding, [uuidKeyPart, uuidKeyPart]);
  const filter = filterSql(parseFilter(request.filter, responsibleMaintainerFilter));
  const [rows] = await Promise.all([
    readBound<Record<string, unknown>>(
      em,
      `select * from (
       select ${assignmentColumns}, ${maintainerColumns("m", "m_")}, null::uuid as via_group_id, null::text as via_group_name
         from resource_maintainer rm join maintainer m on m.id = rm.maintainer_id
        where rm.resource_type = ? and rm.resource_id = ?
       union all
       select ${assignmentColumns}, ${maintainerColumns("m", "m_")}, g.id as via_group_id, g.name::text as via_group_name
         from resource_maintainer rm
         join maintainer_group g on g.id = rm.group_id
         join maintainer_group_member gm on gm.group_id = rm.group_id
         join maintainer m on m.id = gm.maintainer_id
        where rm.resource_type = ? and rm.resource_id = ?
     ) x
     where ${filter.sql}${after ? " and (x.rm_id, x.m_id) > (?::uuid, ?::uuid)" : ""}
     order by x.rm_id, x.m_id
     limit ?`,
      [resource.type, resource.id, resource.type, resource.id, ...filter.params, ...(after ?? []), pageSize + 1],
    ),
    check?.(),
  ]);
  const items = rows.slice(0, pageSize).map((row) => ({
    maintainer: maintainerFromRow(em, row, "m_"),
    assignment: assignmentFromRow(em, row),
    viaGroup: viaGroup(row),
  }));
  const last = items.at(-1);
  return {
    items,
    nextPageToken: rows.length > pageSize && last ? encodePageToken(binding, [last.assignment.id, last.maintainer.id]) : "",
  };
}

/**
 * What a maintainer answers for — its direct assignments and the assignments of every group it
 * belongs to (via_group set) — or what a group answers for (its own assignments). One query, by
 * assignment id (unique here: a maintainer is in a group at most once), then one name query per
 * resource kind on the page. Tenant principals see only the resources they may see. Filter fields:
 * resource_type, role.
 */
export async function listMaintainerResources(
  db: Database,
  ctx: CallContext,
  owner: ResourceOwner,
  request: ListRequest,
): Promise<Page<MaintainedResource>> {
  requireMaintainerRead(ctx.principal);
  const em = db.em();
  const pageSize = effectivePageSize(request.pageSize);
  const ownerKey = "maintainerId" in owner ? `maintainer/${owner.maintainerId}` : `maintainer_group/${owner.groupId}`;
  const visible = assignmentVisibility(ctx.principal);
  // A tenant principal's page is narrowed to what its tenant may see: that is part of the scope.
  const binding = {
    list: "maintainer_resources",
    orderBy: "assignment_id asc",
    filter: request.filter,
    scope: JSON.stringify([ownerKey, visible.params]),
  };
  const after = decodePageToken(request.pageToken, binding)?.[0];
  const filter = filterSql(parseFilter(request.filter, maintainedResourceFilter));

  let source: string;
  let sourceParams: string[];
  if ("maintainerId" in owner) {
    await requireRow(em, "maintainer", "maintainer", owner.maintainerId);
    source = `select ${assignmentColumns}, null::uuid as via_group_id, null::text as via_group_name
                from resource_maintainer rm where rm.maintainer_id = ?
              union all
              select ${assignmentColumns}, g.id as via_group_id, g.name::text as via_group_name
                from maintainer_group_member gm
                join maintainer_group g on g.id = gm.group_id
                join resource_maintainer rm on rm.group_id = gm.group_id
               where gm.maintainer_id = ?`;
    sourceParams = [owner.maintainerId, owner.maintainerId];
  } else {
    await requireRow(em, "maintainer_group", "maintainer_group", owner.groupId);
    source = `select ${assignmentColumns}, null::uuid as via_group_id, null::text as via_group_name
                from resource_maintainer rm where rm.group_id = ?`;
    sourceParams = [owner.groupId];
  }
  const rows = await em.execute<Record<string, unknown>[]>(
    `select * from (${source}) x
      where ${filter.sql} and ${visible.sql}${after ? " and x.rm_id > ?::uuid" : ""}
      order by x.rm_id
      limit ?`,
    [...sourceParams, ...filter.params, ...visible.params, ...(after ? [after] : []), pageSize + 1],
  );
  const page = rows.slice(0, pageSize).map((row) => ({ assignment: assignmentFromRow(em, row), viaGroup: viaGroup(row) }));
  const names = await resourceNames(
    em,
    page.map((item) => item.assignment),
  );
  const items = page.map((item) => ({
    ...item,
    resourceName: names.get(nameKey(item.assignment.resourceType, item.assignment.resourceId)) ?? "",
  }));
  const last = items.at(-1);
  return { items, nextPageToken: rows.length > pageSize && last ? encodePageToken(binding, [last.assignment.id]) : "" };
}

// ---------------------------------------------------------------------------------------------

/** The row must exist (NOT_FOUND with its type). Only our own table names reach this. */
async function requireRow(em: EntityManager, table: "maintainer" | "maintainer_group", resourceType: string, id: string): Promise<void> {
  const [row] = await em.execute<{ id: string }[]>(`select id from ${table} where id = ?`, [id]);
  if (!row) throw new NotFoundError(resourceType, id);
}

function viaGroup(row: Readonly<Record<string, unknown>>): { id: string; name: string } | undefined {
  const id = row.via_group_id as string | null;
  return id ? { id, name: (row.via_group_name as string | null) ?? "" } : undefined;
}
