// What agents see inside clusters (K8S-11) and what the autoscaler decides from it (K8S-5):
// docs/kubernetes-health.md explains the choices.
import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type { ScalingOutcome, ScalingReason } from "../../domain/autoscaling.js";
import type { ClusterTraffic, NodePoolHealth } from "../../domain/cluster-health.js";
import { resourceProperties } from "./common.js";
import { KubernetesCluster } from "./kubernetes.js";
import { Tenant } from "./tenant.js";

/** The latest health report of a cluster, one row per cluster: a newer report replaces it, an older
 * one is ignored (decided by the upsert). Per-pool figures are one jsonb list, read whole. */
export const KubernetesClusterHealth = defineEntity({
  name: "KubernetesClusterHealth",
  tableName: "kubernetes_cluster_health",
  properties: {
    clusterId: () => p.manyToOne(KubernetesCluster).mapToPk().fieldName("cluster_id").primary().deleteRule("cascade"),
    observeTime: p.datetime(),
    receiveTime: p.datetime(),
    readyNodeCount: p.integer(),
    notReadyNodeCount: p.integer(),
    runningPodCount: p.integer(),
    pendingPodCount: p.integer(),
    failedPodCount: p.integer(),
    traffic: p.json<ClusterTraffic>().nullable(),
    nodePools: p.json<NodePoolHealth[]>().default("[]"),
  },
});
export type KubernetesClusterHealth = InferEntity<typeof KubernetesClusterHealth>;

/** One decision of the autoscaler on a pool: started (with its operation) or refused (with the
 * reason), and the reported figures it acted on. Kept with the cluster; the last one's time is
 * the pool's cool-down. */
export const KubernetesNodePoolScalingEvent = defineEntity({
  name: "KubernetesNodePoolScalingEvent",
  tableName: "kubernetes_node_pool_scaling_event",
  indexes: [{ properties: ["nodePoolId", "createTime"] }, { properties: ["tenantId", "id"] }],
  properties: {
    ...resourceProperties(),
    tenantId: () => p.manyToOne(Tenant).mapToPk().fieldName("tenant_id"),
    clusterId: () => p.manyToOne(KubernetesCluster).mapToPk().fieldName("cluster_id").deleteRule("cascade"),
    nodePoolId: p.uuid(),
    fromNodeCount: p.integer(),
    toNodeCount: p.integer(),
    reason: p.string().length(32).$type<ScalingReason>(),
    unschedulablePodCount: p.integer(),
    removedNodeIds: p.json<string[]>().default("[]"),
    observeTime: p.datetime(),
    outcome: p.string().length(16).$type<ScalingOutcome>(),
    refusedReason: p.string().length(64).default(""),
    message: p.text().default(""),
    operationId: p.uuid().nullable(),
  },
});
export type KubernetesNodePoolScalingEvent = InferEntity<typeof KubernetesNodePoolScalingEvent>;
