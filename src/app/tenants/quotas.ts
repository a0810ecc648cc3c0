// A tenant's quota in a host group (QUO-1, QUO-5): platform admins give, change and remove them;
// services read them all; a tenant's own principals read only their tenant's, and any other is
// NOT_FOUND to them, as one that does not exist. The same row carries what the tenant uses in the
// group (`*_used`): placement alone changes that, with the row locked, in the transaction that
// places or releases a VM (src/app/compute/placement.ts). Here it is only read — and written 0 on
// create.
import type { EntityManager } from "@mikro-orm/postgresql";
import { AlreadyExistsError, FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import type { FilterSchema } from "../../domain/filter.js";
import type { Resources } from "../../domain/hosts.js";
import { isTenantRole, requireRole, type Principal } from "../../domain/principal.js";
import { resolveLimit, resourceLabels, resourceNames, type QuotaLimit, type QuotaLimits, type ResourceName } from "../../domain/quota.js";
import { BaremetalGroupTenantQuota as QuotaEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { createOnce, findForChange, readById } from "../standard-methods.js";
import { tenantReaders, tenantWriters } from "./access.js";
import { requireTenantEnabled } from "../tenant-guard.js";

export interface QuotaFields {
  readonly tenantId: string;
  readonly groupId: string;
  readonly limits: QuotaLimits;
}

export interface BaremetalGroupTenantQuota extends QuotaFields {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  /** What the tenant's VMs hold in the group now. */
  readonly used: Resources;
  /** The principal that last created or changed the limits. */
  readonly updatedBy: string;
}

/** The quota row as stored: each limit in two columns, exactly one of them set. */
export interface QuotaRow {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly tenantId: string;
  readonly groupId: string;
  readonly cpuAbsolute?: number | null;
  readonly cpuPercent?: number | null;
  readonly memoryMibAbsolute?: number | null;
  readonly memoryMibPercent?: number | null;
  readonly storageGibAbsolute?: number | null;
  readonly storageGibPercent?: number | null;
  readonly cpuUsed: number;
  readonly memoryMibUsed: number;
  readonly storageGibUsed: number;
  readonly updatedBy: string;
}

/** What UpdateBaremetalGroupTenantQuota may change: the limits, not the tenant or the group. */
export type QuotaLimitsPatch = Partial<QuotaLimits>;

export const quotaFilter: FilterSchema = {
  tenant_id: { type: { kind: "uuid" }, property: "tenantId" },
  group_id: { type: { kind: "uuid" }, property: "groupId" },
};

const QUOTA = "baremetal_group_tenant_quota";

// ---------------------------------------------------------------------------------------------
// Who

function requireQuotaRead(principal: Principal): void {
  requireRole(principal, tenantReaders, "read quotas");
}

function requireQuotaWrite(principal: Principal, action: string): void {
  requireRole(principal, tenantWriters, action);
}

/** A tenant principal sees its own tenant's quotas; another tenant's is NOT_FOUND, as a missing one. */
function requireQuotaVisible(principal: Principal, quota: { id: string; tenantId: string }): void {
  if (isTenantRole(principal.role) && quota.tenantId.toLowerCase() !== (principal.tenantId ?? "").toLowerCase())
    throw new NotFoundError(QUOTA, quota.id);
}

// ---------------------------------------------------------------------------------------------
// Use cases

/**
 * QUO-1: one quota per (tenant, group). The tenant must exist and be enabled (TEN-2: nothing is
 * given to a disabled tenant) and is read FOR SHARE, so a concurrent DeleteTenant either commits
 * first or waits and then counts this quota; the group is read FOR SHARE for the same reason.
 */
export async function createQuota(db: Database, ctx: CallContext, fields: QuotaFields): Promise<BaremetalGroupTenantQuota> {
  requireQuotaWrite(ctx.principal, "create quotas");
  ctx.audit.detail = `${describeLimits(fields.limits)} for tenant ${fields.tenantId} in group ${fields.groupId}`;
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, QUOTA, "", fields, async (id) => {
      await requireTenantEnabled(em, fields.tenantId);
      const [group] = await em.execute<{ id: string }[]>("select id from baremetal_group where id = ? for share", [fields.groupId]);
      if (!group) throw new NotFoundError("baremetal_group", fields.groupId);
      const [existing] = await em.execute<{ id: string }[]>(
        "select id from baremetal_group_tenant_quota where tenant_id = ? and group_id = ?",
        [fields.tenantId, fields.groupId],
      );
      if (existing) {
        throw new AlreadyExistsError(
          "ALREADY_EXISTS",
          `tenant ${fields.tenantId} already has quota ${existing.id} in host group ${fields.groupId}; update that one`,
          {
            resource_type: QUOTA,
            resource_id: existing.id,
            tenant_id: fields.tenantId,
            group_id: fields.groupId,
          },
        );
      }
      em.create(QuotaEntity, {
        id,
        tenantId: fields.tenantId,
        groupId: fields.groupId,
        ...limitColumns(fields.limits),
        cpuUsed: 0,
        memoryMibUsed: 0,
        storageGibUsed: 0,
        updatedBy: ctx.principal.name,
      });
    }),
  );
  return getQuota(db, ctx, id);
}

export async function getQuota(db: Database, ctx: CallContext, id: string): Promise<BaremetalGroupTenantQuota> {
  requireQuotaRead(ctx.principal);
  const row = await readById<QuotaRow>(db.em(), QuotaEntity as never, QUOTA, id);
  requireQuotaVisible(ctx.principal, row);
  return quotaOf(row);
}

export async function listQuotas(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<BaremetalGroupTenantQuota>> {
  requireQuotaRead(ctx.principal);
  const scope = isTenantRole(ctx.principal.role)
    ? { tenantId: ctx.principal.tenantId ?? "00000000-0000-0000-0000-000000000000" }
    : undefined;
  const page = await listPage(db.em(), QuotaEntity, request, quotaFilter, scope ? { scope } : {});
  return { items: (page.items as unknown as QuotaRow[]).map(quotaOf), nextPageToken: page.nextPageToken };
}

/**
 * QUO-5: a limit changes at once. Lowering it below what the tenant uses is allowed: placement then
 * refuses every new allocation there, and nothing running is evicted. The audit record's message
 * says what changed ("cpu 100 → 50; memory_mib 20% → 10%"), and which new limits are below use.
 * The row is locked FOR UPDATE, so the change queues with placements on the same quota.
 */
export async function updateQuota(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: QuotaLimitsPatch,
): Promise<BaremetalGroupTenantQuota> {
  target(ctx, id);
  requireQuotaWrite(ctx.principal, "change quotas");
  await mutate(db, ctx, async (em) => {
    const quota = await findForChange(em, ctx, QuotaEntity, QUOTA, id, etag);
    const before = limitsOf(quota);
    const after: QuotaLimits = { ...before, ...patch };
    ctx.audit.detail = await describeChange(em, quota, before, after, Object.keys(patch) as ResourceName[]);
    em.assign(quota, { ...limitColumns(after), updatedBy: ctx.principal.name });
  });
  return getQuota(db, ctx, id);
}

/** Refused with QUOTA_IN_USE while the tenant holds anything in the group: release the VMs first. */
export async function deleteQuota(db: Database, ctx: CallContext, id: string, etag: string): Promise<void> {
  target(ctx, id);
  requireQuotaWrite(ctx.principal, "delete quotas");
  await mutate(db, ctx, async (em) => {
    // Locked FOR UPDATE, like placement locks it: a placement that committed first is seen in
    // *_used; one that comes later finds no quota and is refused.
    const quota = await findForChange(em, ctx, QuotaEntity, QUOTA, id, etag);
    if (quota.cpuUsed > 0 || quota.memoryMibUsed > 0 || quota.storageGibUsed > 0) {
      throw new FailedPreconditionError(
        "QUOTA_IN_USE",
        `quota ${id} is in use: tenant ${quota.tenantId} holds ${quota.cpuUsed} vCPU, ${quota.memoryMibUsed} MiB and ${quota.storageGibUsed} GiB in host group ${quota.groupId}; delete its VMs there first`,
        {
          resource_type: QUOTA,
          resource_id: id,
          tenant_id: quota.tenantId,
          group_id: quota.groupId,
          cpu_used: String(quota.cpuUsed),
          memory_mib_used: String(quota.memoryMibUsed),
          storage_gib_used: String(quota.storageGibUsed),
        },
      );
    }
    ctx.audit.detail = `${describeLimits(limitsOf(quota))} for tenant ${quota.tenantId} in group ${quota.groupId} removed`;
    em.remove(quota);
  });
}

// ---------------------------------------------------------------------------------------------
// Row ⇄ domain

type LimitColumns = Pick<
  QuotaRow,
  "cpuAbsolute" | "cpuPercent" | "memoryMibAbsolute" | "memoryMibPercent" | "storageGibAbsolute" | "storageGibPercent"
>;

function columns(limit: QuotaLimit): [absolute: number | null, percent: number | null] {
  return "absolute" in limit ? [limit.absolute, null] : [null, limit.percent];
}

/** Exactly one column per resource is set; the other is cleared. */
function limitColumns(limits: QuotaLimits): LimitColumns {
  const [cpuAbsolute, cpuPercent] = columns(limits.cpuCores);
  const [memoryMibAbsolute, memoryMibPercent] = columns(limits.memoryMib);
  const [storageGibAbsolute, storageGibPercent] = columns(limits.storageGib);
  return { cpuAbsolute, cpuPercent, memoryMibAbsolute, memoryMibPercent, storageGibAbsolute, storageGibPercent };
}

function limit(absolute: number | null | undefined, percent: number | null | undefined): QuotaLimit {
  return absolute !== null && absolute !== undefined ? { absolute } : { percent: percent ?? 0 };
}

export function limitsOf(row: LimitColumns): QuotaLimits {
  return {
    cpuCores: limit(row.cpuAbsolute, row.cpuPercent),
    memoryMib: limit(row.memoryMibAbsolute, row.memoryMibPercent),
    storageGib: limit(row.storageGibAbsolute, row.storageGibPercent),
  };
}

export function usedOf(row: Pick<QuotaRow, "cpuUsed" | "memoryMibUsed" | "storageGibUsed">): Resources {
  return { cpuCores: row.cpuUsed, memoryMib: row.memoryMibUsed, storageGib: row.storageGibUsed };
}

function quotaOf(row: QuotaRow): BaremetalGroupTenantQuota {
  return {
    id: row.id,
    version: row.version,
    createTime: row.createTime,
    updateTime: row.updateTime,
    tenantId: row.tenantId,
    groupId: row.groupId,
    limits: limitsOf(row),
    used: usedOf(row),
    updatedBy: row.updatedBy,
  };
}

// ---------------------------------------------------------------------------------------------
// Audit messages

function describeLimit(limit: QuotaLimit): string {
  return "absolute" in limit ? String(limit.absolute) : `${limit.percent}%`;
}

function describeLimits(limits: QuotaLimits): string {
  return resourceNames.map((resource) => `${resourceLabels[resource]} ${describeLimit(limits[resource])}`).join(", ");
}

/** "cpu 100 → 50 (below use 80: blocks new allocations, evicts nothing); memory_mib 20% → 10%". */
async function describeChange(
  em: EntityManager,
  quota: QuotaRow,
  before: QuotaLimits,
  after: QuotaLimits,
  named: readonly ResourceName[],
): Promise<string> {
  const used = usedOf(quota);
  const needsCapacity = named.some((resource) => "percent" in after[resource]);
  const capacity = needsCapacity ? (await groupsEffectiveCapacity(em, [quota.groupId])).get(quota.groupId) : undefined;
  const parts = resourceNames
    .filter((resource) => named.includes(resource))
    .map((resource) => {
      const change = `${resourceLabels[resource]} ${describeLimit(before[resource])} → ${describeLimit(after[resource])}`;
      const now = resolveLimit(after[resource], capacity?.[resource] ?? 0);
      return now < used[resource] ? `${change} (below use ${used[resource]}: blocks new allocations, evicts nothing)` : change;
    });
  return parts.join("; ");
}

/**
 * The effective capacity of each group — the sum of its hosts' effective_* (capacity less the
 * group's reserve, times its ratios), whatever their status, as GetBaremetalGroup and placement
 * count it — in one query however many groups. A group without hosts has none.
 */
export async function groupsEffectiveCapacity(em: EntityManager, groupIds: readonly string[]): Promise<Map<string, Resources>> {
  const capacity = new Map<string, Resources>(groupIds.map((id) => [id, { cpuCores: 0, memoryMib: 0, storageGib: 0 }]));
  if (groupIds.length === 0) return capacity;
  // The totals each group keeps (hosts/effective-capacity.ts refreshes them with every change to
  // its hosts), not a sum over its hosts: a group of 10,000 hosts would cost a scan per call.
  const totals = await em.execute<{ id: string; cpu: string; memory: string; storage: string }[]>(
    `select id, effective_cpu_total as cpu, effective_memory_mib_total as memory, effective_storage_gib_total as storage
       from baremetal_group where id = any(array[?]::uuid[])`,
    [[...groupIds]],
  );
  for (const total of totals)
    capacity.set(total.id, { cpuCores: Number(total.cpu), memoryMib: Number(total.memory), storageGib: Number(total.storage) });
  return capacity;
}

/** Names the target before the role check, so a refused call's audit record names it too. */
function target(ctx: CallContext, id: string): void {
  ctx.audit.resourceType = QUOTA;
  ctx.audit.resourceId = id;
}
