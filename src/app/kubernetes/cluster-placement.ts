// Admission and placement of a whole cluster (QUO-4, K8S-1): every node VM of the request is counted
// against the tenant's quota in each of its host groups, and placed, in the caller's transaction —
// all of them or none. Locks follow the one lock order (docs/compute.md): the caller holds the
// tenant; here the quota rows in group id order, then the hosts in id order. Nothing is written
// until every node has a host, so a refusal leaves no reservation behind.
import { FailedPreconditionError, NotFoundError, ResourceExhaustedError } from "../../domain/errors.js";
import type { Resources } from "../../domain/hosts.js";
import type { NodeDemand } from "../../domain/kubernetes.js";
import { candidatesLeft, rank, type Candidate, type PlacementPolicy } from "../../domain/placement.js";
import { add, noQuotaInGroup, requireWithinQuota } from "../../domain/quota.js";
import type { EntityManager } from "@mikro-orm/postgresql";
import { executeBound } from "../../persistence/bound.js";
import type { Sql } from "../../persistence/sql.js";
import { limitsOf } from "../tenants/quotas.js";

/** One node VM with its host chosen. */
export interface PlacedNode {
  readonly role: "CONTROL_PLANE" | "WORKER";
  readonly poolName: string | null;
  /** 1-based, within the control plane or its pool. */
  readonly ordinal: number;
  readonly groupId: string;
  readonly specificationId: string;
  readonly image: CatalogueImage;
  readonly resources: Resources;
  readonly baremetalId: string;
  readonly policy: PlacementPolicy;
  readonly candidates: ReadonlyArray<{ baremetalId: string; free: Resources; score: number }>;
  readonly reason: string;
}

export interface CatalogueImage {
  readonly id: string;
  readonly name: string;
  readonly osFamily: string;
  readonly osVersion: string;
  readonly architecture: string;
}

interface Group {
  readonly id: string;
  readonly name: string;
  readonly policy: PlacementPolicy;
  readonly effective: Resources;
}

export interface PlacementOptions {
  /** Hosts the cluster's control plane already runs on: a control-plane node placed now (an
   * upgrade's surge node, which runs beside the node it replaces) goes on none of them. */
  readonly controlPlaneHosts?: readonly string[];
}

/** The rule an INSUFFICIENT_CAPACITY refusal names, in its metadata's `rule`. */
export const controlPlaneRule = "CONTROL_PLANE_DISTINCT_HOSTS";

/**
 * Checks the catalogue and the quota for every demand and chooses a host for every node: control
 * plane nodes each on a host of their own (hard), a pool's nodes spread over hosts it does not use
 * yet before doubling up, each by its group's policy. Reserves nothing: `reserveNodes` writes the
 * counters for what this returns, in the same transaction.
 */
export async function placeCluster(
  sql: Sql,
  tenantId: string,
  demands: readonly NodeDemand[],
  options: PlacementOptions = {},
): Promise<PlacedNode[]> {
  const occupied = new Set(options.controlPlaneHosts ?? []);
  const sizes = await specificationSizes(sql, demands);
  const images = await usableImages(sql, demands);
  const asked = new Map<string, Resources>();
  for (const demand of demands) {
    const size = sizes.get(demand.specificationId)!;
    const total = asked.get(demand.groupId) ?? { cpuCores: 0, memoryMib: 0, storageGib: 0 };
    asked.set(demand.groupId, add(total, times(size, demand.count)));
  }
  const groupIds = [...asked.keys()].sort();
  const groups = new Map<string, Group>();
  for (const groupId of groupIds) groups.set(groupId, await requireQuota(sql, tenantId, groupId, asked.get(groupId)!));
  const hosts = await lockHosts(sql, groupIds, smallest([...sizes.values()]));
  const taken = new Map<string, Resources>();
  const placed: PlacedNode[] = [];
  for (const demand of demands) {
    const group = groups.get(demand.groupId)!;
    const size = sizes.get(demand.specificationId)!;
    // The demand's hosts ranked once: a host it has not used keeps its score until the demand uses
    // it, so the best fresh host for each node is the next in this ranking. Only a pool with more
    // nodes than fitting hosts ranks again, over every host that still fits, to double up.
    const fitting = candidatesLeft(hosts.get(demand.groupId) ?? [], taken, size);
    const fresh = rank(
      group.policy,
      demand.role === "CONTROL_PLANE" && occupied.size > 0 ? fitting.filter((host) => !occupied.has(host.baremetalId)) : fitting,
      size,
    );
    for (let ordinal = 1; ordinal <= demand.count; ordinal++) {
      const left = fresh.length - (ordinal - 1);
      if (demand.role === "CONTROL_PLANE" && left <= 0) {
        throw new ResourceExhaustedError(
          "INSUFFICIENT_CAPACITY",
          `the control plane needs ${demand.count} distinct hosts in group ${group.name} that can each take ${describe(size)}${occupied.size > 0 ? ` besides the ${occupied.size} its running nodes use` : ""}; only ${fresh.length} can (rule ${controlPlaneRule}: control-plane nodes never share a host)`,
          { rule: controlPlaneRule, group_id: group.id, needed: String(demand.count), available: String(fresh.length) },
        );
      }
      const ranked =
        left > 0
          ? fresh.slice(ordinal - 1, ordinal + 7)
          : rank(group.policy, candidatesLeft(hosts.get(demand.groupId) ?? [], taken, size), size);
      const chosen = ranked[0];
      if (!chosen) {
        throw new ResourceExhaustedError(
          "INSUFFICIENT_CAPACITY",
          `no host in group ${group.name} can take node ${ordinal} of pool ${demand.poolName} (${describe(size)}); nothing of the cluster was created`,
          {
            rule: "NODE_FITS_HOST",
            group_id: group.id,
            node_pool: demand.poolName ?? "",
            needed: String(demand.count),
            placed: String(ordinal - 1),
          },
        );
      }
      taken.set(chosen.baremetalId, add(taken.get(chosen.baremetalId) ?? { cpuCores: 0, memoryMib: 0, storageGib: 0 }, size));
      placed.push({
        role: demand.role,
        poolName: demand.poolName,
        ordinal,
        groupId: demand.groupId,
        specificationId: demand.specificationId,
        image: images.get(demand.imageId)!,
        resources: size,
        baremetalId: chosen.baremetalId,
        policy: group.policy,
        candidates: ranked
          .slice(0, 8)
          .map((candidate) => ({ baremetalId: candidate.baremetalId, free: candidate.free, score: candidate.score })),
        reason:
          demand.role === "CONTROL_PLANE"
            ? `control plane: best ${group.policy.toLowerCase()} of ${left} host(s) no other control-plane node of the cluster uses`
            : `pool ${demand.poolName}: best ${group.policy.toLowerCase()} of ${left > 0 ? left : ranked.length} ${left > 0 ? "host(s) the pool does not use yet" : "fitting host(s)"}`,
      });
    }
  }
  return placed;
}

/**
 * Takes the placed nodes' resources from their hosts (guarded: the hosts are locked since
 * `placeCluster`, so the guard fails only if an invariant broke) and counts them in the tenant's
 * quota rows, in the order they were locked.
 */
export async function reserveNodes(sql: EntityManager, tenantId: string, nodes: readonly PlacedNode[]): Promise<void> {
  const byGroup = new Map<string, Resources>();
  const byHost = new Map<string, Resources>();
  for (const node of nodes) {
    byGroup.set(node.groupId, add(byGroup.get(node.groupId) ?? { cpuCores: 0, memoryMib: 0, storageGib: 0 }, node.resources));
    byHost.set(node.baremetalId, add(byHost.get(node.baremetalId) ?? { cpuCores: 0, memoryMib: 0, storageGib: 0 }, node.resources));
  }
  for (const [groupId, used] of [...byGroup].sort(([a], [b]) => (a < b ? -1 : 1))) {
    await sql.execute(
      `update baremetal_group_tenant_quota set cpu_used = cpu_used + ?, memory_mib_used = memory_mib_used + ?, storage_gib_used = storage_gib_used + ?
        where tenant_id = ? and group_id = ?`,
      [used.cpuCores, used.memoryMib, used.storageGib, tenantId, groupId],
    );
  }
  // Every host in one statement, its amounts bound as arrays: a 100-node cluster spread over 100
  // hosts is one round trip.
  const hosts = [...byHost].sort(([a], [b]) => (a < b ? -1 : 1));
  const updated = await executeBound<{ id: string }>(
    sql,
    `update baremetal b set cpu_cores_allocated = b.cpu_cores_allocated + u.cpu, memory_mib_allocated = b.memory_mib_allocated + u.memory,
            storage_gib_allocated = b.storage_gib_allocated + u.storage, update_time = now()
       from unnest(?::uuid[], ?::int8[], ?::int8[], ?::int8[]) as u(id, cpu, memory, storage)
      where b.id = u.id and b.status = 'ACTIVE' and b.free_cpu_cores >= u.cpu and b.free_memory_mib >= u.memory
        and b.free_storage_gib >= u.storage
      returning b.id`,
    [
      hosts.map(([id]) => id),
      hosts.map(([, used]) => used.cpuCores),
      hosts.map(([, used]) => used.memoryMib),
      hosts.map(([, used]) => used.storageGib),
    ],
  );
  if (updated.length !== hosts.length) {
    const missing = hosts.find(([id]) => !updated.some((row) => row.id === id));
    throw new Error(`host ${missing?.[0]} changed while it was locked for a cluster's placement`);
  }
}

async function specificationSizes(sql: Sql, demands: readonly NodeDemand[]): Promise<Map<string, Resources>> {
  const ids = [...new Set(demands.map((demand) => demand.specificationId))];
  const rows = await sql.execute<
    { id: string; name: string; vcpu: number; memory_mib: number; storage_gib: number; deprecated: boolean }[]
  >("select id, name, vcpu, memory_mib, storage_gib, deprecated from virtual_machine_specification where id = any(array[?]::uuid[])", [
    ids,
  ]);
  const sizes = new Map<string, Resources>();
  for (const row of rows) {
    if (row.deprecated) {
      throw new FailedPreconditionError("SPECIFICATION_DEPRECATED", `specification ${row.name} is deprecated: choose another for new VMs`, {
        specification_id: row.id,
      });
    }
    sizes.set(row.id, { cpuCores: Number(row.vcpu), memoryMib: Number(row.memory_mib), storageGib: Number(row.storage_gib) });
  }
  const missing = ids.find((id) => !sizes.has(id));
  if (missing) throw new NotFoundError("virtual_machine_specification", missing);
  return sizes;
}

async function usableImages(sql: Sql, demands: readonly NodeDemand[]): Promise<Map<string, CatalogueImage>> {
  const ids = [...new Set(demands.map((demand) => demand.imageId))];
  const rows = await sql.execute<
    { id: string; name: string; status: string; os_family: string; os_version: string; architecture: string }[]
  >("select id, name, status, os_family, os_version, architecture from image where id = any(array[?]::uuid[])", [ids]);
  const images = new Map<string, CatalogueImage>();
  for (const row of rows) {
    if (row.status === "DISABLED")
      throw new FailedPreconditionError("IMAGE_DISABLED", `image ${row.name} is disabled`, { image_id: row.id });
    images.set(row.id, { id: row.id, name: row.name, osFamily: row.os_family, osVersion: row.os_version, architecture: row.architecture });
  }
  const missing = ids.find((id) => !images.has(id));
  if (missing) throw new NotFoundError("image", missing);
  return images;
}

/** The group, and the tenant's quota row in it locked FOR UPDATE and checked against everything the
 * cluster asks of the group. */
async function requireQuota(sql: Sql, tenantId: string, groupId: string, asked: Resources): Promise<Group> {
  const [group] = await sql.execute<
    {
      id: string;
      name: string;
      placement_policy: PlacementPolicy;
      effective_cpu_total: number;
      effective_memory_mib_total: number;
      effective_storage_gib_total: number;
    }[]
  >(
    "select id, name, placement_policy, effective_cpu_total, effective_memory_mib_total, effective_storage_gib_total from baremetal_group where id = ?",
    [groupId],
  );
  if (!group) throw new NotFoundError("baremetal_group", groupId);
  // bigint columns arrive as strings: every count is made a number here.
  const effective = {
    cpuCores: Number(group.effective_cpu_total),
    memoryMib: Number(group.effective_memory_mib_total),
    storageGib: Number(group.effective_storage_gib_total),
  };
  const [quota] = await sql.execute<
    {
      cpu_absolute: number | null;
      cpu_percent: number | null;
      memory_mib_absolute: number | null;
      memory_mib_percent: number | null;
      storage_gib_absolute: number | null;
      storage_gib_percent: number | null;
      cpu_used: number;
      memory_mib_used: number;
      storage_gib_used: number;
    }[]
  >(
    `select cpu_absolute, cpu_percent, memory_mib_absolute, memory_mib_percent, storage_gib_absolute, storage_gib_percent,
            cpu_used, memory_mib_used, storage_gib_used
       from baremetal_group_tenant_quota where tenant_id = ? and group_id = ? for update`,
    [tenantId, groupId],
  );
  if (!quota) throw noQuotaInGroup(tenantId, groupId, group.name);
  const limits = limitsOf({
    cpuAbsolute: numberOrNull(quota.cpu_absolute),
    cpuPercent: numberOrNull(quota.cpu_percent),
    memoryMibAbsolute: numberOrNull(quota.memory_mib_absolute),
    memoryMibPercent: numberOrNull(quota.memory_mib_percent),
    storageGibAbsolute: numberOrNull(quota.storage_gib_absolute),
    storageGibPercent: numberOrNull(quota.storage_gib_percent),
  });
  const used = { cpuCores: Number(quota.cpu_used), memoryMib: Number(quota.memory_mib_used), storageGib: Number(quota.storage_gib_used) };
  requireWithinQuota(
    { tenantId, groupId, groupName: group.name, limits, effective, used, asked },
    { lead: "the cluster's nodes exceed the quota for", tail: "; nothing was reserved" },
  );
  return { id: group.id, name: group.name, policy: group.placement_policy, effective };
}

/** The ACTIVE hosts of the groups that can take at least the smallest node, locked in id order. */
async function lockHosts(sql: Sql, groupIds: readonly string[], smallestNode: Resources): Promise<Map<string, Candidate[]>> {
  const rows = await sql.execute<
    {
      id: string;
      group_id: string;
      rack_id: string;
      effective_cpu_cores: number;
      effective_memory_mib: number;
      effective_storage_gib: number;
      free_cpu_cores: number;
      free_memory_mib: number;
      free_storage_gib: number;
    }[]
  >(
    `select id, group_id, rack_id, effective_cpu_cores, effective_memory_mib, effective_storage_gib, free_cpu_cores, free_memory_mib, free_storage_gib
       from baremetal where group_id = any(array[?]::uuid[]) and status = 'ACTIVE'
        and free_cpu_cores >= ? and free_memory_mib >= ? and free_storage_gib >= ?
      order by id for no key update`,
    [groupIds, smallestNode.cpuCores, smallestNode.memoryMib, smallestNode.storageGib],
  );
  const hosts = new Map<string, Candidate[]>();
  for (const row of rows) {
    const list = hosts.get(row.group_id) ?? [];
    list.push({
      baremetalId: row.id,
      rackId: row.rack_id,
      effective: {
        cpuCores: Number(row.effective_cpu_cores),
        memoryMib: Number(row.effective_memory_mib),
        storageGib: Number(row.effective_storage_gib),
      },
      free: { cpuCores: Number(row.free_cpu_cores), memoryMib: Number(row.free_memory_mib), storageGib: Number(row.free_storage_gib) },
    });
    hosts.set(row.group_id, list);
  }
  return hosts;
}

function numberOrNull(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

function times(size: Resources, count: number): Resources {
  return { cpuCores: size.cpuCores * count, memoryMib: size.memoryMib * count, storageGib: size.storageGib * count };
}

function smallest(sizes: readonly Resources[]): Resources {
  return {
    cpuCores: Math.min(...sizes.map((size) => size.cpuCores)),
    memoryMib: Math.min(...sizes.map((size) => size.memoryMib)),
    storageGib: Math.min(...sizes.map((size) => size.storageGib)),
  };
}

function describe(size: Resources): string {
  return `${size.cpuCores} vCPU, ${size.memoryMib} MiB, ${size.storageGib} GiB`;
}
