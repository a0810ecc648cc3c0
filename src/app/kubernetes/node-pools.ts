// A cluster's node pools (K8S-5): adding one (its nodes admitted against quota as a whole and
// placed as a cluster's pools are), scaling one by hand (added nodes admitted as a whole; removed
// nodes the newest first), changing its autoscaling bounds or upgrade strategy, and deleting it.
// Each change of nodes is a cluster lifecycle operation (one per cluster at a time), whose job waits
// for the node VMs' own operations; cluster-lifecycle.ts says what its outcome does. docs/kubernetes.md.
import type { EntityManager } from "@mikro-orm/postgresql";
import { NotFoundError } from "../../domain/errors.js";
import { etagOf, requireEtag } from "../../domain/etag.js";
import { newId } from "../../domain/ids.js";
import {
  defaultUpgradeStrategy,
  nodePoolViolations,
  requireClusterVerb,
  requireNoViolations,
  type KubernetesClusterStatus,
  type NodeDemand,
  type NodePoolAutoscaling,
  type NodePoolDraft,
  type UpgradeStrategy,
} from "../../domain/kubernetes.js";
import { isTenantRole, requireRole } from "../../domain/principal.js";
import type { JobKind } from "../../domain/operations.js";
import { KubernetesNodePool } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { mutate } from "../mutation.js";
import { getOperation, startOperation, type Operation } from "../operations/operations.js";
import { createOnce } from "../standard-methods.js";
import { requireTenantEnabled } from "../tenant-guard.js";
import { placeCluster, reserveNodes, type PlacedNode } from "./cluster-placement.js";
import { clusterUsers, lockCluster, readNodePool, type KubernetesCluster, type NodePool } from "./cluster-queries.js";
import { CLUSTER, deleteNodeVms, insertNodeVms, setClusterStatus } from "./clusters.js";

export const NODE_POOL = "kubernetes_node_pool";

/** A pool as CreateNodePool gives it: name, group, specification and image are required. */
export type NewNodePool = NodePoolDraft & { readonly groupId: string; readonly specificationId: string; readonly imageId: string };

export interface NodePoolChange {
  readonly pool: NodePool;
  /** The operation that builds, joins, scales or removes nodes; undefined when no node changes. */
  readonly operation: Operation | undefined;
}

/** What UpdateNodePool may change; undefined leaves it. `autoscaling: null` clears the bounds. */
export interface NodePoolPatch {
  readonly nodeCount?: number;
  readonly autoscaling?: NodePoolAutoscaling | null;
  readonly upgradeStrategy?: UpgradeStrategy;
}

/**
 * Adds a pool to a cluster: its nodes are admitted and placed as a whole (a refusal leaves nothing),
 * each node VM gets its creation job, and the cluster a CREATE_NODE_POOL job — the agent's joins —
 * that no agent may take before every node VM is built. The cluster is UPDATING meanwhile.
 */
export async function createNodePool(
  db: Database,
  ctx: CallContext,
  clusterId: string,
  draft: NewNodePool,
  requestId: string,
): Promise<NodePoolChange> {
  requireRole(ctx.principal, clusterUsers, "create node pools");
  requireNoViolations(prefixed("node_pool", nodePoolViolations(draft)));
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, NODE_POOL, requestId, { clusterId, draft }, async (id) => {
      const owner = await precheck(em, ctx, clusterId, true);
      ctx.audit.resourceType = NODE_POOL;
      ctx.audit.resourceId = id;
      const nodeCount = draft.nodeCount ?? 0;
      const placed =
        nodeCount === 0
          ? []
          : await placeCluster(em, owner.tenantId, [
              {
                role: "WORKER",
                poolName: draft.name,
                groupId: draft.groupId,
                specificationId: draft.specificationId,
                imageId: draft.imageId,
                count: nodeCount,
              },
            ]);
      const cluster = await lockCluster(em, ctx, clusterId, "");
      ctx.audit.resourceType = NODE_POOL;
      ctx.audit.resourceId = id;
      requireClusterVerb(cluster, "SCALE");
      await reserveNodes(em, cluster.tenantId, placed);
      const now = new Date();
      const strategy = draft.upgradeStrategy ?? defaultUpgradeStrategy;
      em.create(KubernetesNodePool, {
        id,
        version: 1,
        createTime: now,
        updateTime: now,
        clusterId,
        name: draft.name,
        groupId: draft.groupId,
        specificationId: draft.specificationId,
        imageId: draft.imageId,
        nodeCount,
        autoscalingMinNodeCount: draft.autoscaling?.minNodeCount ?? null,
        autoscalingMaxNodeCount: draft.autoscaling?.maxNodeCount ?? null,
        labels: { ...draft.labels },
        taints: [...(draft.taints ?? [])],
        maxSurge: strategy.maxSurge,
        maxUnavailable: strategy.maxUnavailable,
        kubernetesVersion: cluster.kubernetesVersion,
      });
      await em.flush();
      const nodes = await insertNodes(em, ctx, cluster, id, placed);
      await startPoolOperation(em, ctx, cluster, "CREATE_NODE_POOL", nodes.operations, {
        nodePoolId: id,
        nodePool: draft.name,
        labels: draft.labels ?? {},
        taints: draft.taints ?? [],
        nodes: nodes.records,
      });
    }),
  );
  const pool = await getNodePool(db, id);
  const [job] = await db
    .em()
    .execute<{ operation_id: string }[]>("select operation_id from job where kind = 'CREATE_NODE_POOL' and payload->>'nodePoolId' = ?", [
      id,
    ]);
  return { pool, operation: await getOperation(db, ctx, job!.operation_id) };
}

/**
 * Changes a pool's node count, autoscaling bounds or upgrade strategy; the result must keep min ≤
 * count ≤ max and not both of max_surge and max_unavailable zero. A new count is a SCALE_NODE_POOL
 * operation: scale up admits and places the added nodes as a whole; scale down deletes the newest
 * nodes first. Bounds and strategy alone change at once, with no operation.
 */
export async function updateNodePool(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: NodePoolPatch,
): Promise<NodePoolChange> {
  requireRole(ctx.principal, clusterUsers, "update node pools");
  let operationId: string | undefined;
  await mutate(db, ctx, async (em) => {
    // Placement locks quota rows and hosts, which come before the cluster in the lock order: the
    // added nodes are placed from the pool as read, and the pool must be the same once locked.
    const seen = await readNodePool(em, id);
    if (!seen) throw new NotFoundError(NODE_POOL, id);
    const added = (patch.nodeCount ?? seen.nodeCount) - seen.nodeCount;
    const owner = await precheck(em, ctx, seen.clusterId, added !== 0, NODE_POOL, id);
    const placed = added > 0 ? await placeCluster(em, owner.tenantId, [workerDemand(seen, added)]) : [];
    const { cluster, pool } = await lockPool(em, ctx, id, etag);
    requireEtag(pool.version, etagOf(seen.version), NODE_POOL, id);
    const nodeCount = patch.nodeCount ?? pool.nodeCount;
    const autoscaling =
      patch.autoscaling === undefined
        ? pool.autoscalingMinNodeCount === null || pool.autoscalingMinNodeCount === undefined
          ? null
          : { minNodeCount: pool.autoscalingMinNodeCount, maxNodeCount: pool.autoscalingMaxNodeCount ?? 0 }
        : patch.autoscaling;
    const strategy = patch.upgradeStrategy ?? { maxSurge: pool.maxSurge, maxUnavailable: pool.maxUnavailable };
    requireNoViolations(
      prefixed(
        "node_pool",
        nodePoolViolations({ name: pool.name, nodeCount, autoscaling: autoscaling ?? undefined, upgradeStrategy: strategy }),
      ),
    );
    ctx.audit.detail = `node_count ${pool.nodeCount} → ${nodeCount}`;
    if (nodeCount !== pool.nodeCount) operationId = await startScale(em, ctx, cluster, pool, nodeCount, placed);
    await em.execute(
      `update kubernetes_node_pool set node_count = ?, autoscaling_min_node_count = ?, autoscaling_max_node_count = ?, max_surge = ?,
              max_unavailable = ?, version = version + 1, update_time = now() where id = ?`,
      [nodeCount, autoscaling?.minNodeCount ?? null, autoscaling?.maxNodeCount ?? null, strategy.maxSurge, strategy.maxUnavailable, id],
    );
  });
  const pool = await getNodePool(db, id);
  return { pool, operation: operationId ? await getOperation(db, ctx, operationId) : undefined };
}

/**
 * Deletes a pool: each of its live node VMs gets its delete job (its reservation released as its
 * agent confirms), and the cluster a DELETE_NODE_POOL job that waits for them; the pool row goes
 * when that job succeeds. A cluster may be left with no pool.
 */
export async function deleteNodePool(db: Database, ctx: CallContext, id: string, etag: string): Promise<Operation> {
  requireRole(ctx.principal, clusterUsers, "delete node pools");
  let operationId = "";
  await mutate(db, ctx, async (em) => {
    const { cluster, pool } = await lockPool(em, ctx, id, etag);
    requireClusterVerb(cluster, "SCALE");
    const deletions = await deleteNodeVms(em, ctx, cluster, "node_pool_id = ?", [id]);
    operationId = await startPoolOperation(em, ctx, cluster, "DELETE_NODE_POOL", deletions, { nodePoolId: id, nodePool: pool.name });
  });
  return getOperation(db, ctx, operationId);
}

/**
 * The scale path shared by UpdateNodePool and the autoscaler (addons/autoscaler.ts), inside the
 * caller's transaction with the cluster and the pool locked (lockPool): the cluster must take a
 * SCALE; more nodes reserve `placed` (placed before the locks, as the lock order wants), fewer
 * drain and delete `removedNodeIds` (the newest live nodes when not given). Returns the cluster's
 * SCALE_NODE_POOL operation; the caller sets the pool's node_count.
 */
export async function startScale(
  em: EntityManager,
  ctx: CallContext,
  cluster: KubernetesCluster,
  pool: NodePool,
  nodeCount: number,
  placed: readonly PlacedNode[],
  removedNodeIds?: readonly string[],
): Promise<string> {
  requireClusterVerb(cluster, "SCALE");
  return nodeCount > pool.nodeCount
    ? scaleUp(em, ctx, cluster, pool, placed)
    : scaleDown(em, ctx, cluster, pool, pool.nodeCount - nodeCount, removedNodeIds);
}

/** `added` more nodes of the pool's kind, admitted against quota as one line. */
export function workerDemand(pool: NodePool, added: number): NodeDemand {
  return {
    role: "WORKER",
    poolName: pool.name,
    groupId: pool.groupId,
    specificationId: pool.specificationId,
    imageId: pool.imageId,
    count: added,
  };
}

/** The added nodes, placed as a whole, reserved and numbered after the pool's highest node. */
async function scaleUp(
  em: EntityManager,
  ctx: CallContext,
  cluster: KubernetesCluster,
  pool: NodePool,
  placed: readonly PlacedNode[],
): Promise<string> {
  await reserveNodes(em, cluster.tenantId, placed);
  const [highest] = await em.execute<{ ordinal: number }[]>(
    "select coalesce(max(substring(name from '-([0-9]+)$')::int), 0) as ordinal from virtual_machine where node_pool_id = ?",
    [pool.id],
  );
  const offset = highest?.ordinal ?? 0;
  const nodes = await insertNodes(
    em,
    ctx,
    cluster,
    pool.id,
    placed.map((node) => ({ ...node, ordinal: node.ordinal + offset })),
  );
  return startPoolOperation(em, ctx, cluster, "SCALE_NODE_POOL", nodes.operations, {
    nodePoolId: pool.id,
    nodePool: pool.name,
    previousNodeCount: pool.nodeCount,
    labels: pool.labels,
    taints: pool.taints,
    nodes: nodes.records,
  });
}

/** `removed` live nodes of the pool — those named, else the newest — are drained and deleted: each
 * node VM's delete job says to drain it first. */
async function scaleDown(
  em: EntityManager,
  ctx: CallContext,
  cluster: KubernetesCluster,
  pool: NodePool,
  removed: number,
  named?: readonly string[],
): Promise<string> {
  const newest = await em.execute<{ id: string; name: string }[]>(
    `select id, name from virtual_machine where node_pool_id = ? and state not in ('DELETED', 'DELETING')
        and (?::uuid[] is null or id = any(?::uuid[]))
      order by create_time desc, substring(name from '-([0-9]+)$')::int desc limit ?`,
    [pool.id, named ? `{${named.join(",")}}` : null, named ? `{${named.join(",")}}` : null, removed],
  );
  const ids = newest.map((node) => node.id);
  const deletions = await deleteNodeVms(em, ctx, cluster, "id = any(array[?]::uuid[])", [ids], { drain: true });
  return startPoolOperation(em, ctx, cluster, "SCALE_NODE_POOL", deletions, {
    nodePoolId: pool.id,
    nodePool: pool.name,
    previousNodeCount: pool.nodeCount,
    removedNodes: newest.map((node) => ({ virtualMachineId: node.id, name: node.name })),
  });
}

async function insertNodes(
  em: EntityManager,
  ctx: CallContext,
  cluster: KubernetesCluster,
  poolId: string,
  placed: readonly PlacedNode[],
): Promise<{ operations: string[]; records: { virtualMachineId: string; name: string; nodePool: string }[] }> {
  const written = await insertNodeVms(
    em,
    ctx,
    { clusterId: cluster.id, clusterName: cluster.name, tenantId: cluster.tenantId, version: cluster.kubernetesVersion },
    placed.map((node) => ({ node, nodePoolId: poolId })),
  );
  return {
    operations: written.map((vm) => vm.operationId),
    records: written.map((vm, i) => ({ virtualMachineId: vm.id, name: vm.name, nodePool: placed[i]!.poolName ?? "" })),
  };
}

/** The cluster's operation for a pool's change: the cluster UPDATING with it under way, its job
 * waiting for the node VMs' operations. */
async function startPoolOperation(
  em: EntityManager,
  ctx: CallContext,
  cluster: KubernetesCluster,
  kind: JobKind,
  waitFor: readonly string[],
  payload: Record<string, unknown>,
): Promise<string> {
  const operationId = newId();
  await setClusterStatus(em, cluster.id, "UPDATING", "", operationId);
  await startOperation(em, ctx, {
    id: operationId,
    kind,
    resourceType: CLUSTER,
    resourceId: cluster.id,
    tenantId: cluster.tenantId,
    previousState: cluster.status,
    groupId: cluster.controlPlaneGroupId,
    baremetalId: null,
    waitFor,
    payload: { clusterId: cluster.id, name: cluster.name, ...payload },
  });
  return operationId;
}

/**
 * Before any lock but the tenant's: the cluster read unlocked, its tenant checked (a stranger gets
 * NOT_FOUND, named as `type` and `id`) and share-locked (TEN-2), and, when nodes change, the verb
 * checked, so that a marked or busy cluster is refused for what it is rather than for quota. The
 * verb is checked again under the cluster's lock.
 */
async function precheck(
  em: EntityManager,
  ctx: CallContext,
  clusterId: string,
  scales: boolean,
  type = CLUSTER,
  id = clusterId,
): Promise<{ tenantId: string }> {
  const [cluster] = await em.execute<{ tenant_id: string; status: KubernetesClusterStatus; active_operation_id: string | null }[]>(
    "select tenant_id, status, active_operation_id from kubernetes_cluster where id = ?",
    [clusterId],
  );
  if (!cluster || cluster.status === "DELETED" || (isTenantRole(ctx.principal.role) && cluster.tenant_id !== ctx.principal.tenantId)) {
    throw new NotFoundError(type, id);
  }
  await requireTenantEnabled(em, cluster.tenant_id);
  if (scales) requireClusterVerb({ id: clusterId, status: cluster.status, activeOperationId: cluster.active_operation_id }, "SCALE");
  return { tenantId: cluster.tenant_id };
}

/** A pool and its cluster locked for a change, in the lock order: the cluster (tenant checked) first,
 * then the pool FOR UPDATE with its etag checked. Names the pool as the audit target. */
export async function lockPool(
  em: EntityManager,
  ctx: CallContext,
  id: string,
  etag: string,
): Promise<{ cluster: KubernetesCluster; pool: NodePool }> {
  const [owner] = await em.execute<{ cluster_id: string }[]>("select cluster_id from kubernetes_node_pool where id = ?", [id]);
  if (!owner) throw new NotFoundError(NODE_POOL, id);
  let cluster: KubernetesCluster;
  try {
    cluster = await lockCluster(em, ctx, owner.cluster_id, "");
  } catch (error) {
    // Another tenant's pool does not exist for the caller, as its cluster does not.
    if (error instanceof NotFoundError) throw new NotFoundError(NODE_POOL, id);
    throw error;
  }
  ctx.audit.resourceType = NODE_POOL;
  ctx.audit.resourceId = id;
  await em.execute("select 1 from kubernetes_node_pool where id = ? for update", [id]);
  const pool = await readNodePool(em, id);
  if (!pool) throw new NotFoundError(NODE_POOL, id);
  requireEtag(pool.version, etag, NODE_POOL, id);
  return { cluster, pool };
}

async function getNodePool(db: Database, id: string): Promise<NodePool> {
  const pool = await readNodePool(db.em(), id);
  if (!pool) throw new NotFoundError(NODE_POOL, id);
  return pool;
}

function prefixed<T extends { field: string }>(prefix: string, violations: readonly T[]): T[] {
  return violations.map((violation) => ({ ...violation, field: `${prefix}.${violation.field}` }));
}
