// Host groups (HOST-2). A group's capacity is the sum over its hosts, computed when read (one
// aggregate query per page), so it can never drift from the hosts.
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError } from "../../domain/errors.js";
import type { FilterSchema } from "../../domain/filter.js";
import { field, resourceTimes } from "../../domain/filter-schema.js";
import { baremetalGroupDimensions, type BaremetalGroupDimension, type Resources } from "../../domain/hosts.js";
import type { SchedulingPolicy } from "../../domain/placement.js";
import { BaremetalGroup as GroupEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { requireInventoryRead, requireInventoryWrite } from "../inventory/access.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { createOnce, findForChange, readById } from "../standard-methods.js";
import { purgeDeletedVirtualMachines } from "../compute/history.js";
import { removeAssignments } from "../maintainers/resources.js";
import { refreshEffectiveCapacity } from "./effective-capacity.js";

export interface BaremetalGroupFields {
  readonly name: string;
  readonly description: string;
  readonly dimension: BaremetalGroupDimension;
  readonly scheduling: SchedulingPolicy;
}

export interface BaremetalGroup extends BaremetalGroupFields {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly hostCount: number;
  readonly capacity: Resources;
  readonly effectiveCapacity: Resources;
  readonly allocated: Resources;
}

const groupFilter: FilterSchema = {
  id: field.uuid("id"),
  name: field.string("name"),
  dimension: field.enum("BAREMETAL_GROUP_DIMENSION_", baremetalGroupDimensions, "dimension"),
  description: field.string("description"),
  ...resourceTimes,
};

/** The row as stored: the policy in flat columns. */
interface GroupRow {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly name: string;
  readonly description: string;
  readonly dimension: BaremetalGroupDimension;
  readonly cpuAllocationRatio: number;
  readonly memoryAllocationRatio: number;
  readonly storageAllocationRatio: number;
  readonly reservedCpuCores: number;
  readonly reservedMemoryMib: number;
  readonly reservedStorageGib: number;
  readonly placementPolicy: SchedulingPolicy["placementPolicy"];
}

function policyColumns(policy: SchedulingPolicy) {
  return {
    cpuAllocationRatio: policy.cpuAllocationRatio,
    memoryAllocationRatio: policy.memoryAllocationRatio,
    storageAllocationRatio: policy.storageAllocationRatio,
    reservedCpuCores: policy.reservedPerHost.cpuCores,
    reservedMemoryMib: policy.reservedPerHost.memoryMib,
    reservedStorageGib: policy.reservedPerHost.storageGib,
    placementPolicy: policy.placementPolicy,
  };
}

export function policyOf(row: GroupRow): SchedulingPolicy {
  return {
    cpuAllocationRatio: row.cpuAllocationRatio,
    memoryAllocationRatio: row.memoryAllocationRatio,
    storageAllocationRatio: row.storageAllocationRatio,
    reservedPerHost: { cpuCores: row.reservedCpuCores, memoryMib: row.reservedMemoryMib, storageGib: row.reservedStorageGib },
    placementPolicy: row.placementPolicy,
  };
}

export async function createBaremetalGroup(
  db: Database,
  ctx: CallContext,
  fields: BaremetalGroupFields,
  requestId: string,
): Promise<BaremetalGroup> {
  requireInventoryWrite(ctx.principal);
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, "baremetal_group", requestId, fields, async (id) => {
      const { scheduling, ...rest } = fields;
      em.create(GroupEntity, { id, ...rest, ...policyColumns(scheduling) });
    }),
  );
  return getBaremetalGroup(db, ctx, id);
}

export async function getBaremetalGroup(db: Database, ctx: CallContext, id: string): Promise<BaremetalGroup> {
  requireInventoryRead(ctx.principal);
  const em = db.em();
  const [group] = await withCapacity(em, [await readById<GroupRow>(em, GroupEntity as never, "baremetal_group", id)]);
  return group!;
}

export async function listBaremetalGroups(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<BaremetalGroup>> {
  requireInventoryRead(ctx.principal);
  const em = db.em();
  const page = await listPage(em, GroupEntity, request, groupFilter);
  return { items: await withCapacity(em, page.items as GroupRow[]), nextPageToken: page.nextPageToken };
}

export async function updateBaremetalGroup(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: Partial<BaremetalGroupFields>,
): Promise<BaremetalGroup> {
  requireInventoryWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const group = await findForChange(em, ctx, GroupEntity, "baremetal_group", id, etag);
    const { scheduling, ...rest } = patch;
    em.assign(group, { ...rest, ...(scheduling ? policyColumns(scheduling) : {}) });
    if (scheduling) {
      // The new ratios and reserve apply to every host of the group at once; hosts whose
      // allocation now exceeds their effective capacity take nothing new and lose nothing.
      await em.flush();
      await refreshEffectiveCapacity(em, { groupId: id });
    }
  });
  return getBaremetalGroup(db, ctx, id);
}

export async function deleteBaremetalGroup(db: Database, ctx: CallContext, id: string, etag: string, force: boolean): Promise<void> {
  requireInventoryWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const group = await findForChange(em, ctx, GroupEntity, "baremetal_group", id, etag);
    // Quotas and VMs are never dropped by force: tenants' allocations would vanish with them.
    const [held] = await em.execute<{ quotas: number; vms: number }[]>(
      `select (select count(*)::int from baremetal_group_tenant_quota where group_id = ?) as quotas,
              (select count(*)::int from virtual_machine where group_id = ? and state <> 'DELETED') as vms`,
      [id, id],
    );
    if (held && (held.quotas > 0 || held.vms > 0)) {
      throw new FailedPreconditionError(
        "HAS_DEPENDENTS",
        `host group ${group.name} still has ${held.quotas} tenant quota(s) and ${held.vms} virtual machine(s); remove them first`,
        { resource_type: "baremetal_group", resource_id: id, quotas: String(held.quotas), virtual_machines: String(held.vms) },
      );
    }
    const [{ count = 0 } = {}] = await em.execute<{ count: number }[]>("select count(*)::int as count from baremetal where group_id = ?", [
      id,
    ]);
    if (count > 0 && !force) {
      throw new FailedPreconditionError(
        "HAS_DEPENDENTS",
        `host group ${group.name} still has ${count} host(s); move them out first or pass force`,
        {
          resource_type: "baremetal_group",
          resource_id: id,
          baremetals: String(count),
        },
      );
    }
    const members = await em.execute<{ id: string }[]>(
      "update baremetal set group_id = null, version = version + 1, update_time = now() where group_id = ? returning id",
      [id],
    );
    await refreshEffectiveCapacity(em, { baremetalIds: members.map((member) => member.id) });
    await removeAssignments(em, "baremetal_group", [id]);
    await purgeDeletedVirtualMachines(em, "group_id", id);
    em.remove(group);
  });
}

async function withCapacity(em: EntityManager, groups: readonly GroupRow[]): Promise<BaremetalGroup[]> {
  if (groups.length === 0) return [];
  const sums = await em.execute<
    {
      group_id: string;
      hosts: number;
      cpu: number;
      memory: number;
      storage: number;
      cpu_effective: number;
      memory_effective: number;
      storage_effective: number;
      cpu_allocated: number;
      memory_allocated: number;
      storage_allocated: number;
    }[]
  >(
    `select group_id, count(*)::int as hosts, sum(cpu_cores)::bigint as cpu, sum(memory_mib)::bigint as memory, sum(storage_gib)::bigint as storage,
            sum(effective_cpu_cores)::bigint as cpu_effective, sum(effective_memory_mib)::bigint as memory_effective,
            sum(effective_storage_gib)::bigint as storage_effective,
            sum(cpu_cores_allocated)::bigint as cpu_allocated, sum(memory_mib_allocated)::bigint as memory_allocated,
            sum(storage_gib_allocated)::bigint as storage_allocated
       from baremetal where group_id = any(array[?]::uuid[]) group by group_id`,
    [groups.map((group) => group.id)],
  );
  const byGroup = new Map(sums.map((sum) => [sum.group_id, sum]));
  return groups.map((group) => {
    const sum = byGroup.get(group.id);
    return {
      id: group.id,
      version: group.version,
      createTime: group.createTime,
      updateTime: group.updateTime,
      name: group.name,
      description: group.description,
      dimension: group.dimension,
      scheduling: policyOf(group),
      hostCount: sum?.hosts ?? 0,
      effectiveCapacity: {
        cpuCores: sum?.cpu_effective ?? 0,
        memoryMib: sum?.memory_effective ?? 0,
        storageGib: sum?.storage_effective ?? 0,
      },
      capacity: { cpuCores: sum?.cpu ?? 0, memoryMib: sum?.memory ?? 0, storageGib: sum?.storage ?? 0 },
      allocated: { cpuCores: sum?.cpu_allocated ?? 0, memoryMib: sum?.memory_allocated ?? 0, storageGib: sum?.storage_allocated ?? 0 },
    };
  });
}
