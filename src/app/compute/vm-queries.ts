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
import { listResourceMaintainers } from "../maintainers/assignments.js";
import { readBound, readRowById } from "../../persistence/reads.js";

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
  readonly maintainers: Awaited<ReturnType<typeof listResourceMaintainers>>["items"];
  /** The Kubernetes cluster and node pool it is a node of, if any. */
  readonly cluster: Named | undefined;
  readonly nodePool: Named | undefined;
  /** The clusters it serves as a bastion (K8S-10), by name. */
  readonly servedClusters: readonly Named[];
}

/** The VM with everything around it: one joined query for the related names, the host's place and
 * the clusters it serves as a bastion, one for the maintainers. */
export async function getVirtualMachineDetail(db: Database, ctx: CallContext, id: string): Promise<VirtualMachineDetail> {
  const em = db.em();
  const virtualMachine = await getVirtualMachine(db, ctx, id, em);
  const [[related], maintainers] = await Promise.all([
    // Prepared (persistence/reads.ts): planning this twelve-table join took PostgreSQL several
    // milliseconds, many times its execution, on every Get.
    readBound<Record<string, string | number> & { served_clusters: [string, string][] }>(
      em,
      `select t.name as tenant, s.name as specification, i.name as image, b.name as baremetal, g.name as "group",
              r.id as rack_id, r.name as rack, b.first_position, ro.id as room_id, ro.name as room,
              d.id as datacenter_id, d.name as datacenter, re.id as region_id, re.name as region,
              kc.id as cluster_id, kc.name as cluster, np.id as node_pool_id, np.name as node_pool,
              coalesce((select jsonb_agg(jsonb_build_array(sc.id, sc.name) order by sc.name, sc.id) from bastion_cluster_association a
                          join kubernetes_cluster sc on sc.id = a.cluster_id where a.virtual_machine_id = vm.id), '[]') as served_clusters
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
        where vm.id = ?`,
      [id],
    ),
    listResourceMaintainers(db, ctx, { type: "virtual_machine", id }, { pageSize: 1000, pageToken: "", filter: "" }),
  ]);
  const r = related!;
  const named = (idValue: unknown, name: unknown): Named => ({ id: String(idValue), name: String(name) });
  return {
    virtualMachine,
    tenant: named(virtualMachine.tenantId, r.tenant),
    specification: named(virtualMachine.specificationId, r.specification),
    image: named(virtualMachine.imageId, r.image),
    host: {
      baremetal: named(virtualMachine.baremetalId, r.baremetal),
      group: named(virtualMachine.groupId, r.group),
      rack: named(r.rack_id, r.rack),
      firstPosition: Number(r.first_position),
      room: named(r.room_id, r.room),
      datacenter: named(r.datacenter_id, r.datacenter),
      region: named(r.region_id, r.region),
    },
    maintainers: maintainers.items,
    cluster: r.cluster_id ? named(r.cluster_id, r.cluster) : undefined,
    nodePool: r.node_pool_id ? named(r.node_pool_id, r.node_pool) : undefined,
    servedClusters: r.served_clusters.map(([clusterId, name]) => ({ id: clusterId, name })),
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
