// Reading clusters (K8S-2): one cluster with its pools and every node — VM, pool, role, host and
// state — in three queries whatever its size (no query per node), and pages of clusters with
// their pools in two. Tenant principals see their own tenant's clusters only; another tenant's
// answers NOT_FOUND, as one that does not exist.
import type { EntityManager } from "@mikro-orm/postgresql";
import type { ClusterHealth } from "../../domain/cluster-health.js";
import { NotFoundError } from "../../domain/errors.js";
import { requireEtag } from "../../domain/etag.js";
import { field, resourceTimes } from "../../domain/filter-schema.js";
import type { FilterSchema } from "../../domain/filter.js";
import {
  kubernetesClusterStatuses,
  kubernetesCnis,
  type KubernetesClusterStatus,
  type KubernetesCni,
  type StorageClassSpec,
  type Taint,
} from "../../domain/kubernetes.js";
import { isTenantRole, requireRole } from "../../domain/principal.js";
import { KubernetesCluster as ClusterEntity, KubernetesNodePool } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { requireTenantEnabled } from "../tenant-guard.js";
import { clusterHealthOf } from "./addons/cluster-health.js";

/** Who may read and operate clusters (tenant principals: their own tenant's). */
export const clusterUsers = ["PLATFORM_ADMIN", "SERVICE", "TENANT_ADMIN", "TENANT_MEMBER"] as const;

export interface KubernetesCluster {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly name: string;
  readonly description: string;
  readonly tenantId: string;
  readonly kubernetesVersion: string;
  readonly controlPlaneCount: number;
  readonly controlPlaneGroupId: string;
  readonly controlPlaneSpecificationId: string;
  readonly controlPlaneImageId: string;
  readonly cni: KubernetesCni;
  readonly podCidr: string;
  readonly serviceCidr: string;
  readonly storageClasses: readonly StorageClassSpec[];
  readonly labels: Readonly<Record<string, string>>;
  readonly endpoint: string;
  readonly status: KubernetesClusterStatus;
  readonly statusReason: string;
  readonly statusTime: Date;
  readonly templateId?: string | null;
  readonly templateRevision?: number | null;
  readonly activeOperationId?: string | null;
}

export interface NodePool {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly clusterId: string;
  readonly name: string;
  readonly groupId: string;
  readonly specificationId: string;
  readonly imageId: string;
  readonly nodeCount: number;
  readonly autoscalingMinNodeCount?: number | null;
  readonly autoscalingMaxNodeCount?: number | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  /** The version its nodes run: the cluster's, until an upgrade has rolled through it. */
  readonly kubernetesVersion: string;
}

/** A node as the cluster view shows it. */
export interface ClusterNode {
  readonly virtualMachineId: string;
  readonly name: string;
  readonly nodePoolId: string;
  readonly role: "CONTROL_PLANE" | "WORKER";
  readonly baremetalId: string;
  readonly baremetalName: string;
  readonly state: string;
  readonly kubernetesVersion: string;
}

export interface ClusterView {
  readonly cluster: KubernetesCluster;
  readonly nodePools: readonly NodePool[];
  readonly tenantName: string;
  /** The control plane first, then each pool's, in creation order. */
  readonly nodes: readonly ClusterNode[];
  /** Its agent's latest health report, if any (addons/cluster-health.ts). */
  readonly health?: ClusterHealth | undefined;
}

export interface ClusterSummary {
  readonly cluster: KubernetesCluster;
  readonly nodePools: readonly NodePool[];
  readonly health?: ClusterHealth | undefined;
}

export const clusterFilter: FilterSchema = {
  id: field.uuid("id"),
  name: field.string("name"),
  tenant_id: field.uuid("tenantId"),
  status: field.enum("KUBERNETES_CLUSTER_STATUS_", kubernetesClusterStatuses, "status"),
  version: field.string("kubernetesVersion"),
  cni: field.enum("KUBERNETES_CNI_", kubernetesCnis, "cni"),
  ...resourceTimes,
};

/** A cluster with its pools, tenant and nodes. Deleted clusters are kept for the record and stay
 * readable by id. */
export async function getCluster(db: Database, ctx: CallContext, id: string): Promise<ClusterView> {
  requireRole(ctx.principal, clusterUsers, "read Kubernetes clusters");
  const view = await readCluster(db.em(), id);
  if (isTenantRole(ctx.principal.role) && view.cluster.tenantId !== ctx.principal.tenantId)
    throw new NotFoundError("kubernetes_cluster", id);
  return view;
}

/** The cluster view, for whoever was already allowed to see it. */
export async function readCluster(em: EntityManager, id: string): Promise<ClusterView> {
  const [row] = await em.execute<{ cluster: KubernetesCluster & Record<string, unknown>; tenant_name: string }[]>(
    "select to_jsonb(c) as cluster, t.name as tenant_name from kubernetes_cluster c join tenant t on t.id = c.tenant_id where c.id = ?",
    [id],
  );
  if (!row) throw new NotFoundError("kubernetes_cluster", id);
  const cluster = clusterOf(row.cluster);
  const nodes = await em.execute<
    {
      id: string;
      name: string;
      node_pool_id: string | null;
      role: "CONTROL_PLANE" | "WORKER";
      baremetal_id: string;
      baremetal_name: string | null;
      state: string;
      kubernetes_version: string;
    }[]
  >(
    `select vm.id, vm.name, vm.node_pool_id, vm.role, vm.baremetal_id, b.name as baremetal_name, vm.state, vm.kubernetes_version
       from virtual_machine vm left join baremetal b on b.id = vm.baremetal_id
      where vm.cluster_id = ? and vm.state <> 'DELETED'
      order by vm.role = 'WORKER', vm.node_pool_id nulls first, vm.id`,
    [id],
  );
  return {
    cluster,
    nodePools: await poolsOf(em, [id]),
    health: (await clusterHealthOf(em, [id])).get(id),
    tenantName: row.tenant_name,
    nodes: nodes.map((node) => ({
      virtualMachineId: node.id,
      name: node.name,
      nodePoolId: node.node_pool_id ?? "",
      role: node.role,
      baremetalId: node.baremetal_id,
      baremetalName: node.baremetal_name ?? "",
      state: node.state,
      kubernetesVersion: node.kubernetes_version,
    })),
  };
}

/** A page of clusters the caller may see (AIP-160 filter, keyset pages), each with its pools. */
export async function listClusters(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<ClusterSummary>> {
  requireRole(ctx.principal, clusterUsers, "read Kubernetes clusters");
  const em = db.em();
  const scope = isTenantRole(ctx.principal.role) ? { tenantId: ctx.principal.tenantId ?? "" } : undefined;
  const page = await listPage(em, ClusterEntity, request, clusterFilter, scope ? { scope } : {});
  const clusters = page.items as unknown as KubernetesCluster[];
  const pools = await poolsOf(
    em,
    clusters.map((cluster) => cluster.id),
  );
  const health = await clusterHealthOf(
    em,
    clusters.map((cluster) => cluster.id),
  );
  return {
    items: clusters.map((cluster) => ({
      cluster,
      nodePools: pools.filter((pool) => pool.clusterId === cluster.id),
      health: health.get(cluster.id),
    })),
    nextPageToken: page.nextPageToken,
  };
}

/** One pool, or undefined when there is none. */
export async function readNodePool(em: EntityManager, id: string): Promise<NodePool | undefined> {
  const [pool] = (await em
    .createQueryBuilder(KubernetesNodePool)
    .select("*")
    .where({ id } as never)
    .execute("all", true)) as unknown as NodePool[];
  return pool;
}

async function poolsOf(em: EntityManager, clusterIds: readonly string[]): Promise<NodePool[]> {
  if (clusterIds.length === 0) return [];
  return (await em
    .createQueryBuilder(KubernetesNodePool)
    .select("*")
    .where({ clusterId: { $in: [...clusterIds] } } as never)
    .orderBy({ id: "asc" } as never)
    .execute("all", true)) as unknown as NodePool[];
}

/**
 * A cluster locked for a change, in the lock order: its tenant read unlocked first (it never
 * changes), checked (a stranger gets NOT_FOUND) and share-locked (a disabled tenant can do nothing to
 * its clusters, TEN-2), then the cluster FOR UPDATE and its etag checked. Names the audit target.
 */
export async function lockCluster(em: EntityManager, ctx: CallContext, id: string, etag: string): Promise<KubernetesCluster> {
  ctx.audit.resourceType = "kubernetes_cluster";
  ctx.audit.resourceId = id;
  const [owner] = await em.execute<{ tenant_id: string; status: string }[]>(
    "select tenant_id, status from kubernetes_cluster where id = ?",
    [id],
  );
  if (!owner || owner.status === "DELETED" || (isTenantRole(ctx.principal.role) && owner.tenant_id !== ctx.principal.tenantId)) {
    throw new NotFoundError("kubernetes_cluster", id);
  }
  await requireTenantEnabled(em, owner.tenant_id);
  const [row] = await em.execute<{ cluster: KubernetesCluster & Record<string, unknown> }[]>(
    "select to_jsonb(c) as cluster from (select * from kubernetes_cluster where id = ? for update) c",
    [id],
  );
  const cluster = clusterOf(row!.cluster);
  requireEtag(cluster.version, etag, "kubernetes_cluster", id);
  return cluster;
}

/** A cluster row read as JSON (snake case, times as text) as the domain type. */
function clusterOf(json: Record<string, unknown>): KubernetesCluster {
  const value = (key: string) => json[key];
  return {
    id: value("id") as string,
    version: value("version") as number,
    createTime: new Date(value("create_time") as string),
    updateTime: new Date(value("update_time") as string),
    name: value("name") as string,
    description: value("description") as string,
    tenantId: value("tenant_id") as string,
    kubernetesVersion: value("kubernetes_version") as string,
    controlPlaneCount: value("control_plane_count") as number,
    controlPlaneGroupId: value("control_plane_group_id") as string,
    controlPlaneSpecificationId: value("control_plane_specification_id") as string,
    controlPlaneImageId: value("control_plane_image_id") as string,
    cni: value("cni") as KubernetesCni,
    podCidr: value("pod_cidr") as string,
    serviceCidr: value("service_cidr") as string,
    storageClasses: value("storage_classes") as StorageClassSpec[],
    labels: value("labels") as Record<string, string>,
    endpoint: value("endpoint") as string,
    status: value("status") as KubernetesClusterStatus,
    statusReason: value("status_reason") as string,
    statusTime: new Date(value("status_time") as string),
    templateId: (value("template_id") as string | null) ?? null,
    templateRevision: (value("template_revision") as number | null) ?? null,
    activeOperationId: (value("active_operation_id") as string | null) ?? null,
  };
}
