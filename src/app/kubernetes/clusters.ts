// Kubernetes clusters (K8S-1..3, K8S-6): creation (admission of every node as a whole, placement,
// the cluster's CA, one job per node VM and a bootstrap job that waits for them), deletion (every
// node VM's delete job, then a teardown that waits for them), admins' status marks and kubeconfigs.
// Each mutation is one transaction with its audit row; what the operations' outcomes do to the
// cluster is cluster-lifecycle.ts. Reads are cluster-queries.ts. docs/kubernetes.md says why.
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import { newId } from "../../domain/ids.js";
import {
  completeClusterSpec,
  kubernetesGroupsOf,
  mergeClusterSpec,
  newClusterVersionProblem,
  nodeDemands,
  requireClusterVerb,
  requireKubeconfigIssuable,
  requireNoVersionProblem,
  requireStatusMark,
  type ClusterSpecDraft,
  type KubernetesClusterStatus,
} from "../../domain/kubernetes.js";
import { isTenantRole, requireRole } from "../../domain/principal.js";
import { KubernetesCluster as ClusterEntity, KubernetesNodePool } from "../../persistence/entities/index.js";
import { executeBound } from "../../persistence/bound.js";
import { requireOwnTenant } from "../compute/vm-queries.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { mutate } from "../mutation.js";
import { getOperation, startOperation, type Operation } from "../operations/operations.js";
import { createOnce } from "../standard-methods.js";
import { requireTenantEnabled } from "../tenant-guard.js";
import { createAndStoreClusterCa, issueKubeconfig as signKubeconfig, type IssuedKubeconfig } from "./cluster-ca.js";
import { placeCluster, reserveNodes, type PlacedNode } from "./cluster-placement.js";
import { reportResourceState } from "../agents/reports.js";
import { clusterUsers, getCluster, lockCluster, readCluster, type ClusterView } from "./cluster-queries.js";
import { installPluginsAtCreation, type PluginChoice } from "./addons/cluster-plugins.js";
import { removeBastionAssociations, removeClusterAddons, requireNoAddonOperations } from "./addons/cluster-cascade.js";
import type { ClusterHealthSettings } from "./addons/cluster-health.js";
import type { SecretBox } from "./secret-box.js";
import { templateForCluster } from "./templates.js";
import { catalogueVersion } from "./versions.js";

export const CLUSTER = "kubernetes_cluster";

export interface CreateCluster {
  readonly name: string;
  readonly description: string;
  readonly tenantId: string;
  /** The request's own settings; undefined parts come from the template. */
  readonly draft: ClusterSpecDraft;
  readonly templateId: string | null;
  /** Catalogue plugins to install once the cluster is ACTIVE (addons/cluster-plugins.ts). */
  readonly plugins?: readonly PluginChoice[];
}

export interface CreatedCluster {
  readonly cluster: ClusterView;
  readonly operation: Operation;
}

/**
 * Creates a cluster in one transaction: the tenant (FOR SHARE), the template and version, the quota
 * of every node in every group and their hosts (cluster-placement.ts), then the rows — cluster,
 * pools, CA, node VMs with their scheduling records and creation jobs, and the bootstrap job, which
 * no agent may take before every node VM is built. A refusal anywhere leaves nothing behind.
 */
export async function createCluster(
  db: Database,
  ctx: CallContext,
  secrets: SecretBox,
  request: CreateCluster,
  requestId: string,
  healthSettings: ClusterHealthSettings,
): Promise<CreatedCluster> {
  requireRole(ctx.principal, clusterUsers, "create Kubernetes clusters");
  requireOwnTenant(ctx.principal, request.tenantId, undefined);
  let operationId = "";
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, CLUSTER, requestId, request, async (id) => {
      await requireTenantEnabled(em, request.tenantId);
      const template = request.templateId ? await templateForCluster(em, ctx.principal, request.templateId, request.tenantId) : undefined;
      const spec = completeClusterSpec(template ? mergeClusterSpec(template.draft, request.draft) : request.draft, "cluster");
      requireNoVersionProblem(
        newClusterVersionProblem(spec.version, await catalogueVersion(em, spec.version)),
        "cluster.version",
        spec.version,
      );
      const nodes = await placeCluster(em, request.tenantId, nodeDemands(spec));
      await reserveNodes(em, request.tenantId, nodes);
      const now = new Date();
      em.create(ClusterEntity, {
        id,
        version: 1,
        createTime: now,
        updateTime: now,
        name: request.name,
        description: request.description,
        tenantId: request.tenantId,
        kubernetesVersion: spec.version,
        controlPlaneCount: spec.controlPlane.count,
        controlPlaneGroupId: spec.controlPlane.groupId,
        controlPlaneSpecificationId: spec.controlPlane.specificationId,
        controlPlaneImageId: spec.controlPlane.imageId,
        cni: spec.network.cni,
        podCidr: spec.network.podCidr,
        serviceCidr: spec.network.serviceCidr,
        storageClasses: [...spec.storageClasses],
        labels: { ...spec.labels },
        endpoint: "",
        status: "PROVISIONING",
        statusReason: "",
        statusTime: now,
        templateId: template?.id ?? null,
        templateRevision: template?.revision ?? null,
        activeOperationId: null,
      });
      const poolIds = new Map<string, string>();
      for (const pool of spec.nodePools) {
        const poolId = newId();
        poolIds.set(pool.name, poolId);
        em.create(KubernetesNodePool, {
          id: poolId,
          version: 1,
          createTime: now,
          updateTime: now,
          clusterId: id,
          name: pool.name,
          groupId: pool.groupId,
          specificationId: pool.specificationId,
          imageId: pool.imageId,
          nodeCount: pool.nodeCount,
          autoscalingMinNodeCount: pool.autoscaling?.minNodeCount ?? null,
          autoscalingMaxNodeCount: pool.autoscaling?.maxNodeCount ?? null,
          labels: { ...pool.labels },
          taints: [...pool.taints],
          maxSurge: pool.upgradeStrategy.maxSurge,
          maxUnavailable: pool.upgradeStrategy.maxUnavailable,
          kubernetesVersion: spec.version,
        });
      }
      const caCertificatePem = await createAndStoreClusterCa(em, secrets, { id, name: request.name }, now);
      await em.flush();
      const written = await insertNodeVms(
        em,
        ctx,
        { clusterId: id, clusterName: request.name, tenantId: request.tenantId, version: spec.version },
        nodes.map((node) => ({ node, nodePoolId: node.poolName ? poolIds.get(node.poolName)! : null })),
      );
      const nodeOperations = written.map((vm) => vm.operationId);
      const nodeRecords = written.map((vm, i) => ({
        virtualMachineId: vm.id,
        name: vm.name,
        role: nodes[i]!.role,
        nodePool: nodes[i]!.poolName ?? "",
      }));
      operationId = newId();
      await em.execute("update kubernetes_cluster set active_operation_id = ? where id = ?", [operationId, id]);
      await startOperation(em, ctx, {
        id: operationId,
        kind: "CREATE_KUBERNETES_CLUSTER",
        resourceType: CLUSTER,
        resourceId: id,
        tenantId: request.tenantId,
        previousState: "PROVISIONING",
        groupId: spec.controlPlane.groupId,
        baremetalId: null,
        waitFor: nodeOperations,
        // The CA's key is not here: it is added when an agent takes the job (cluster-lifecycle.ts),
        // so the job row never holds it.
        payload: {
          clusterId: id,
          name: request.name,
          tenantId: request.tenantId,
          version: spec.version,
          network: spec.network,
          storageClasses: spec.storageClasses,
          nodePools: spec.nodePools.map((pool) => ({
            id: poolIds.get(pool.name),
            name: pool.name,
            labels: pool.labels,
            taints: pool.taints,
          })),
          nodes: nodeRecords,
          caCertificatePem,
        },
      });
      const cluster = {
        id,
        name: request.name,
        tenantId: request.tenantId,
        kubernetesVersion: spec.version,
        controlPlaneGroupId: spec.controlPlane.groupId,
      };
      // The template's plugins, overridden by the request's by name (its others appended).
      const chosen = request.plugins ?? [];
      const plugins = [
        ...(template?.plugins ?? []).map((choice) => chosen.find((own) => own.plugin === choice.plugin) ?? choice),
        ...chosen.filter((own) => !template?.plugins.some((choice) => choice.plugin === own.plugin)),
      ];
      await installPluginsAtCreation(em, ctx, cluster, plugins, operationId);
    }),
  );
  const cluster = await getCluster(db, ctx, id, healthSettings);
  const operation = await getOperation(db, ctx, operationId || cluster.cluster.activeOperationId || (await creationOperationOf(db, id)));
  return { cluster, operation };
}

async function creationOperationOf(db: Database, clusterId: string): Promise<string> {
  const [row] = await db
    .em()
    .execute<{ id: string }[]>("select id from operation where resource_id = ? and kind = 'CREATE_KUBERNETES_CLUSTER'", [clusterId]);
  return row!.id;
}

/** A placed node to write, with its pool (null: the control plane). */
export interface NewNode {
  readonly node: PlacedNode;
  readonly nodePoolId: string | null;
}

/** A node VM as written: its id, name and the operation creating it. */
export interface WrittenNode {
  readonly id: string;
  readonly name: string;
  readonly operationId: string;
}

/**
 * Node VMs, PENDING and reserved on their hosts, each with its scheduling record (naming its cluster
 * and pool) and its own creation operation and job, as CreateVirtualMachine makes them — all in ONE
 * statement, each column bound as one array (persistence/bound.ts), whatever the count: a 100-node
 * cluster costs one round trip here, not two per node. Agents of each group hear of the jobs once.
 */
export async function insertNodeVms(
  em: EntityManager,
  ctx: CallContext,
  cluster: { clusterId: string; clusterName: string; tenantId: string; version: string },
  nodes: readonly NewNode[],
): Promise<WrittenNode[]> {
  if (nodes.length === 0) return [];
  const now = new Date();
  const rows = nodes.map(({ node, nodePoolId }) => {
    const id = newId();
    const name = `${cluster.clusterName}-${node.poolName ?? "cp"}-${node.ordinal}`;
    return { id, name, operationId: newId(), node, nodePoolId };
  });
  const column = <T>(value: (row: (typeof rows)[number]) => T) => rows.map(value);
  await executeBound(
    em,
    `with node as (
       select * from unnest(?::uuid[], ?::text[], ?::uuid[], ?::uuid[], ?::int[], ?::int8[], ?::int8[], ?::uuid[], ?::uuid[], ?::uuid[],
                            ?::text[], ?::uuid[], ?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
         as t(id, name, specification_id, image_id, cpu_cores, memory_mib, storage_gib, group_id, baremetal_id, node_pool_id,
              role, operation_id, job_id, record_id, candidates, reason, policy, events, payload)),
     new_vm as (insert into virtual_machine (id, version, create_time, update_time, name, tenant_id, specification_id, image_id, cpu_cores,
         memory_mib, storage_gib, group_id, baremetal_id, cluster_id, node_pool_id, kubernetes_version, role, state, state_change_time, reserved,
         active_operation_id)
       select id, 1, ?, ?, name, ?, specification_id, image_id, cpu_cores, memory_mib, storage_gib, group_id, baremetal_id, ?, node_pool_id, ?,
              role, 'PENDING', ?, true, operation_id from node),
     new_record as (insert into scheduling_record (id, virtual_machine_id, tenant_id, group_id, cpu_cores, memory_mib, storage_gib, candidates,
         baremetal_id, reason, policy, events, create_time)
       select record_id, id, ?, group_id, cpu_cores, memory_mib, storage_gib, candidates::jsonb, baremetal_id, reason, policy, events::jsonb, ?
         from node),
     new_operation as (insert into operation (id, kind, resource_type, resource_id, tenant_id, state, requested_by, previous_state, create_time,
         update_time)
       select operation_id, 'CREATE_VIRTUAL_MACHINE', 'virtual_machine', id, ?, 'PENDING', ?, 'PENDING', ?, ? from node),
     new_job as (insert into job (id, operation_id, kind, resource_type, resource_id, group_id, baremetal_id, payload, state, create_time,
         update_time, wait_for_operation_ids)
       select job_id, operation_id, 'CREATE_VIRTUAL_MACHINE', 'virtual_machine', id, group_id, baremetal_id, payload::jsonb, 'QUEUED', ?, ?, '{}'
         from node)
     select pg_notify('rackplane_job', group_id::text) from (select distinct group_id from node) g`,
    [
      column((row) => row.id),
      column((row) => row.name),
      column((row) => row.node.specificationId),
      column((row) => row.node.image.id),
      column((row) => row.node.resources.cpuCores),
      column((row) => row.node.resources.memoryMib),
      column((row) => row.node.resources.storageGib),
      column((row) => row.node.groupId),
      column((row) => row.node.baremetalId),
      column((row) => row.nodePoolId),
      column((row) => row.node.role),
      column((row) => row.operationId),
      column(() => newId()),
      column(() => newId()),
      column((row) => JSON.stringify(row.node.candidates)),
      column(
        (row) => `cluster ${cluster.clusterName}, ${row.node.poolName ? `pool ${row.node.poolName}` : "control plane"}: ${row.node.reason}`,
      ),
      column((row) => row.node.policy),
      column((row) =>
        JSON.stringify([{ kind: "RESERVED", resources: row.node.resources, reason: "placed with its cluster", time: now.toISOString() }]),
      ),
      column((row) =>
        JSON.stringify({
          virtualMachineId: row.id,
          name: row.name,
          tenantId: cluster.tenantId,
          resources: row.node.resources,
          image: row.node.image,
          role: row.node.role,
          clusterId: cluster.clusterId,
          nodePoolId: row.nodePoolId,
          kubernetesVersion: cluster.version,
        }),
      ),
      now,
      now,
      cluster.tenantId,
      cluster.clusterId,
      cluster.version,
      now,
      cluster.tenantId,
      now,
      cluster.tenantId,
      ctx.principal.name,
      now,
      now,
      now,
      now,
    ],
  );
  return rows.map(({ id, name, operationId }) => ({ id, name, operationId }));
}

/** What UpdateKubernetesCluster may change; undefined leaves it. */
export interface ClusterPatch {
  readonly description?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * Changes a cluster's description or labels (whole), in any status but DELETED and whatever runs:
 * they are the record's, not the cluster's. Audited with the fields changed; `etag` optional.
 */
export async function updateCluster(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: ClusterPatch,
  healthSettings: ClusterHealthSettings,
): Promise<ClusterView> {
  requireRole(ctx.principal, clusterUsers, "update Kubernetes clusters");
  await mutate(db, ctx, async (em) => {
    const cluster = await lockCluster(em, ctx, id, etag);
    ctx.audit.detail = `updated ${Object.keys(patch).join(", ")}`;
    await em.execute(
      "update kubernetes_cluster set description = ?, labels = ?::jsonb, version = version + 1, update_time = now() where id = ?",
      [patch.description ?? cluster.description, JSON.stringify(patch.labels ?? cluster.labels), id],
    );
  });
  return getCluster(db, ctx, id, healthSettings);
}

/**
 * Deletes a cluster (K8S-3): every live node VM gets its delete operation and job (its reservation
 * is released when its agent confirms), and the cluster a teardown job that waits for them all. The
 * cluster is DELETING until the teardown succeeds, then DELETED.
 */
export async function deleteCluster(db: Database, ctx: CallContext, id: string, etag: string): Promise<Operation> {
  requireRole(ctx.principal, clusterUsers, "delete Kubernetes clusters");
  const operationId = newId();
  await mutate(db, ctx, async (em) => {
    const cluster = await lockCluster(em, ctx, id, etag);
    requireClusterVerb(cluster, "DELETE");
    await requireNoAddonOperations(em, id);
    // The node VMs, locked after the cluster (as every cluster transaction takes them).
    const nodeOperations = await deleteNodeVms(em, ctx, cluster, "cluster_id = ?", [id]);
    await removeBastionAssociations(em, ctx.audit, "cluster_id", id);
    await setClusterStatus(em, id, "DELETING", "", operationId);
    await startOperation(em, ctx, {
      id: operationId,
      kind: "DELETE_KUBERNETES_CLUSTER",
      resourceType: CLUSTER,
      resourceId: id,
      tenantId: cluster.tenantId,
      previousState: cluster.status,
      groupId: cluster.controlPlaneGroupId,
      baremetalId: null,
      waitFor: nodeOperations,
      payload: { clusterId: id, name: cluster.name, endpoint: cluster.endpoint },
    });
  });
  return getOperation(db, ctx, operationId);
}

/**
 * Starts the delete operation and job of each live node VM that `where` selects among the cluster's
 * (locked FOR UPDATE in id order, after the cluster); returns their operations for a cluster job to
 * wait for. A node with an operation under way refuses the whole request (OPERATION_IN_PROGRESS).
 */
export async function deleteNodeVms(
  em: EntityManager,
  ctx: CallContext,
  cluster: { readonly id: string; readonly tenantId: string },
  where: string,
  params: readonly unknown[],
  job: { readonly drain?: boolean } = {},
): Promise<string[]> {
  const nodes = await em.execute<
    { id: string; name: string; state: string; active_operation_id: string | null; group_id: string; baremetal_id: string }[]
  >(
    `select id, name, state, active_operation_id, group_id, baremetal_id from virtual_machine where ${where} and state <> 'DELETED' order by id for update`,
    [...params],
  );
  const busy = nodes.find((node) => node.active_operation_id);
  if (busy) {
    throw new FailedPreconditionError(
      "OPERATION_IN_PROGRESS",
      `node ${busy.name} has operation ${busy.active_operation_id} under way; try again once it ends`,
      { cluster_id: cluster.id, operation_id: busy.active_operation_id!, virtual_machine_id: busy.id },
    );
  }
  const nodeOperations: string[] = [];
  for (const node of nodes) {
    const nodeOperationId = newId();
    await em.execute(
      "update virtual_machine set state = 'DELETING', active_operation_id = ?, state_change_time = now(), version = version + 1, update_time = now() where id = ?",
      [nodeOperationId, node.id],
    );
    await startOperation(em, ctx, {
      id: nodeOperationId,
      kind: "DELETE_VIRTUAL_MACHINE",
      resourceType: "virtual_machine",
      resourceId: node.id,
      tenantId: cluster.tenantId,
      previousState: node.state,
      groupId: node.group_id,
      baremetalId: node.baremetal_id,
      // drain: a pool scaled down drains the node (cordon, evict its pods) before the VM goes.
      payload: { virtualMachineId: node.id, name: node.name, clusterId: cluster.id, ...(job.drain ? { drain: true } : {}) },
    });
    nodeOperations.push(nodeOperationId);
  }
  return nodeOperations;
}

/**
 * An admin's status mark (K8S-2): MAINTENANCE, OFFLINE or back to ACTIVE, with a reason. Tenant
 * principals may not mark; an agent's marks arrive as observed states (cluster-lifecycle.ts).
 */
export async function markClusterStatus(
  db: Database,
  ctx: CallContext,
  id: string,
  status: KubernetesClusterStatus,
  reason: string,
  etag: string,
  healthSettings: ClusterHealthSettings,
): Promise<ClusterView> {
  requireRole(ctx.principal, ["PLATFORM_ADMIN"], "mark Kubernetes clusters");
  await mutate(db, ctx, async (em) => {
    const cluster = await lockCluster(em, ctx, id, etag);
    requireStatusMark("ADMIN", cluster, status, reason);
    ctx.audit.detail = `${status}${reason ? `: ${reason}` : ""}`;
    await setClusterStatus(em, id, status, reason, cluster.activeOperationId ?? null);
  });
  return getCluster(db, ctx, id, healthSettings);
}

/** An agent's mark (ERROR, or ACTIVE on recovery): an observed state of the cluster, accepted only
 * inside the agent's scope (app/agents/reports.ts) and by the cluster's lifecycle. */
export async function reportClusterStatus(
  db: Database,
  ctx: CallContext,
  id: string,
  status: KubernetesClusterStatus,
  reason: string,
  healthSettings: ClusterHealthSettings,
): Promise<ClusterView> {
  const observed = status === "ERROR" ? "CRASHED" : status === "ACTIVE" ? "RUNNING" : "STOPPED";
  await reportResourceState(db, ctx, { type: CLUSTER, id }, observed, reason);
  return readCluster(db.em(), id, healthSettings);
}

/** The cluster's status, reason and time, and its operation under way, in one update. */
export async function setClusterStatus(
  em: EntityManager,
  id: string,
  status: KubernetesClusterStatus,
  reason: string,
  activeOperationId: string | null,
  endpoint?: string,
): Promise<void> {
  await em.execute(
    `update kubernetes_cluster set status = ?, status_reason = ?, status_time = case when status = ? then status_time else now() end,
            active_operation_id = ?, endpoint = coalesce(?, endpoint), version = version + 1, update_time = now() where id = ?`,
    [status, reason, status, activeOperationId, endpoint ?? null, id],
  );
  if (status === "DELETED") await removeClusterAddons(em, id);
}

/**
 * A kubeconfig for the caller (K8S-6): a client certificate signed by the cluster's CA, CN the
 * caller's principal and O its groups. Tenant principals get one for their own tenant's serving
 * clusters only; another tenant's cluster does not exist for them. Audited with the certificate's
 * serial and expiry, never the key.
 */
export async function issueClusterKubeconfig(
  db: Database,
  ctx: CallContext,
  secrets: SecretBox,
  id: string,
  ttlMillis: number | undefined,
): Promise<IssuedKubeconfig> {
  requireRole(ctx.principal, clusterUsers, "get kubeconfigs");
  return mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = CLUSTER;
    ctx.audit.resourceId = id;
    const [cluster] = await em.execute<
      { id: string; name: string; tenant_id: string; status: KubernetesClusterStatus; endpoint: string }[]
    >("select id, name, tenant_id, status, endpoint from kubernetes_cluster where id = ? and status <> 'DELETED'", [id]);
    if (!cluster || (isTenantRole(ctx.principal.role) && cluster.tenant_id !== ctx.principal.tenantId))
      throw new NotFoundError(CLUSTER, id);
    requireKubeconfigIssuable(cluster, ctx.principal);
    const issued = await signKubeconfig(
      em,
      secrets,
      cluster,
      { commonName: ctx.principal.name, groups: kubernetesGroupsOf(ctx.principal) },
      ttlMillis,
    );
    ctx.audit.detail = `kubeconfig issued: certificate serial ${issued.serialNumber}, expires ${issued.expireTime.toISOString()}`;
    return issued;
  });
}
