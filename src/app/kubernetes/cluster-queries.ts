// Reading clusters (K8S-2): one cluster with its pools, every node — VM, pool, role, host and
// state — its plugins and bastions in one query whatever its size (no query per node), and pages of clusters with
// their pools in two. Tenant principals see their own tenant's clusters only; another tenant's
// answers NOT_FOUND, as one that does not exist.
import type { EntityManager } from "@mikro-orm/postgresql";
import type { ClusterHealth } from "../../domain/cluster-health.js";
import type { BastionAssociation } from "../../domain/bastions.js";
import type { VirtualMachineState } from "../../domain/compute.js";
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
import type { ClusterPlugin, ClusterPluginStatus } from "../../domain/kubernetes-plugins.js";
import { isTenantRole, requireRole } from "../../domain/principal.js";
import { executeBound } from "../../persistence/bound.js";
import { readBound } from "../../persistence/reads.js";
import { KubernetesCluster as ClusterEntity, KubernetesNodePool } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { requireTenantEnabled } from "../tenant-guard.js";
import { clusterHealthOf, type ClusterHealthSettings } from "./addons/cluster-health.js";

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
  /** Its installed plugins, by name (K8S-8). */
  readonly plugins: readonly ClusterPlugin[];
  /** The bastions serving it, by VM name (K8S-10). */
  readonly bastions: readonly BastionAssociation[];
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

/** A cluster with its pools, tenant and nodes, its health read with the server's `healthSettings`.
 * Deleted clusters are kept for the record and stay readable by id. */
export async function getCluster(db: Database, ctx: CallContext, id: string, healthSettings: ClusterHealthSettings): Promise<ClusterView> {
  requireRole(ctx.principal, clusterUsers, "read Kubernetes clusters");
  const view = await readCluster(db.em(), id, healthSettings);
  if (isTenantRole(ctx.principal.role) && view.cluster.tenantId !== ctx.principal.tenantId)
    throw new NotFoundError("kubernetes_cluster", id);
  return view;
}

/**
 * The cluster view, for whoever was already allowed to see it: ONE query whatever the cluster's
 * size (a prepared statement outside transactions, persistence/reads.ts) — the cluster, its
 * tenant's name, its pools and its live nodes with their hosts, the last two aggregated as JSON
 * (each node a short array: no per-node object keys to build or parse).
 */
export async function readCluster(em: EntityManager, id: string, healthSettings: ClusterHealthSettings): Promise<ClusterView> {
  const [[row], health] = await Promise.all([
    readBound<{
      cluster: Record<string, unknown>;
      tenant_name: string;
      pools: Record<string, unknown>[];
      nodes: [string, string, string | null, "CONTROL_PLANE" | "WORKER", string, string | null, string, string][];
      plugins: Record<string, unknown>[];
      bastions: [string, number, string, string, string, string, string, VirtualMachineState, string[] | null][];
    }>(
      em,
      `select to_jsonb(c) as cluster, t.name as tenant_name,
            coalesce((select jsonb_agg(to_jsonb(p) order by p.id) from kubernetes_node_pool p where p.cluster_id = c.id), '[]') as pools,
            coalesce((select jsonb_agg(jsonb_build_array(vm.id, vm.name, vm.node_pool_id, vm.role, vm.baremetal_id, b.name, vm.state,
                                                          vm.kubernetes_version)
                                       order by vm.role = 'WORKER', vm.node_pool_id nulls first, vm.id)
                        from virtual_machine vm left join baremetal b on b.id = vm.baremetal_id
                       where vm.cluster_id = c.id and vm.state <> 'DELETED'), '[]') as nodes,
            coalesce((select jsonb_agg(to_jsonb(cp) order by cp.plugin) from kubernetes_cluster_plugin cp where cp.cluster_id = c.id), '[]')
              as plugins,
            coalesce((select jsonb_agg(jsonb_build_array(a.id, a.version, a.create_time, a.update_time, a.tenant_id, a.virtual_machine_id,
                                                          vm.name, vm.state, vm.ip_addresses) order by vm.name, a.id)
                        from bastion_cluster_association a join virtual_machine vm on vm.id = a.virtual_machine_id
                       where a.cluster_id = c.id), '[]') as bastions
       from kubernetes_cluster c join tenant t on t.id = c.tenant_id where c.id = ?`,
      [id],
    ),
    clusterHealthOf(em, [id], healthSettings).then((found) => found.get(id)),
  ]);
  if (!row) throw new NotFoundError("kubernetes_cluster", id);
  const nodes: ClusterNode[] = new Array(row.nodes.length);
  for (let i = 0; i < row.nodes.length; i++) {
    const [virtualMachineId, name, nodePoolId, role, baremetalId, baremetalName, state, kubernetesVersion] = row.nodes[i]!;
    nodes[i] = {
      virtualMachineId,
      name,
      nodePoolId: nodePoolId ?? "",
      role,
      baremetalId,
      baremetalName: baremetalName ?? "",
      state,
      kubernetesVersion,
    };
  }
  const cluster = clusterOf(row.cluster);
  return {
    cluster,
    nodePools: row.pools.map(poolOf),
    health,
    tenantName: row.tenant_name,
    nodes,
    plugins: row.plugins.map(pluginOf),
    bastions: row.bastions.map(([associationId, version, createTime, updateTime, tenantId, virtualMachineId, vmName, vmState, ips]) => ({
      id: associationId,
      version,
      createTime: new Date(createTime),
      updateTime: new Date(updateTime),
      tenantId,
      clusterId: cluster.id,
      virtualMachineId,
      clusterName: cluster.name,
      virtualMachineName: vmName,
      virtualMachineState: vmState,
      ipAddresses: ips ?? [],
    })),
  };
}

/** A page of clusters the caller may see (AIP-160 filter, keyset pages), each with its pools. */
export async function listClusters(
  db: Database,
  ctx: CallContext,
  request: ListRequest,
  healthSettings: ClusterHealthSettings,
): Promise<Page<ClusterSummary>> {
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
    healthSettings,
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
  const rows = await executeBound<{ pool: Record<string, unknown> }>(
    em,
    "select to_jsonb(p) as pool from kubernetes_node_pool p where p.cluster_id = any(?::uuid[]) order by p.id",
    [clusterIds],
  );
  return rows.map((row) => poolOf(row.pool));
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

/** An installed plugin's row read as JSON (snake case, times as text) as the domain type. */
function pluginOf(json: Record<string, unknown>): ClusterPlugin {
  return {
    id: json.id as string,
    version: json.version as number,
    createTime: new Date(json.create_time as string),
    updateTime: new Date(json.update_time as string),
    clusterId: json.cluster_id as string,
    tenantId: json.tenant_id as string,
    pluginId: json.plugin_id as string,
    plugin: json.plugin as string,
    pluginVersion: json.plugin_version as string,
    targetVersion: json.target_version as string,
    status: json.status as ClusterPluginStatus,
    statusMessage: json.status_message as string,
    statusTime: new Date(json.status_time as string),
    activeOperationId: (json.active_operation_id as string | null) ?? null,
  };
}

/** A pool row read as JSON (snake case, times as text) as the domain type. */
function poolOf(json: Record<string, unknown>): NodePool {
  return {
    id: json.id as string,
    version: json.version as number,
    createTime: new Date(json.create_time as string),
    updateTime: new Date(json.update_time as string),
    clusterId: json.cluster_id as string,
    name: json.name as string,
    groupId: json.group_id as string,
    specificationId: json.specification_id as string,
    imageId: json.image_id as string,
    nodeCount: json.node_count as number,
    autoscalingMinNodeCount: (json.autoscaling_min_node_count as number | null) ?? null,
    autoscalingMaxNodeCount: (json.autoscaling_max_node_count as number | null) ?? null,
    labels: json.labels as Record<string, string>,
    taints: json.taints as Taint[],
    maxSurge: json.max_surge as number,
    maxUnavailable: json.max_unavailable as number,
    kubernetesVersion: json.kubernetes_version as string,
  };
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
