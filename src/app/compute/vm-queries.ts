// Reading VMs (VM-5) and placement records (VM-7).
import { observedFilter } from "../../domain/observations.js";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { VirtualMachine } from "../../domain/compute.js";
import { NotFoundError, PermissionDeniedError } from "../../domain/errors.js";
import type { FilterSchema } from "../../domain/filter.js";
import { virtualMachineRoles, virtualMachineStates } from "../../domain/compute.js";
import { isTenantRole, type Principal, requireRole } from "../../domain/principal.js";
import { SchedulingRecord as SchedulingRecordEntity, VirtualMachine as VirtualMachineEntity } from "../../persistence/entities/index.js";
import type { SchedulingCandidateRecord, SchedulingEventRecord } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { enumValues } from "../../domain/filter-schema.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { requireMaintainerRead } from "../maintainers/access.js";
import { maintainersOf, type ResponsibleMaintainer } from "../maintainers/assignments.js";
import { mapRow, readBound, readRowById } from "../../persistence/reads.js";

/** Who may read and operate VMs (tenant principals: their own tenant's). */
export const vmUsers = ["PLATFORM_ADMIN", "SERVICE", "TENANT_ADMIN", "TENANT_MEMBER"] as const;

/** Tenant principals act only for their own tenant; another tenant's VM does not exist for them. */
export function requireOwnTenant(principal: Principal, tenantId: string, resource: { type: string; id: string } | undefined): void {
  if (!isTenantRole(principal.role) || principal.tenantId === tenantId) return;
  if (resource) throw new NotFoundError(resource.type, resource.id);
  throw new PermissionDeniedError("TENANT_MISMATCH", `a principal of tenant ${principal.tenantId} may not act for tenant ${tenantId}`, {
    tenant_id: tenantId,
  });
}

export async function getVirtualMachine(db: Database, ctx: CallContext, id: string, em: EntityManager = db.em()): Promise<VirtualMachine> {
  requireRole(ctx.principal, vmUsers, "read virtual machines");
  const vm = (await readRowById(em, VirtualMachineEntity, id)) as unknown as VirtualMachine | undefined;
  if (!vm) throw new NotFoundError("virtual_machine", id);
  requireOwnTenant(ctx.principal, vm.tenantId, { type: "virtual_machine", id });
  return vm;
}

const uuid = { kind: "uuid" } as const;
const vmFilter: FilterSchema = {
  id: { type: uuid, property: "id" },
  name: { type: { kind: "string" }, property: "name" },
  tenant_id: { type: uuid, property: "tenantId" },
  state: { type: { kind: "enum", values: enumValues("VIRTUAL_MACHINE_STATE_", virtualMachineStates) }, property: "state" },
  baremetal_id: { type: uuid, property: "baremetalId" },
  group_id: { type: uuid, property: "groupId" },
  cluster_id: { type: uuid, property: "clusterId" },
  role: { type: { kind: "enum", values: enumValues("VIRTUAL_MACHINE_ROLE_", virtualMachineRoles) }, property: "role" },
  specification_id: { type: uuid, property: "specificationId" },
  image_id: { type: uuid, property: "imageId" },
  create_time: { type: { kind: "timestamp" }, property: "createTime" },
  ...observedFilter,
};

const readers = ["PLATFORM_ADMIN", "SERVICE", "TENANT_ADMIN", "TENANT_MEMBER"] as const;

export async function listVirtualMachines(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<VirtualMachine>> {
  requireRole(ctx.principal, readers, "read virtual machines");
  const scope = isTenantRole(ctx.principal.role) ? { tenantId: ctx.principal.tenantId ?? "" } : undefined;
  const page = await listPage(db.em(), VirtualMachineEntity, request, vmFilter, scope ? { scope: scope as never } : {});
  return page as unknown as Page<VirtualMachine>;
}

export interface Named {
  readonly id: string;
  readonly name: string;
}

export interface VirtualMachineDetail {
  readonly virtualMachine: VirtualMachine;
  readonly tenant: Named;
  readonly specification: Named;
  readonly image: Named;
  readonly host: {
    readonly baremetal: Named;
    readonly group: Named;
    readonly rack: Named;
    readonly firstPosition: number;
    readonly room: Named;
    readonly datacenter: Named;
    readonly region: Named;
  };
  readonly maintainers: readonly ResponsibleMaintainer[];
  /** The Kubernetes cluster and node pool it is a node of, if any. */
  readonly cluster: Named | undefined;
  readonly nodePool: Named | undefined;
  /** The clusters it serves as a bastion (K8S-10), by name. */
  readonly servedClusters: readonly Named[];
}

/** The related names' columns in the detail's row (each `rel_`, so none shadows one of the VM's). */
interface RelatedColumns {
  rel_tenant: string;
  rel_specification: string;
  rel_image: string;
  rel_baremetal: string;
  rel_group: string;
  rel_rack_id: string;
  rel_rack: string;
  rel_first_position: number;
  rel_room_id: string;
  rel_room: string;
  rel_datacenter_id: string;
  rel_datacenter: string;
  rel_region_id: string;
  rel_region: string;
  rel_cluster_id: string | null;
  rel_cluster: string | null;
  rel_node_pool_id: string | null;
  rel_node_pool: string | null;
  rel_served_clusters: [string, string][];
}

// Prepared (persistence/reads.ts): planning this twelve-table join took PostgreSQL several
// milliseconds, many times its execution, on every Get.
const detailSql = `select vm.*, t.name as rel_tenant, s.name as rel_specification, i.name as rel_image, b.name as rel_baremetal,
        g.name as rel_group, r.id as rel_rack_id, r.name as rel_rack, b.first_position as rel_first_position,
        ro.id as rel_room_id, ro.name as rel_room, d.id as rel_datacenter_id, d.name as rel_datacenter,
        re.id as rel_region_id, re.name as rel_region, kc.id as rel_cluster_id, kc.name as rel_cluster,
        np.id as rel_node_pool_id, np.name as rel_node_pool,
        coalesce((select jsonb_agg(jsonb_build_array(sc.id, sc.name) order by sc.name, sc.id) from bastion_cluster_association a
                    join kubernetes_cluster sc on sc.id = a.cluster_id where a.virtual_machine_id = vm.id), '[]') as rel_served_clusters
   from virtual_machine vm
   join tenant t on t.id = vm.tenant_id
   join virtual_machine_specification s on s.id = vm.specification_id
   join image i on i.id = vm.image_id
   join baremetal b on b.id = vm.baremetal_id
   join baremetal_group g on g.id = vm.group_id
   join rack r on r.id = b.rack_id
   join room ro on ro.id = b.room_id
   join datacenter d on d.id = b.datacenter_id
   join region re on re.id = b.region_id
   left join kubernetes_cluster kc on kc.id = vm.cluster_id
   left join kubernetes_node_pool np on np.id = vm.node_pool_id
  where vm.id = ?`;

/** The VM with everything around it: the VM, its related names, the host's place and the clusters
 * it serves as a bastion in one joined statement, its maintainers in a second beside it (one round
 * trip; the maintainers are returned only once the VM is known to be the reader's to see). */
export async function getVirtualMachineDetail(db: Database, ctx: CallContext, id: string): Promise<VirtualMachineDetail> {
  requireRole(ctx.principal, vmUsers, "read virtual machines");
  requireMaintainerRead(ctx.principal);
  const em = db.em();
  const [[row], maintainers] = await Promise.all([
    readBound<Record<string, unknown>>(em, detailSql, [id]),
    maintainersOf(em, { type: "virtual_machine", id }, { pageSize: 1000, pageToken: "", filter: "" }),
  ]);
  if (!row) throw new NotFoundError("virtual_machine", id);
  const vmColumns: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) if (!column.startsWith("rel_")) vmColumns[column] = value;
  const virtualMachine = mapRow(em, VirtualMachineEntity, vmColumns) as unknown as VirtualMachine;
  requireOwnTenant(ctx.principal, virtualMachine.tenantId, { type: "virtual_machine", id });
  const r = row as unknown as RelatedColumns;
  const named = (idValue: unknown, name: unknown): Named => ({ id: String(idValue), name: String(name) });
  return {
    virtualMachine,
    tenant: named(virtualMachine.tenantId, r.rel_tenant),
    specification: named(virtualMachine.specificationId, r.rel_specification),
    image: named(virtualMachine.imageId, r.rel_image),
    host: {
      baremetal: named(virtualMachine.baremetalId, r.rel_baremetal),
      group: named(virtualMachine.groupId, r.rel_group),
      rack: named(r.rel_rack_id, r.rel_rack),
      firstPosition: Number(r.rel_first_position),
      room: named(r.rel_room_id, r.rel_room),
      datacenter: named(r.rel_datacenter_id, r.rel_datacenter),
      region: named(r.rel_region_id, r.rel_region),
    },
    maintainers: maintainers.items,
    cluster: r.rel_cluster_id ? named(r.rel_cluster_id, r.rel_cluster) : undefined,
    nodePool: r.rel_node_pool_id ? named(r.rel_node_pool_id, r.rel_node_pool) : undefined,
    servedClusters: r.rel_served_clusters.map(([clusterId, name]) => ({ id: clusterId, name })),
  };
}

export interface SchedulingRecord {
  readonly id: string;
  readonly virtualMachineId: string;
  readonly tenantId: string;
  readonly groupId: string;
  readonly cpuCores: number;
  readonly memoryMib: number;
  readonly storageGib: number;
  readonly candidates: SchedulingCandidateRecord[];
  readonly baremetalId: string;
  readonly reason: string;
  readonly policy: string;
  readonly events: SchedulingEventRecord[];
  readonly createTime: Date;
}

const recordFilter: FilterSchema = {
  virtual_machine_id: { type: uuid, property: "virtualMachineId" },
  tenant_id: { type: uuid, property: "tenantId" },
  group_id: { type: uuid, property: "groupId" },
  chosen_baremetal_id: { type: uuid, property: "baremetalId" },
  create_time: { type: { kind: "timestamp" }, property: "createTime" },
};

export async function listSchedulingRecords(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<SchedulingRecord>> {
  requireRole(ctx.principal, readers, "read scheduling records");
  const scope = isTenantRole(ctx.principal.role) ? { tenantId: ctx.principal.tenantId ?? "" } : undefined;
  const page = await listPage(db.em(), SchedulingRecordEntity, request, recordFilter, {
    newestFirst: true,
    ...(scope ? { scope: scope as never } : {}),
  });
  return page as unknown as Page<SchedulingRecord>;
}
