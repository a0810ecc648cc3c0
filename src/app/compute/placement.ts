// Placement (VM-3, VM-7, QUO-4): inside the transaction that inserts the VM, lock the tenant's quota
// row and check the quota, choose a host among those that fit, take the resources from it with a
// conditional UPDATE, and describe the decision for the scheduling record. Every guard is in the
// database, so no number of concurrent requests or server replicas can overcommit a host or pass a
// quota: the quota row is locked FOR UPDATE, candidate hosts are locked FOR UPDATE SKIP LOCKED (so
// concurrent placements spread over different hosts instead of queueing on the best one), and the
// UPDATE re-checks the host's free capacity.
import type { EntityManager } from "@mikro-orm/postgresql";
import { NotFoundError, ResourceExhaustedError } from "../../domain/errors.js";
import type { Resources } from "../../domain/hosts.js";
import { rank, type Candidate, type PlacementPolicy } from "../../domain/placement.js";
import { quotaShortfall, resolveLimits, resourceLabels } from "../../domain/quota.js";
import { limitsOf } from "../tenants/quotas.js";

export interface PlacementRequest {
  readonly tenantId: string;
  /** A host group, or one host (then its group is the group). */
  readonly target: { readonly groupId: string } | { readonly baremetalId: string };
  readonly resources: Resources;
  /** Hosts (scope HOST) or racks (scope RACK) to stay away from. */
  readonly avoid: { readonly scope: "HOST" | "RACK"; readonly ids: readonly string[] } | undefined;
}

export interface PlacementDecision {
  readonly groupId: string;
  /** The quota row checked (and locked): the caller counts the request on it. */
  readonly quotaId: string;
  readonly baremetalId: string;
  readonly policy: PlacementPolicy;
  readonly candidates: ReadonlyArray<{ baremetalId: string; free: Resources; score: number }>;
  readonly reason: string;
}

/** How many hosts are looked at (and locked) per attempt. */
const candidatesPerAttempt = 8;

export async function place(em: EntityManager, request: PlacementRequest): Promise<PlacementDecision> {
  const groupId = "groupId" in request.target ? request.target.groupId : await groupOfHost(em, request.target.baremetalId);
  const group = await reserveQuota(em, request.tenantId, groupId, request.resources);

  // First the hosts nobody else is placing on; if all that fit are busy, wait for them.
  for (const skipLocked of [true, false]) {
    const rows = await candidateRows(em, group, request, skipLocked);
    if (rows.length === 0) continue;
    const ranked = rank(group.placement_policy, rows, request.resources);
    for (const chosen of ranked) {
      const taken = await em.execute<{ id: string }[]>(
        `update baremetal set cpu_cores_allocated = cpu_cores_allocated + ?, memory_mib_allocated = memory_mib_allocated + ?,
                storage_gib_allocated = storage_gib_allocated + ?, update_time = now()
          where id = ? and status = 'ACTIVE' and free_cpu_cores >= ? and free_memory_mib >= ? and free_storage_gib >= ?
          returning id`,
        [
          request.resources.cpuCores,
          request.resources.memoryMib,
          request.resources.storageGib,
          chosen.baremetalId,
          request.resources.cpuCores,
          request.resources.memoryMib,
          request.resources.storageGib,
        ],
      );
      if (taken.length === 0) continue;
      return {
        groupId: group.id,
        quotaId: group.quotaId,
        baremetalId: chosen.baremetalId,
        policy: group.placement_policy,
        candidates: ranked.map((candidate) => ({ baremetalId: candidate.baremetalId, free: candidate.free, score: candidate.score })),
        reason:
          "baremetalId" in request.target
            ? "the host the request named"
            : `best ${group.placement_policy === "SPREAD" ? "spread (most free capacity left)" : "pack (least free capacity left)"} of ${ranked.length} fitting host(s)`,
      };
    }
  }
  throw await insufficientCapacity(em, group, request);
}

interface GroupRow {
  id: string;
  name: string;
  placement_policy: PlacementPolicy;
  quotaId: string;
}

async function groupOfHost(em: EntityManager, baremetalId: string): Promise<string> {
  const [host] = await em.execute<{ group_id: string | null }[]>("select group_id from baremetal where id = ?", [baremetalId]);
  if (!host) throw new NotFoundError("baremetal", baremetalId);
  if (!host.group_id) {
    throw new ResourceExhaustedError("QUOTA_EXCEEDED", `host ${baremetalId} is in no host group, so no tenant has a quota on it`, { baremetal_id: baremetalId });
  }
  return host.group_id;
}

interface QuotaRow {
  id: string;
  group_name: string;
  placement_policy: PlacementPolicy;
  effective_cpu_total: number;
  effective_memory_mib_total: number;
  effective_storage_gib_total: number;
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

/** Locks the tenant's quota row in the group (read with the group's policy and effective totals in
 * the same statement) and checks the request fits. The row stays locked until the transaction ends;
 * the caller counts the request on it in its final statement. */
async function reserveQuota(em: EntityManager, tenantId: string, groupId: string, asked: Resources): Promise<GroupRow> {
  const [quota] = await em.execute<QuotaRow[]>(
    `select q.*, g.name as group_name, g.placement_policy, g.effective_cpu_total, g.effective_memory_mib_total, g.effective_storage_gib_total
       from baremetal_group_tenant_quota q join baremetal_group g on g.id = q.group_id
      where q.tenant_id = ? and q.group_id = ? for update of q`,
    [tenantId, groupId],
  );
  if (!quota) {
    const [group] = await em.execute<{ id: string }[]>("select id from baremetal_group where id = ?", [groupId]);
    if (!group) throw new NotFoundError("baremetal_group", groupId);
    throw new ResourceExhaustedError("QUOTA_EXCEEDED", `tenant ${tenantId} has no quota in host group ${groupId}, so it cannot place there`, {
      tenant_id: tenantId,
      group_id: groupId,
      limit: "0",
    });
  }
  const limits = limitsOf({
    cpuAbsolute: quota.cpu_absolute,
    cpuPercent: quota.cpu_percent,
    memoryMibAbsolute: quota.memory_mib_absolute,
    memoryMibPercent: quota.memory_mib_percent,
    storageGibAbsolute: quota.storage_gib_absolute,
    storageGibPercent: quota.storage_gib_percent,
  });
  const capacity = { cpuCores: quota.effective_cpu_total, memoryMib: quota.effective_memory_mib_total, storageGib: quota.effective_storage_gib_total };
  const resolved = resolveLimits(limits, capacity);
  const used = { cpuCores: quota.cpu_used, memoryMib: quota.memory_mib_used, storageGib: quota.storage_gib_used };
  const shortfall = quotaShortfall(resolved, used, asked);
  if (shortfall) {
    const name = resourceLabels[shortfall.resource];
    throw new ResourceExhaustedError(
      "QUOTA_EXCEEDED",
      `quota exceeded for ${name} in host group ${quota.group_name}: limit ${shortfall.limit}, used ${shortfall.used}, asked ${shortfall.asked}`,
      { tenant_id: tenantId, group_id: groupId, resource: name, limit: String(shortfall.limit), used: String(shortfall.used), asked: String(shortfall.asked) },
    );
  }
  return { id: groupId, name: quota.group_name, placement_policy: quota.placement_policy, quotaId: quota.id };
}

async function candidateRows(em: EntityManager, group: GroupRow, request: PlacementRequest, skipLocked: boolean): Promise<Candidate[]> {
  const { cpuCores, memoryMib, storageGib } = request.resources;
  const conditions = ["group_id = ?", "status = 'ACTIVE'", "free_cpu_cores >= ?", "free_memory_mib >= ?", "free_storage_gib >= ?"];
  const parameters: unknown[] = [group.id, cpuCores, memoryMib, storageGib];
  if ("baremetalId" in request.target) {
    conditions.push("id = ?");
    parameters.push(request.target.baremetalId);
  }
  if (request.avoid && request.avoid.ids.length > 0) {
    conditions.push(request.avoid.scope === "HOST" ? "id <> all(array[?]::uuid[])" : "rack_id <> all(array[?]::uuid[])");
    parameters.push(request.avoid.ids);
  }
  // The index on free CPU picks a handful of plausible hosts without sorting the group; they are
  // then ranked on all three resources by the group's policy.
  const order = group.placement_policy === "PACK" ? "asc" : "desc";
  const rows = await em.execute<
    { id: string; rack_id: string; effective_cpu_cores: number; effective_memory_mib: number; effective_storage_gib: number; free_cpu_cores: number; free_memory_mib: number; free_storage_gib: number }[]
  >(
    `select id, rack_id, effective_cpu_cores, effective_memory_mib, effective_storage_gib, free_cpu_cores, free_memory_mib, free_storage_gib
       from baremetal where ${conditions.join(" and ")}
      order by free_cpu_cores ${order}, id limit ${candidatesPerAttempt} for update${skipLocked ? " skip locked" : ""}`,
    parameters,
  );
  return rows.map((row) => ({
    baremetalId: row.id,
    rackId: row.rack_id,
    effective: { cpuCores: row.effective_cpu_cores, memoryMib: row.effective_memory_mib, storageGib: row.effective_storage_gib },
    free: { cpuCores: row.free_cpu_cores, memoryMib: row.free_memory_mib, storageGib: row.free_storage_gib },
  }));
}

/** Why nothing fits, summarised over the hosts considered. */
async function insufficientCapacity(em: EntityManager, group: GroupRow, request: PlacementRequest): Promise<ResourceExhaustedError> {
  const { cpuCores, memoryMib, storageGib } = request.resources;
  const single = "baremetalId" in request.target;
  const avoid = request.avoid && request.avoid.ids.length > 0 ? request.avoid : undefined;
  const avoided = avoid ? (avoid.scope === "HOST" ? "id = any(array[?]::uuid[])" : "rack_id = any(array[?]::uuid[])") : "false";
  const [counts] = await em.execute<{ considered: number; not_active: number; cpu: number; memory: number; storage: number; anti_affinity: number }[]>(
    `select count(*)::int as considered,
            count(*) filter (where status <> 'ACTIVE')::int as not_active,
            count(*) filter (where status = 'ACTIVE' and free_cpu_cores < ?)::int as cpu,
            count(*) filter (where status = 'ACTIVE' and free_memory_mib < ?)::int as memory,
            count(*) filter (where status = 'ACTIVE' and free_storage_gib < ?)::int as storage,
            count(*) filter (where ${avoided})::int as anti_affinity
       from baremetal where ${single ? "id = ?" : "group_id = ?"}`,
    [cpuCores, memoryMib, storageGib, ...(avoid ? [avoid.ids] : []), single ? (request.target as { baremetalId: string }).baremetalId : group.id],
  );
  const c = counts!;
  const reasons = [
    c.not_active && `${c.not_active} not ACTIVE`,
    c.cpu && `${c.cpu} short of CPU`,
    c.memory && `${c.memory} short of memory`,
    c.storage && `${c.storage} short of storage`,
    c.anti_affinity && `${c.anti_affinity} excluded by anti-affinity`,
  ].filter(Boolean);
  return new ResourceExhaustedError(
    "INSUFFICIENT_CAPACITY",
    `no host in group ${group.name} can take ${cpuCores} vCPU, ${memoryMib} MiB, ${storageGib} GiB: ${c.considered} host(s) considered${reasons.length ? `: ${reasons.join(", ")}` : ""}`,
    {
      group_id: group.id,
      hosts_considered: String(c.considered),
      not_active: String(c.not_active),
      short_of_cpu: String(c.cpu),
      short_of_memory: String(c.memory),
      short_of_storage: String(c.storage),
      anti_affinity: String(c.anti_affinity),
    },
  );
}
