// What agents see inside clusters (K8S-11) and what the autoscaler decides from it (K8S-5):
// docs/kubernetes-health.md explains the choices.
import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type { ClusterTraffic, NodePoolHealth } from "../../domain/cluster-health.js";
import { KubernetesCluster } from "./kubernetes.js";

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
