// The autoscaler (K8S-5, automatic part): decided when a cluster's health report is stored, in the
// same transaction, for each reported pool with bounds. Scale-up places one more node; scale-down
// drains and removes the nodes reported empty long enough; both through the pool's scale path
// (node-pools.ts startScale), so they are checked, admitted and run exactly as a hand-made scale.
// One decision at a time per pool across processes (reports of a cluster queue on its health row;
// the cluster's and the pool's row locks and the one-operation-per-cluster rule), a cool-down per pool,
// never on a cluster that is not ACTIVE. Each decision is recorded as a scaling event, a refused
// one with its reason. docs/kubernetes-health.md#autoscaling says why on ingestion.
import type { EntityManager } from "@mikro-orm/postgresql";
import {
  decideScaling,
  scalingOutcomes,
  scalingReasons,
  type ScalingDecision,
  type ScalingOutcome,
  type ScalingReason,
} from "../../../domain/autoscaling.js";
import type { ClusterHealthReport, NodePoolHealth } from "../../../domain/cluster-health.js";
import { DomainError } from "../../../domain/errors.js";
import { field, resourceTimes } from "../../../domain/filter-schema.js";
import { newId } from "../../../domain/ids.js";
import type { SortSchema } from "../../../domain/order-by.js";
import { isTenantRole, requireRole } from "../../../domain/principal.js";
import { KubernetesNodePoolScalingEvent } from "../../../persistence/entities/index.js";
import type { CallContext } from "../../context.js";
import type { Database } from "../../database.js";
import { listPage, type ListRequest, type Page } from "../../list.js";
import { requireTenantEnabled } from "../../tenant-guard.js";
import { placeCluster } from "../cluster-placement.js";
import { clusterUsers, readNodePool, type NodePool } from "../cluster-queries.js";
import { lockPool, startScale, workerDemand } from "../node-pools.js";
import { reportClusterHealth, type ClusterHealthSettings, type HealthReportResult } from "./cluster-health.js";

export interface AutoscalerSettings {
  /** After a decision on a pool (started or refused), none before this has passed
   * (RACKPLANE_AUTOSCALER_COOLDOWN_SECONDS, default 300 s). */
  readonly cooldownMillis: number;
  /** A node reported empty for this long is removed (RACKPLANE_AUTOSCALER_EMPTY_NODE_SECONDS,
   * default 600 s). */
  readonly emptyMillis: number;
}

export const defaultAutoscalerSettings: AutoscalerSettings = { cooldownMillis: 300_000, emptyMillis: 600_000 };

/** One decision as ListNodePoolScalingEvents shows it. */
export interface ScalingEvent {
  readonly id: string;
  readonly createTime: Date;
  readonly tenantId: string;
  readonly clusterId: string;
  readonly nodePoolId: string;
  readonly fromNodeCount: number;
  readonly toNodeCount: number;
  readonly reason: ScalingReason;
  readonly unschedulablePodCount: number;
  readonly removedNodeIds: readonly string[];
  readonly observeTime: Date;
  readonly outcome: ScalingOutcome;
  readonly refusedReason: string;
  readonly message: string;
  readonly operationId?: string | null;
}

const scalingEventFilter = {
  node_pool_id: field.uuid("nodePoolId"),
  cluster_id: field.uuid("clusterId"),
  tenant_id: field.uuid("tenantId"),
  outcome: field.enum("NODE_POOL_SCALING_OUTCOME_", scalingOutcomes, "outcome"),
  reason: field.enum("NODE_POOL_SCALING_REASON_", scalingReasons, "reason"),
  ...resourceTimes,
};

/** An agent's health report (cluster-health.ts), and the autoscaler's decisions on it in the same
 * transaction when it was accepted, both with the server's settings. */
export function reportHealthAndAutoscale(
  db: Database,
  ctx: CallContext,
  clusterId: string,
  report: ClusterHealthReport,
  healthSettings: ClusterHealthSettings,
  settings: AutoscalerSettings,
): Promise<HealthReportResult> {
  return reportClusterHealth(db, ctx, clusterId, report, healthSettings, async (em, tenantId) => {
    for (const figures of report.nodePools) await autoscalePool(em, ctx, clusterId, tenantId, figures, report.observeTime, settings);
  });
}

/** What ListNodePoolScalingEvents sorts by (AIP-132 order_by): oldest first by default, newest first
 * as a log is read. */
const scalingEventSort: SortSchema = { create_time: { property: "createTime", kind: "timestamp" } };

/** Tenant principals see their own tenant's events. */
export async function listScalingEvents(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<ScalingEvent>> {
  requireRole(ctx.principal, clusterUsers, "read node pool scaling events");
  const scope = isTenantRole(ctx.principal.role) ? { scope: { tenantId: ctx.principal.tenantId ?? "" } } : {};
  const page = await listPage(db.em(), KubernetesNodePoolScalingEvent, request, scalingEventFilter, { sort: scalingEventSort, ...scope });
  return page as unknown as Page<ScalingEvent>;
}

/**
 * One pool's decision. Unlocked reads first settle the common case (no bounds, nothing to do, a
 * cluster busy or marked, the cool-down running) without a lock; the report's upsert already holds
 * the cluster's health row, so no other report of the cluster decides until this one commits. The
 * attempt runs in a savepoint: a refusal (quota, capacity, a disabled tenant) rolls the attempt
 * back and is recorded instead; the report is stored either way.
 */
async function autoscalePool(
  em: EntityManager,
  reporter: CallContext,
  clusterId: string,
  tenantId: string,
  figures: NodePoolHealth,
  observeTime: Date,
  settings: AutoscalerSettings,
): Promise<void> {
  const seen = await readNodePool(em, figures.nodePoolId);
  if (!seen || !bounded(seen) || !(await mayDecide(em, clusterId, seen.id, settings.cooldownMillis))) return;
  const decision = decideScaling(boundsOf(seen), figures, observeTime, await liveNodes(em, seen.id), settings.emptyMillis);
  if (!decision) return;
  // The decision is the autoscaler's: its operations say so, and the report's audit target stays.
  const ctx: CallContext = {
    ...reporter,
    principal: { ...reporter.principal, name: `autoscaler (report of ${reporter.principal.name})` },
    audit: { resourceType: "", resourceId: "", written: false },
  };
  const event = { tenantId, clusterId, pool: seen, decision, figures, observeTime };
  await em.execute("savepoint autoscaler");
  try {
    await requireTenantEnabled(em, tenantId);
    const placed = decision.to > decision.from ? await placeCluster(em, tenantId, [workerDemand(seen, decision.to - decision.from)]) : [];
    const { cluster, pool } = await lockPool(em, ctx, seen.id, "");
    // Under the locks: another decision or a hand-made change may have come first.
    if (
      pool.nodeCount !== decision.from ||
      cluster.activeOperationId ||
      cluster.status !== "ACTIVE" ||
      !(await cooledDown(em, pool.id, settings.cooldownMillis))
    ) {
      await em.execute("rollback to savepoint autoscaler");
      return;
    }
    const operationId = await startScale(em, ctx, cluster, pool, decision.to, placed, decision.removedNodeIds);
    await em.execute("update kubernetes_node_pool set node_count = ?, version = version + 1, update_time = now() where id = ?", [
      decision.to,
      pool.id,
    ]);
    await recordEvent(em, event, { outcome: "STARTED", operationId });
    await em.execute("release savepoint autoscaler");
    noteOnAudit(reporter, seen, decision, `started ${operationId}`);
  } catch (error) {
    await em.execute("rollback to savepoint autoscaler");
    // What the attempt may have put in the identity map went with the savepoint.
    em.clear();
    if (!(error instanceof DomainError)) throw error;
    await recordEvent(em, event, { outcome: "REFUSED", refusedReason: error.reason, message: error.message });
    noteOnAudit(reporter, seen, decision, `refused ${error.reason}`);
  }
}

/** The report's audit record says what it caused. */
function noteOnAudit(reporter: CallContext, pool: NodePool, decision: ScalingDecision, outcome: string): void {
  reporter.audit.detail = `${reporter.audit.detail ?? ""}; autoscaler: pool ${pool.name} ${decision.from} → ${decision.to} ${outcome}`;
}

function bounded(pool: NodePool): boolean {
  return pool.autoscalingMinNodeCount !== null && pool.autoscalingMinNodeCount !== undefined;
}

function boundsOf(pool: NodePool) {
  return { nodeCount: pool.nodeCount, minNodeCount: pool.autoscalingMinNodeCount ?? 0, maxNodeCount: pool.autoscalingMaxNodeCount ?? 0 };
}

/** Only an ACTIVE cluster with no lifecycle operation under way (never MAINTENANCE or OFFLINE),
 * and only once the pool's cool-down has passed. */
async function mayDecide(em: EntityManager, clusterId: string, poolId: string, cooldownMillis: number): Promise<boolean> {
  const [cluster] = await em.execute<{ status: string; active_operation_id: string | null }[]>(
    "select status, active_operation_id from kubernetes_cluster where id = ?",
    [clusterId],
  );
  return cluster?.status === "ACTIVE" && !cluster.active_operation_id && (await cooledDown(em, poolId, cooldownMillis));
}

/** No decision on the pool (started or refused) within the cool-down, on the database's clock. */
async function cooledDown(em: EntityManager, poolId: string, cooldownMillis: number): Promise<boolean> {
  const [recent] = await em.execute<{ id: string }[]>(
    `select id from kubernetes_node_pool_scaling_event where node_pool_id = ? and create_time > clock_timestamp() - make_interval(secs => ?)
      limit 1`,
    [poolId, cooldownMillis / 1000],
  );
  return recent === undefined;
}

async function liveNodes(em: EntityManager, poolId: string): Promise<Set<string>> {
  const rows = await em.execute<{ id: string }[]>(
    "select id from virtual_machine where node_pool_id = ? and state not in ('DELETED', 'DELETING')",
    [poolId],
  );
  return new Set(rows.map((row) => row.id.toLowerCase()));
}

async function recordEvent(
  em: EntityManager,
  event: {
    tenantId: string;
    clusterId: string;
    pool: NodePool;
    decision: ScalingDecision;
    figures: NodePoolHealth;
    observeTime: Date;
  },
  result: { outcome: ScalingOutcome; operationId?: string; refusedReason?: string; message?: string },
): Promise<void> {
  await em.execute(
    `insert into kubernetes_node_pool_scaling_event (id, version, create_time, update_time, tenant_id, cluster_id, node_pool_id,
            from_node_count, to_node_count, reason, unschedulable_pod_count, removed_node_ids, observe_time, outcome, refused_reason,
            message, operation_id)
     values (?, 1, clock_timestamp(), clock_timestamp(), ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?)`,
    [
      newId(),
      event.tenantId,
      event.clusterId,
      event.pool.id,
      event.decision.from,
      event.decision.to,
      event.decision.reason,
      event.figures.unschedulablePodCount,
      JSON.stringify(event.decision.removedNodeIds),
      event.observeTime,
      result.outcome,
      result.refusedReason ?? "",
      result.message ?? "",
      result.operationId ?? null,
    ],
  );
}
