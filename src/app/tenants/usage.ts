// A tenant's usage (QUO-3): per host group where it holds a quota, the limit now (a percentage
// resolved against the group's current effective capacity), what it uses and what is left, and the
// totals. Three queries whatever the number of groups: the tenant, its quotas with their groups'
// names, and one aggregate of the hosts of all those groups.
import { resolveLimits } from "../../domain/quota.js";
import type { Resources } from "../../domain/hosts.js";
import { Tenant as TenantEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { readBound } from "../../persistence/reads.js";
import { readById } from "../standard-methods.js";
import { requireTenantRead, requireTenantVisible } from "./access.js";
import { groupsEffectiveCapacity, limitsOf, usedOf } from "./quotas.js";

/** One resource: the limit now, what is used, and limit − used (negative when a limit was lowered
 * below use). */
export interface ResourceUsage {
  readonly limit: number;
  readonly used: number;
  readonly remaining: number;
}

export interface UsageByResource {
  readonly cpuCores: ResourceUsage;
  readonly memoryMib: ResourceUsage;
  readonly storageGib: ResourceUsage;
}

export interface GroupUsage extends UsageByResource {
  readonly groupId: string;
  readonly groupName: string;
  readonly quotaId: string;
  /** The group's effective capacity the percentages were resolved against. */
  readonly effectiveCapacity: Resources;
}

export interface TenantUsage {
  readonly tenantId: string;
  readonly groups: GroupUsage[];
  readonly total: UsageByResource;
}

interface QuotaWithGroup {
  id: string;
  group_id: string;
  group_name: string;
  cpu_absolute: number | null;
  cpu_percent: number | null;
  memory_mib_absolute: number | null;
  memory_mib_percent: number | null;
  storage_gib_absolute: number | null;
  storage_gib_percent: number | null;
  cpu_used: number;
  memory_mib_used: number;
  storage_gib_used: number;
}

/** A tenant principal asking about another tenant gets NOT_FOUND, as for one that does not exist. */
export async function getTenantUsage(db: Database, ctx: CallContext, tenantId: string): Promise<TenantUsage> {
  requireTenantRead(ctx.principal);
  requireTenantVisible(ctx.principal, tenantId);
  const em = db.em();
  // The tenant (NOT_FOUND if missing) and its quotas at once; the quotas' statement is prepared.
  const [tenant, quotas] = await Promise.all([
    readById(em, TenantEntity, "tenant", tenantId),
    readBound<QuotaWithGroup>(
      em,
      `select q.id, q.group_id, g.name as group_name, q.cpu_absolute, q.cpu_percent, q.memory_mib_absolute, q.memory_mib_percent,
            q.storage_gib_absolute, q.storage_gib_percent, q.cpu_used, q.memory_mib_used, q.storage_gib_used
       from baremetal_group_tenant_quota q join baremetal_group g on g.id = q.group_id
      where q.tenant_id = ? order by g.name, q.id`,
      [tenantId],
    ),
  ]);
  const capacity = await groupsEffectiveCapacity(
    em,
    quotas.map((quota) => quota.group_id),
  );
  const groups = quotas.map((quota): GroupUsage => {
    const effective = capacity.get(quota.group_id) ?? { cpuCores: 0, memoryMib: 0, storageGib: 0 };
    const limit = resolveLimits(
      limitsOf({
        cpuAbsolute: quota.cpu_absolute,
        cpuPercent: quota.cpu_percent,
        memoryMibAbsolute: quota.memory_mib_absolute,
        memoryMibPercent: quota.memory_mib_percent,
        storageGibAbsolute: quota.storage_gib_absolute,
        storageGibPercent: quota.storage_gib_percent,
      }),
      effective,
    );
    const used = usedOf({ cpuUsed: quota.cpu_used, memoryMibUsed: quota.memory_mib_used, storageGibUsed: quota.storage_gib_used });
    return {
      groupId: quota.group_id,
      groupName: quota.group_name,
      quotaId: quota.id,
      effectiveCapacity: effective,
      ...usageOf(limit, used),
    };
  });
  const sum = (pick: (group: GroupUsage) => number) => groups.reduce((total, group) => total + pick(group), 0);
  const total = usageOf(
    { cpuCores: sum((g) => g.cpuCores.limit), memoryMib: sum((g) => g.memoryMib.limit), storageGib: sum((g) => g.storageGib.limit) },
    { cpuCores: sum((g) => g.cpuCores.used), memoryMib: sum((g) => g.memoryMib.used), storageGib: sum((g) => g.storageGib.used) },
  );
  return { tenantId: tenant.id, groups, total };
}

function usageOf(limit: Resources, used: Resources): UsageByResource {
  const one = (l: number, u: number): ResourceUsage => ({ limit: l, used: u, remaining: l - u });
  return {
    cpuCores: one(limit.cpuCores, used.cpuCores),
    memoryMib: one(limit.memoryMib, used.memoryMib),
    storageGib: one(limit.storageGib, used.storageGib),
  };
}
