// A cluster's health as its agent reports it (K8S-11): the latest report per cluster, stored by one
// upsert that keeps the newer of two (a late report changes nothing), inside the agent's scope
// (the cluster's control-plane group), one audit record per call. Views read the latest report by
// cluster ids in one query and flag it stale past the server's configured period (passed in, one
// server's setting, never the process's). docs/kubernetes-health.md.
import type { EntityManager } from "@mikro-orm/postgresql";
import {
  requirePlausibleReport,
  type ClusterHealth,
  type ClusterHealthReport,
  type ClusterTraffic,
  type NodePoolHealth,
} from "../../../domain/cluster-health.js";
import { InvalidArgumentError, NotFoundError } from "../../../domain/errors.js";
import { requireRole } from "../../../domain/principal.js";
import { requirePlaceInScope } from "../../agents/scope.js";
import type { CallContext } from "../../context.js";
import type { Database } from "../../database.js";
import { mutate } from "../../mutation.js";
import { lifecycleOf } from "../../operations/lifecycle.js";

export const CLUSTER = "kubernetes_cluster";

export interface ClusterHealthSettings {
  /** A report older than this reads stale (RACKPLANE_CLUSTER_HEALTH_STALE_SECONDS, default 300 s). */
  readonly staleMillis: number;
}

export const defaultClusterHealthSettings: ClusterHealthSettings = { staleMillis: 300_000 };

export interface HealthReportResult {
  /** False when a report as new or newer was stored already. */
  readonly accepted: boolean;
  readonly health: ClusterHealth;
}

/**
 * Stores an agent's report of a cluster unless a newer one is stored. The cluster must lie inside
 * the agent's scope (else NOT_FOUND, as for one that does not exist) and every pool it names must
 * be the cluster's (INVALID_ARGUMENT otherwise). `afterStore` runs in the same transaction when
 * the report was accepted: the autoscaler's hook.
 */
export async function reportClusterHealth(
  db: Database,
  ctx: CallContext,
  clusterId: string,
  report: ClusterHealthReport,
  settings: ClusterHealthSettings,
  afterStore?: (em: EntityManager, tenantId: string) => Promise<void>,
): Promise<HealthReportResult> {
  requireRole(ctx.principal, ["AGENT"], "report cluster health");
  requirePlausibleReport(report, new Date());
  const accepted = await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = CLUSTER;
    ctx.audit.resourceId = clusterId;
    const place = await lifecycleOf(CLUSTER).placeOf(em, clusterId);
    if (!place) throw new NotFoundError(CLUSTER, clusterId);
    await requirePlaceInScope(em, ctx.principal, { type: CLUSTER, id: clusterId }, place);
    await requirePoolsOfCluster(em, clusterId, report.nodePools);
    const stored = await em.execute<{ tenant_id: string }[]>(
      `insert into kubernetes_cluster_health as h (cluster_id, observe_time, receive_time, ready_node_count, not_ready_node_count,
              running_pod_count, pending_pod_count, failed_pod_count, traffic, node_pools)
       values (?, ?, now(), ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb)
       on conflict (cluster_id) do update set observe_time = excluded.observe_time, receive_time = excluded.receive_time,
              ready_node_count = excluded.ready_node_count, not_ready_node_count = excluded.not_ready_node_count,
              running_pod_count = excluded.running_pod_count, pending_pod_count = excluded.pending_pod_count,
              failed_pod_count = excluded.failed_pod_count, traffic = excluded.traffic, node_pools = excluded.node_pools
        where excluded.observe_time > h.observe_time
       returning (select tenant_id from kubernetes_cluster where id = h.cluster_id) as tenant_id`,
      [
        clusterId,
        report.observeTime,
        report.readyNodeCount,
        report.notReadyNodeCount,
        report.runningPodCount,
        report.pendingPodCount,
        report.failedPodCount,
        report.traffic === null ? null : JSON.stringify(report.traffic),
        JSON.stringify(report.nodePools.map(storedPool)),
      ],
    );
    const [row] = stored;
    ctx.audit.detail = row
      ? `nodes ${report.readyNodeCount} ready, ${report.notReadyNodeCount} not; pods ${report.runningPodCount} running, ${report.pendingPodCount} pending, ${report.failedPodCount} failed`
      : "superseded: a report as new or newer is stored";
    if (row && afterStore) await afterStore(em, row.tenant_id);
    return row !== undefined;
  });
  const health = (await clusterHealthOf(db.em(), [clusterId], settings)).get(clusterId);
  return { accepted, health: health! };
}

/** The latest report of each of `clusterIds` that has one, in one query, stale flagged on the
 * database's clock. Callers have checked the reader may see the clusters. */
export async function clusterHealthOf(
  em: EntityManager,
  clusterIds: readonly string[],
  settings: ClusterHealthSettings,
): Promise<Map<string, ClusterHealth>> {
  const found = new Map<string, ClusterHealth>();
  if (clusterIds.length === 0) return found;
  const rows = await em.execute<HealthRow[]>(
    `select cluster_id, observe_time, receive_time, ready_node_count, not_ready_node_count, running_pod_count, pending_pod_count,
            failed_pod_count, traffic, node_pools, observe_time < now() - make_interval(secs => ?) as stale
       from kubernetes_cluster_health where cluster_id = any(array[?]::uuid[])`,
    [settings.staleMillis / 1000, [...clusterIds]],
  );
  for (const row of rows) found.set(row.cluster_id, healthOf(row));
  return found;
}

interface HealthRow {
  cluster_id: string;
  observe_time: Date;
  receive_time: Date;
  ready_node_count: number;
  not_ready_node_count: number;
  running_pod_count: number;
  pending_pod_count: number;
  failed_pod_count: number;
  traffic: ClusterTraffic | null;
  node_pools: StoredPool[];
  stale: boolean;
}

/** A pool's figures as jsonb: times as ISO text. */
interface StoredPool {
  nodePoolId: string;
  unschedulablePodCount: number;
  emptyNodes: { virtualMachineId: string; emptySince: string }[];
}

function storedPool(pool: NodePoolHealth): StoredPool {
  return {
    nodePoolId: pool.nodePoolId.toLowerCase(),
    unschedulablePodCount: pool.unschedulablePodCount,
    emptyNodes: pool.emptyNodes.map((node) => ({
      virtualMachineId: node.virtualMachineId.toLowerCase(),
      emptySince: node.emptySince.toISOString(),
    })),
  };
}

function healthOf(row: HealthRow): ClusterHealth {
  return {
    observeTime: new Date(row.observe_time),
    receiveTime: new Date(row.receive_time),
    readyNodeCount: row.ready_node_count,
    notReadyNodeCount: row.not_ready_node_count,
    runningPodCount: row.running_pod_count,
    pendingPodCount: row.pending_pod_count,
    failedPodCount: row.failed_pod_count,
    traffic: row.traffic,
    nodePools: row.node_pools.map((pool) => ({
      nodePoolId: pool.nodePoolId,
      unschedulablePodCount: pool.unschedulablePodCount,
      emptyNodes: pool.emptyNodes.map((node) => ({ virtualMachineId: node.virtualMachineId, emptySince: new Date(node.emptySince) })),
    })),
    stale: row.stale,
  };
}

/** Every pool a report names must be the cluster's. */
async function requirePoolsOfCluster(em: EntityManager, clusterId: string, pools: readonly NodePoolHealth[]): Promise<void> {
  if (pools.length === 0) return;
  const rows = await em.execute<{ id: string }[]>(
    "select id from kubernetes_node_pool where cluster_id = ? and id = any(array[?]::uuid[])",
    [clusterId, pools.map((pool) => pool.nodePoolId)],
  );
  const known = new Set(rows.map((row) => row.id.toLowerCase()));
  const index = pools.findIndex((pool) => !known.has(pool.nodePoolId.toLowerCase()));
  if (index >= 0) {
    throw new InvalidArgumentError(
      "NODE_POOL_NOT_IN_CLUSTER",
      `node pool ${pools[index]!.nodePoolId} is not a pool of cluster ${clusterId}`,
      [{ field: `health.node_pools[${index}].node_pool_id`, description: "must be a node pool of the reported cluster" }],
      { cluster_id: clusterId, node_pool_id: pools[index]!.nodePoolId },
    );
  }
}
