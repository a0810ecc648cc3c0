// Rolling upgrades of a cluster (K8S-4) as a durable workflow in the database. The request admits
// and places the surge nodes of each phase's first batch as a whole, then starts the first step;
// every later step is started by the outcome of the one before, in the transaction that records
// it (cluster-lifecycle.ts calls `advanceUpgrade`). Nothing lives in a process's memory: a step is
// a queued job any replica hands to any agent, so a restart loses nothing. docs/kubernetes.md,
// "Upgrades", says why it is shaped so.
import type { EntityManager } from "@mikro-orm/postgresql";
import { NotFoundError, ResourceExhaustedError, type DomainError } from "../../domain/errors.js";
import { newId } from "../../domain/ids.js";
import {
  requireClusterVerb,
  requireNoVersionProblem,
  upgradePathProblem,
  type KubernetesClusterStatus,
  type NodeDemand,
} from "../../domain/kubernetes.js";
import type { JobKind } from "../../domain/operations.js";
import { isTenantRole, requireRole } from "../../domain/principal.js";
import { planRollingUpgrade, type UpgradeBatch, type UpgradeNode } from "../../domain/rolling-upgrade.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { mutate } from "../mutation.js";
import { completeOperation } from "../operations/completion.js";
import { getOperation, startOperation } from "../operations/operations.js";
import { requireTenantEnabled } from "../tenant-guard.js";
import { requirePluginsSupport } from "./addons/cluster-plugins.js";
import { placeCluster, reserveNodes, type PlacedNode } from "./cluster-placement.js";
import { clusterUsers, lockCluster, type KubernetesCluster } from "./cluster-queries.js";
import { CLUSTER, deleteNodeVms, insertNodeVms, setClusterStatus } from "./clusters.js";
import { catalogueVersion } from "./versions.js";
import type { Operation } from "../operations/operations.js";

/** The steps of an upgrade: each a cluster operation with one job. */
export const upgradeStepKinds = ["UPGRADE_KUBERNETES_NODES", "REMOVE_KUBERNETES_NODES"] as const satisfies readonly JobKind[];
export type UpgradeStepKind = (typeof upgradeStepKinds)[number];

export function isUpgradeStep(kind: JobKind): kind is UpgradeStepKind {
  return (upgradeStepKinds as readonly string[]).includes(kind);
}

/** What the workflow's steps need of their cluster. */
type ClusterRef = Pick<KubernetesCluster, "id" | "name" | "tenantId" | "controlPlaneGroupId">;

interface NodeRef {
  readonly virtualMachineId: string;
  readonly name: string;
}

/** A surge node built ahead of its batch: its VM and the operation creating it. */
interface SurgeNode extends NodeRef {
  readonly operationId: string;
}

/** What every step's job carries, so the next step can be decided from the job alone. */
interface StepPayload extends Record<string, unknown> {
  readonly clusterId: string;
  readonly name: string;
  readonly upgradeOperationId: string;
  readonly version: string;
  /** Outdated nodes when the upgrade started: the measure of its progress. */
  readonly totalNodes: number;
  readonly phase: "CONTROL_PLANE" | "NODE_POOL";
  readonly nodePoolId: string;
  readonly nodePool: string;
  /** Surge nodes admitted up front for batches still to come, by pool id ("" the control plane). */
  readonly reservedSurge: Record<string, SurgeNode[]>;
}

/**
 * Starts a rolling upgrade to `version` (Kubernetes' skew policy: no downgrade, one minor at a
 * time, patches any, never to UNSUPPORTED). The first batch of the control plane and of every pool
 * has its surge nodes admitted against quota and placed now, as a whole — refused with nothing
 * reserved when there is no room — and built at once. The cluster is UPDATING with the upgrade's
 * operation until the last step, then ACTIVE on the new version.
 */
export async function upgradeCluster(db: Database, ctx: CallContext, id: string, version: string, etag: string): Promise<Operation> {
  requireRole(ctx.principal, clusterUsers, "upgrade Kubernetes clusters");
  const operationId = newId();
  await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = CLUSTER;
    ctx.audit.resourceId = id;
    // Placement locks quota rows and hosts, which come before the cluster in the lock order: read
    // it unlocked, check what can be checked, place, then lock it and check again.
    const [seen] = await em.execute<{ tenant_id: string; status: KubernetesClusterStatus; active_operation_id: string | null }[]>(
      "select tenant_id, status, active_operation_id from kubernetes_cluster where id = ?",
      [id],
    );
    if (!seen || seen.status === "DELETED" || (isTenantRole(ctx.principal.role) && seen.tenant_id !== ctx.principal.tenantId)) {
      throw new NotFoundError(CLUSTER, id);
    }
    await requireTenantEnabled(em, seen.tenant_id);
    requireClusterVerb({ id, status: seen.status, activeOperationId: seen.active_operation_id }, "UPGRADE");
    const [current] = await em.execute<{ kubernetes_version: string }[]>("select kubernetes_version from kubernetes_cluster where id = ?", [
      id,
    ]);
    requireNoVersionProblem(
      upgradePathProblem(current!.kubernetes_version, version, await catalogueVersion(em, version)),
      "version",
      version,
    );
    const plan = await planFor(em, id, version);
    const firsts = firstBatches(plan);
    const shape = await shapeOf(em, id);
    const placed = await placeCluster(em, seen.tenant_id, surgeDemands(shape, firsts), {
      controlPlaneHosts: await controlPlaneHostsOf(em, id),
    });
    const cluster = await lockCluster(em, ctx, id, etag);
    requireClusterVerb(cluster, "UPGRADE");
    // An installed plugin whose version does not run on the target blocks the upgrade (K8S-8).
    await requirePluginsSupport(em, cluster, version);
    await reserveNodes(em, cluster.tenantId, placed);
    const reservedSurge: Record<string, SurgeNode[]> = {};
    for (const [poolId, nodes] of groupByPool(placed, shape)) {
      reservedSurge[poolId] = await insertSurgeNodes(em, ctx, cluster, poolId, version, nodes);
    }
    ctx.audit.detail = `upgrade ${cluster.kubernetesVersion} → ${version}: ${plan.length} batch(es), surge ${placed.length} node(s) admitted`;
    await em.execute(
      `insert into operation (id, kind, resource_type, resource_id, tenant_id, state, requested_by, previous_state, message, create_time, update_time)
       values (?, 'UPGRADE_KUBERNETES_CLUSTER', ?, ?, ?, 'RUNNING', ?, ?, ?, now(), now())`,
      [operationId, CLUSTER, id, cluster.tenantId, ctx.principal.name, cluster.status, `upgrading to ${version}`],
    );
    await setClusterStatus(em, id, "UPDATING", "", operationId);
    const totalNodes = plan.reduce((sum, batch) => sum + batch.nodeIds.length, 0);
    await startBatch(em, ctx, cluster, plan[0]!, {
      clusterId: id,
      name: cluster.name,
      upgradeOperationId: operationId,
      version,
      totalNodes,
      reservedSurge,
    });
  });
  return getOperation(db, ctx, operationId);
}

/** The plan from the nodes as they are now: nodes on the target version are done, as are the
 * `upgradedInPlace` ones (a step's nodes whose rows are written later, after the cluster's lock). */
async function planFor(
  em: EntityManager,
  clusterId: string,
  version: string,
  upgradedInPlace: readonly string[] = [],
): Promise<UpgradeBatch[]> {
  const nodes = await em.execute<
    { id: string; role: "CONTROL_PLANE" | "WORKER"; node_pool_id: string | null; kubernetes_version: string }[]
  >(
    `select id, role, node_pool_id, kubernetes_version from virtual_machine
      where cluster_id = ? and state not in ('DELETED', 'DELETING') order by create_time, id`,
    [clusterId],
  );
  const pools = await em.execute<{ id: string; max_surge: number; max_unavailable: number }[]>(
    "select id, max_surge, max_unavailable from kubernetes_node_pool where cluster_id = ? order by create_time, id",
    [clusterId],
  );
  return planRollingUpgrade({
    nodes: nodes.map(
      (node): UpgradeNode => ({
        id: node.id,
        role: node.role,
        poolId: node.node_pool_id,
        version: upgradedInPlace.includes(node.id) ? version : node.kubernetes_version,
      }),
    ),
    pools: pools.map((pool) => ({ id: pool.id, upgradeStrategy: { maxSurge: pool.max_surge, maxUnavailable: pool.max_unavailable } })),
    targetVersion: version,
  });
}

/** Each phase's first batch: it holds the phase's largest surge (later batches are no larger). */
function firstBatches(plan: readonly UpgradeBatch[]): UpgradeBatch[] {
  const seen = new Set<string>();
  return plan.filter((batch) => {
    const key = batch.poolId ?? "";
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

interface PoolShape {
  readonly name: string | null;
  readonly groupId: string;
  readonly specificationId: string;
  readonly imageId: string;
}

/** Where the control plane ("") and each pool put their nodes. */
async function shapeOf(em: EntityManager, clusterId: string): Promise<Map<string, PoolShape>> {
  const [cluster] = await em.execute<
    { control_plane_group_id: string; control_plane_specification_id: string; control_plane_image_id: string }[]
  >("select control_plane_group_id, control_plane_specification_id, control_plane_image_id from kubernetes_cluster where id = ?", [
    clusterId,
  ]);
  const shapes = new Map<string, PoolShape>([
    [
      "",
      {
        name: null,
        groupId: cluster!.control_plane_group_id,
        specificationId: cluster!.control_plane_specification_id,
        imageId: cluster!.control_plane_image_id,
      },
    ],
  ]);
  const pools = await em.execute<{ id: string; name: string; group_id: string; specification_id: string; image_id: string }[]>(
    "select id, name, group_id, specification_id, image_id from kubernetes_node_pool where cluster_id = ?",
    [clusterId],
  );
  for (const pool of pools) {
    shapes.set(pool.id, { name: pool.name, groupId: pool.group_id, specificationId: pool.specification_id, imageId: pool.image_id });
  }
  return shapes;
}

function surgeDemands(shapes: Map<string, PoolShape>, batches: readonly UpgradeBatch[]): NodeDemand[] {
  return batches
    .filter((batch) => batch.surge > 0)
    .map((batch) => {
      const shape = shapes.get(batch.poolId ?? "")!;
      return {
        role: batch.poolId === null ? "CONTROL_PLANE" : "WORKER",
        poolName: shape.name,
        groupId: shape.groupId,
        specificationId: shape.specificationId,
        imageId: shape.imageId,
        count: batch.surge,
      };
    });
}

function groupByPool(placed: readonly PlacedNode[], shapes: Map<string, PoolShape>): Map<string, PlacedNode[]> {
  const poolIdByName = new Map([...shapes].map(([poolId, shape]) => [shape.name, poolId]));
  const byPool = new Map<string, PlacedNode[]>();
  for (const node of placed) {
    const poolId = poolIdByName.get(node.poolName)!;
    byPool.set(poolId, [...(byPool.get(poolId) ?? []), node]);
  }
  return byPool;
}

/** Surge VMs on the target version, numbered after the highest node of their pool (or control
 * plane), each with its creation job; they count in the tenant's usage from now on. */
async function insertSurgeNodes(
  em: EntityManager,
  ctx: CallContext,
  cluster: ClusterRef,
  poolId: string,
  version: string,
  placed: readonly PlacedNode[],
): Promise<SurgeNode[]> {
  const [highest] = await em.execute<{ ordinal: number }[]>(
    `select coalesce(max(substring(name from '-([0-9]+)$')::int), 0) as ordinal from virtual_machine
      where cluster_id = ? and ${poolId === "" ? "node_pool_id is null" : "node_pool_id = ?"}`,
    poolId === "" ? [cluster.id] : [cluster.id, poolId],
  );
  const written = await insertNodeVms(
    em,
    ctx,
    { clusterId: cluster.id, clusterName: cluster.name, tenantId: cluster.tenantId, version },
    placed.map((node, index) => ({
      node: { ...node, ordinal: (highest?.ordinal ?? 0) + index + 1 },
      nodePoolId: poolId === "" ? null : poolId,
    })),
  );
  return written.map((vm) => ({ virtualMachineId: vm.id, name: vm.name, operationId: vm.operationId }));
}

type WorkflowState = Pick<StepPayload, "clusterId" | "name" | "upgradeOperationId" | "version" | "totalNodes" | "reservedSurge">;

/**
 * A batch's first step, UPGRADE_KUBERNETES_NODES, waiting for its surge nodes' creation: the agent
 * joins the surge nodes on the new version, drains the old nodes they replace, and drains,
 * upgrades in place and uncordons the others (at most max_unavailable of them).
 */
async function startBatch(
  em: EntityManager,
  ctx: CallContext,
  cluster: ClusterRef,
  batch: UpgradeBatch,
  state: WorkflowState,
): Promise<void> {
  const key = batch.poolId ?? "";
  const reservedSurge = { ...state.reservedSurge };
  // Placed and reserved by the request (each phase's first batch) or by the step before.
  const surge = reservedSurge[key] ?? [];
  delete reservedSurge[key];
  const old = await em.execute<{ id: string; name: string }[]>("select id, name from virtual_machine where id = any(array[?]::uuid[])", [
    batch.nodeIds,
  ]);
  const nameOf = new Map(old.map((node) => [node.id, node.name]));
  const ref = (nodeId: string): NodeRef => ({ virtualMachineId: nodeId, name: nameOf.get(nodeId) ?? "" });
  const replaced = batch.nodeIds.slice(0, surge.length).map(ref);
  const upgraded = batch.nodeIds.slice(surge.length).map(ref);
  const pool = await poolName(em, batch.poolId);
  await startStep(
    em,
    ctx,
    cluster,
    "UPGRADE_KUBERNETES_NODES",
    surge.map((node) => node.operationId),
    {
      ...state,
      reservedSurge,
      phase: batch.phase,
      nodePoolId: batch.poolId ?? "",
      nodePool: pool,
      joinNodes: surge.map(({ virtualMachineId, name }) => ({ virtualMachineId, name })),
      replacedNodes: replaced,
      upgradedNodes: upgraded,
    },
  );
}

async function poolName(em: EntityManager, poolId: string | null): Promise<string> {
  if (!poolId) return "";
  const [pool] = await em.execute<{ name: string }[]>("select name from kubernetes_node_pool where id = ?", [poolId]);
  return pool?.name ?? "";
}

/** One step: a cluster operation (the cluster's upgrade stays its active one) and its job. */
async function startStep(
  em: EntityManager,
  ctx: CallContext,
  cluster: ClusterRef,
  kind: UpgradeStepKind,
  waitFor: readonly string[],
  payload: StepPayload & Record<string, unknown>,
): Promise<void> {
  await startOperation(em, ctx, {
    kind,
    resourceType: CLUSTER,
    resourceId: cluster.id,
    tenantId: cluster.tenantId,
    previousState: "UPDATING",
    groupId: cluster.controlPlaneGroupId,
    baremetalId: null,
    waitFor,
    payload,
  });
}

/** The server's own hand in a workflow: later steps are requested by whoever asked for the upgrade. */
function workflowContext(requestedBy: string): CallContext {
  return {
    principal: { name: requestedBy, role: "PLATFORM_ADMIN", tenantId: undefined, tokenId: "" },
    requestId: "",
    method: "rackplane.v1.KubernetesService/UpgradeKubernetesCluster",
    audit: { resourceType: CLUSTER, resourceId: "", written: true },
  };
}

/**
 * A step succeeded (called by the cluster's lifecycle in the report's transaction, with the step's
 * operation locked): the next step starts. After UPGRADE_KUBERNETES_NODES the nodes upgraded in
 * place are on the new version and the replaced ones are deleted (each VM's own job, its
 * reservation released as its agent confirms) under a REMOVE_KUBERNETES_NODES step waiting for
 * them; after that, the next batch — or, when none is left, the upgrade's own closing job.
 */
export async function advanceUpgrade(em: EntityManager, step: { readonly id: string; readonly kind: UpgradeStepKind }): Promise<void> {
  const [job] = await em.execute<{ payload: StepPayload & { replacedNodes?: NodeRef[]; upgradedNodes?: NodeRef[] } }[]>(
    "select payload from job where operation_id = ?",
    [step.id],
  );
  const payload = job!.payload;
  const [upgrade] = await em.execute<{ requested_by: string; state: string }[]>(
    "select requested_by, state from operation where id = ? for update",
    [payload.upgradeOperationId],
  );
  if (upgrade?.state !== "RUNNING") return;
  const ctx = workflowContext(upgrade.requested_by);
  const state: WorkflowState = {
    clusterId: payload.clusterId,
    name: payload.name,
    upgradeOperationId: payload.upgradeOperationId,
    version: payload.version,
    totalNodes: payload.totalNodes,
    reservedSurge: payload.reservedSurge,
  };
  if (step.kind !== "UPGRADE_KUBERNETES_NODES") return nextBatch(em, ctx, state, []);
  // The nodes upgraded in place run the new version; their rows are written after the cluster is
  // locked (the lock order: the cluster before its VMs), which for the next batch comes after
  // placing its surge nodes (quota rows and hosts come before the cluster).
  const upgraded = (payload.upgradedNodes ?? []).map((node) => node.virtualMachineId);
  const replaced = payload.replacedNodes ?? [];
  if (replaced.length === 0) return nextBatch(em, ctx, state, upgraded);
  const cluster = await lockedCluster(em, payload.clusterId);
  await recordUpgradedNodes(em, payload.version, upgraded);
  const deletions = await deleteNodeVms(em, ctx, cluster, "id = any(array[?]::uuid[])", [replaced.map((node) => node.virtualMachineId)]);
  await startStep(em, ctx, cluster, "REMOVE_KUBERNETES_NODES", deletions, {
    ...state,
    phase: payload.phase,
    nodePoolId: payload.nodePoolId,
    nodePool: payload.nodePool,
    removedNodes: replaced,
  });
  await recordProgress(em, state);
}

/** Nodes a step upgraded in place, on the new version (the caller holds the cluster's lock). */
async function recordUpgradedNodes(em: EntityManager, version: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await em.execute(
    "update virtual_machine set kubernetes_version = ?, version = version + 1, update_time = now() where id = any(array[?]::uuid[])",
    [version, ids],
  );
}

/** The hosts the cluster's control-plane nodes occupy: a control-plane surge node goes elsewhere. */
async function controlPlaneHostsOf(em: EntityManager, clusterId: string): Promise<string[]> {
  const rows = await em.execute<{ baremetal_id: string }[]>(
    "select baremetal_id from virtual_machine where cluster_id = ? and role = 'CONTROL_PLANE' and state <> 'DELETED'",
    [clusterId],
  );
  return rows.map((row) => row.baremetal_id);
}

/** The next batch from the nodes as they are now (with `upgradedInPlace` on the new version), or
 * the closing job when every node is done. */
async function nextBatch(em: EntityManager, ctx: CallContext, state: WorkflowState, upgradedInPlace: readonly string[]): Promise<void> {
  const plan = await planFor(em, state.clusterId, state.version, upgradedInPlace);
  const next = plan[0];
  if (next && next.surge > 0 && !state.reservedSurge[next.poolId ?? ""]) {
    // Placement locks quota rows and hosts, before the cluster in the lock order.
    const cluster = await unlockedCluster(em, state.clusterId);
    let placed: PlacedNode[];
    try {
      placed = await placeCluster(em, cluster.tenantId, surgeDemands(await shapeOf(em, cluster.id), [next]), {
        controlPlaneHosts: next.poolId === null ? await controlPlaneHostsOf(em, cluster.id) : [],
      });
    } catch (error) {
      if (!(error instanceof ResourceExhaustedError)) throw error;
      await lockedCluster(em, state.clusterId);
      await recordUpgradedNodes(em, state.version, upgradedInPlace);
      await stopUpgrade(em, state, next, await poolName(em, next.poolId), error);
      return;
    }
    const locked = await lockedCluster(em, state.clusterId);
    await recordUpgradedNodes(em, state.version, upgradedInPlace);
    await reserveNodes(em, cluster.tenantId, placed);
    const surge = await insertSurgeNodes(em, ctx, locked, next.poolId ?? "", state.version, placed);
    await startBatch(em, ctx, locked, next, { ...state, reservedSurge: { ...state.reservedSurge, [next.poolId ?? ""]: surge } });
    await recordProgress(em, state);
    return;
  }
  const cluster = await lockedCluster(em, state.clusterId);
  await recordUpgradedNodes(em, state.version, upgradedInPlace);
  // Pools with no node left to do run the new version.
  await em.execute(
    `update kubernetes_node_pool p set kubernetes_version = ?, version = p.version + 1, update_time = now()
      where p.cluster_id = ? and p.kubernetes_version <> ? and not exists (select 1 from virtual_machine vm where vm.node_pool_id = p.id
        and vm.state not in ('DELETED', 'DELETING') and vm.kubernetes_version <> ?)`,
    [state.version, state.clusterId, state.version, state.version],
  );
  if (next) {
    await startBatch(em, ctx, cluster, next, state);
    await recordProgress(em, state);
    return;
  }
  // Every node is on the new version: the upgrade's own job closes it (the agent upgrades what
  // belongs to the whole cluster — kube-proxy, CoreDNS — and checks it), and its success makes the
  // cluster ACTIVE on the new version.
  await em.execute(
    `insert into job (id, operation_id, kind, resource_type, resource_id, group_id, baremetal_id, payload, state, create_time, update_time,
                      wait_for_operation_ids)
     values (?, ?, 'UPGRADE_KUBERNETES_CLUSTER', ?, ?, ?, null, ?::jsonb, 'QUEUED', now(), now(), '{}')`,
    [
      newId(),
      state.upgradeOperationId,
      CLUSTER,
      state.clusterId,
      cluster.controlPlaneGroupId,
      JSON.stringify({ clusterId: state.clusterId, name: state.name, version: state.version }),
    ],
  );
  await em.execute("select pg_notify('rackplane_job', ?)", [cluster.controlPlaneGroupId]);
  await recordProgress(em, state);
}

/** The upgrade's progress: the share of its nodes on the new version (100 only once it is done). */
async function recordProgress(em: EntityManager, state: WorkflowState): Promise<void> {
  const plan = await planFor(em, state.clusterId, state.version);
  const left = plan.reduce((sum, batch) => sum + batch.nodeIds.length, 0);
  const done = state.totalNodes === 0 ? 99 : Math.min(99, Math.floor((100 * (state.totalNodes - left)) / state.totalNodes));
  await em.execute("update operation set progress_percent = ?, message = ?, update_time = now() where id = ?", [
    done,
    `${state.totalNodes - left} of ${state.totalNodes} node(s) on ${state.version}`,
    state.upgradeOperationId,
  ]);
  await em.execute("select pg_notify('rackplane_operation', ?)", [state.upgradeOperationId]);
}

/**
 * A step failed for good: the workflow stops. The upgrade's operation fails with the step's error
 * (the agent's own, or the error of the node operation the step waited for), which leaves the
 * cluster ERROR with that message; every reservation stays.
 */
export async function failUpgrade(em: EntityManager, step: { readonly id: string }): Promise<void> {
  const [row] = await em.execute<
    {
      upgrade_id: string;
      error_code: string;
      error_reason: string;
      error_message: string;
      error_metadata: Record<string, string>;
      waited: string[];
    }[]
  >(
    `select (j.payload->>'upgradeOperationId') as upgrade_id, o.error_code, o.error_reason, o.error_message, o.error_metadata,
            j.wait_for_operation_ids as waited
       from operation o join job j on j.operation_id = o.id where o.id = ?`,
    [step.id],
  );
  if (!row) return;
  let error = { code: row.error_code, reason: row.error_reason, message: row.error_message, metadata: row.error_metadata ?? {} };
  if (row.error_reason === "PREREQUISITE_FAILED" && row.waited.length > 0) {
    // The node's own failure says more than "a prerequisite failed".
    const [cause] = await em.execute<
      { error_code: string; error_reason: string; error_message: string; error_metadata: Record<string, string> }[]
    >(
      `select error_code, error_reason, error_message, error_metadata from operation
        where id = any(array[?]::uuid[]) and state in ('FAILED', 'CANCELLED') order by done_time limit 1`,
      [row.waited],
    );
    if (cause?.error_message) {
      error = {
        code: cause.error_code || error.code,
        reason: cause.error_reason || error.reason,
        message: cause.error_message,
        metadata: cause.error_metadata ?? {},
      };
    }
  }
  await completeOperation(em, row.upgrade_id, {
    succeeded: false,
    error: { ...error, metadata: { ...error.metadata, step_operation_id: step.id } },
  });
}

/**
 * No room for the next batch's surge nodes (someone took what the batch before released): the
 * upgrade stops there rather than overcommit — its operation FAILED with the refusal's reason, a
 * message naming the batch, and metadata a client can act on; the cluster ERROR with that message.
 * Nothing is undone: the nodes done so far stay on the new version, every reservation stays, and
 * RetryKubernetesClusterOperation, once there is room, places the batch again and goes on.
 */
async function stopUpgrade(em: EntityManager, state: WorkflowState, next: UpgradeBatch, pool: string, error: DomainError): Promise<void> {
  const where = next.poolId === null ? "the control plane's next node" : `the next batch of pool ${pool}`;
  await completeOperation(em, state.upgradeOperationId, {
    succeeded: false,
    error: {
      code: "RESOURCE_EXHAUSTED",
      reason: error.reason,
      message: `upgrade to ${state.version} stopped before ${where}: no room for its ${next.surge} surge node(s) (${error.message}); make room, then RetryKubernetesClusterOperation goes on from there`,
      metadata: {
        ...error.metadata,
        stopped_before: next.poolId === null ? "CONTROL_PLANE" : "NODE_POOL",
        node_pool: pool,
        surge_nodes: String(next.surge),
        retriable: "true",
      },
    },
  });
}

async function unlockedCluster(em: EntityManager, id: string): Promise<{ id: string; tenantId: string }> {
  const [row] = await em.execute<{ tenant_id: string }[]>("select tenant_id from kubernetes_cluster where id = ?", [id]);
  return { id, tenantId: row!.tenant_id };
}

/** The cluster FOR UPDATE, as the workflow's steps need it. */
async function lockedCluster(em: EntityManager, id: string): Promise<ClusterRef> {
  const [row] = await em.execute<{ id: string; name: string; tenant_id: string; control_plane_group_id: string }[]>(
    "select id, name, tenant_id, control_plane_group_id from kubernetes_cluster where id = ? for update",
    [id],
  );
  if (!row) throw new NotFoundError(CLUSTER, id);
  return { id: row.id, name: row.name, tenantId: row.tenant_id, controlPlaneGroupId: row.control_plane_group_id };
}
