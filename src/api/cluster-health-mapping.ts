// A cluster's health (K8S-11) ⇄ its messages: the report an agent sends, and the latest one as
// the cluster's view shows it; the autoscaler's events (K8S-5).
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  KubernetesClusterHealthSchema,
  NodePoolScalingEventSchema,
  NodePoolScalingOutcome,
  NodePoolScalingReason,
  type KubernetesClusterHealth,
} from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import type { ScalingEvent } from "../app/kubernetes/addons/autoscaler.js";
import type { ClusterHealth, ClusterHealthReport } from "../domain/cluster-health.js";
import { timestamp } from "./convert.js";

/** A report as the domain reads it; validation has required observe_time and each empty node's time. */
export function healthReport(message: KubernetesClusterHealth): ClusterHealthReport {
  return {
    observeTime: timestampDate(message.observeTime!),
    readyNodeCount: message.readyNodeCount,
    notReadyNodeCount: message.notReadyNodeCount,
    runningPodCount: message.runningPodCount,
    pendingPodCount: message.pendingPodCount,
    failedPodCount: message.failedPodCount,
    traffic: message.traffic
      ? {
          requestsPerSecond: message.traffic.requestsPerSecond,
          ingressBytesPerSecond: Number(message.traffic.ingressBytesPerSecond),
          egressBytesPerSecond: Number(message.traffic.egressBytesPerSecond),
        }
      : null,
    nodePools: message.nodePools.map((pool) => ({
      nodePoolId: pool.nodePoolId,
      unschedulablePodCount: pool.unschedulablePodCount,
      emptyNodes: pool.emptyNodes.map((node) => ({
        virtualMachineId: node.virtualMachineId,
        emptySince: timestampDate(node.emptySinceTime!),
      })),
    })),
  };
}

export function clusterHealthMessage(health: ClusterHealth) {
  return create(KubernetesClusterHealthSchema, {
    observeTime: timestamp(health.observeTime),
    readyNodeCount: health.readyNodeCount,
    notReadyNodeCount: health.notReadyNodeCount,
    runningPodCount: health.runningPodCount,
    pendingPodCount: health.pendingPodCount,
    failedPodCount: health.failedPodCount,
    ...(health.traffic
      ? {
          traffic: {
            requestsPerSecond: health.traffic.requestsPerSecond,
            ingressBytesPerSecond: BigInt(Math.round(health.traffic.ingressBytesPerSecond)),
            egressBytesPerSecond: BigInt(Math.round(health.traffic.egressBytesPerSecond)),
          },
        }
      : {}),
    nodePools: health.nodePools.map((pool) => ({
      nodePoolId: pool.nodePoolId,
      unschedulablePodCount: pool.unschedulablePodCount,
      emptyNodes: pool.emptyNodes.map((node) => ({ virtualMachineId: node.virtualMachineId, emptySinceTime: timestamp(node.emptySince) })),
    })),
    stale: health.stale,
    receiveTime: timestamp(health.receiveTime),
  });
}

export function scalingEventMessage(event: ScalingEvent) {
  return create(NodePoolScalingEventSchema, {
    id: event.id,
    nodePoolId: event.nodePoolId,
    clusterId: event.clusterId,
    tenantId: event.tenantId,
    fromNodeCount: event.fromNodeCount,
    toNodeCount: event.toNodeCount,
    reason: NodePoolScalingReason[event.reason],
    unschedulablePodCount: event.unschedulablePodCount,
    removedNodeIds: [...event.removedNodeIds],
    observeTime: timestamp(event.observeTime),
    outcome: NodePoolScalingOutcome[event.outcome],
    refusedReason: event.refusedReason,
    message: event.message,
    operationId: event.operationId ?? "",
    createTime: timestamp(event.createTime),
  });
}
