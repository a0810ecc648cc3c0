// Kubernetes messages ⇄ domain values. The wire's zero values ("", 0, UNSPECIFIED, an unset
// message, an empty list or map) mean "not set" in a spec draft, so a request overrides only what
// it sets (mergeClusterSpec) and a template keeps only what it was given.
import { create } from "@bufbuild/protobuf";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import {
  KubernetesClusterSchema,
  KubernetesClusterStatus,
  KubernetesClusterTemplateSchema,
  KubernetesCni,
  KubernetesNodeRole,
  KubernetesNodeSchema,
  NodePoolSchema,
  KubernetesVersionSchema,
  KubernetesVersionStatus,
  StorageProvisioner,
  TaintEffect,
  type KubernetesControlPlane,
  type KubernetesNetwork,
  type KubernetesStorageClass,
  type NodePool,
} from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import type { ClusterView, KubernetesCluster, NodePool as ClusterNodePool } from "../app/kubernetes/cluster-queries.js";
import type { KubernetesClusterTemplate } from "../app/kubernetes/templates.js";
import type { KubernetesVersion } from "../app/kubernetes/versions.js";
import { etagOf } from "../domain/etag.js";
import type {
  ClusterSpecDraft,
  KubernetesCni as DomainCni,
  KubernetesVersionStatus as DomainVersionStatus,
  NodePoolDraft,
  StorageClassSpec,
  StorageProvisioner as DomainProvisioner,
  TaintEffect as DomainTaintEffect,
} from "../domain/kubernetes.js";
import type { ClusterHealth } from "../domain/cluster-health.js";
import { clusterHealthMessage } from "./cluster-health-mapping.js";
import { timestamp } from "./convert.js";
import { associationMessage, clusterPluginMessage } from "./kubernetes-addon-service.js";

export function versionMessage(version: KubernetesVersion) {
  return create(KubernetesVersionSchema, {
    id: version.id,
    version: version.kubernetesVersion,
    status: KubernetesVersionStatus[version.status],
    description: version.description,
    etag: etagOf(version.version),
    createTime: timestamp(version.createTime),
    updateTime: timestamp(version.updateTime),
  });
}

/** UNSPECIFIED on Create means SUPPORTED. */
export function versionStatus(status: KubernetesVersionStatus): DomainVersionStatus {
  return status === KubernetesVersionStatus.UNSPECIFIED ? "SUPPORTED" : (KubernetesVersionStatus[status] as DomainVersionStatus);
}

export function templateMessage(template: KubernetesClusterTemplate) {
  return create(KubernetesClusterTemplateSchema, {
    id: template.id,
    name: template.name,
    description: template.description,
    tenantId: template.tenantId ?? "",
    ...specMessageParts({ version: template.kubernetesVersion ?? undefined, ...template.spec }),
    plugins: (template.spec.plugins ?? []).map((choice) => ({ plugin: choice.plugin, version: choice.version })),
    revision: template.version,
    etag: etagOf(template.version),
    createTime: timestamp(template.createTime),
    updateTime: timestamp(template.updateTime),
  });
}

/** The parts of a cluster or template message that make its spec. */
export interface SpecMessage {
  readonly version: string;
  readonly controlPlane?: KubernetesControlPlane | undefined;
  readonly nodePools: readonly NodePool[];
  readonly network?: KubernetesNetwork | undefined;
  readonly storageClasses: readonly KubernetesStorageClass[];
  readonly labels: Readonly<Record<string, string>>;
}

export function draftFromMessage(message: SpecMessage): ClusterSpecDraft {
  return {
    version: unset(message.version),
    controlPlane: message.controlPlane ? controlPlaneDraft(message.controlPlane) : undefined,
    nodePools: message.nodePools.length > 0 ? message.nodePools.map(nodePoolDraft) : undefined,
    network: message.network ? networkDraft(message.network) : undefined,
    storageClasses: message.storageClasses.length > 0 ? message.storageClasses.map(storageClassSpec) : undefined,
    labels: Object.keys(message.labels).length > 0 ? { ...message.labels } : undefined,
  };
}

export function controlPlaneDraft(message: KubernetesControlPlane): ClusterSpecDraft["controlPlane"] {
  return {
    count: message.count === 0 ? undefined : message.count,
    groupId: unset(message.groupId),
    specificationId: unset(message.specificationId),
    imageId: unset(message.imageId),
  };
}

export function networkDraft(message: KubernetesNetwork): ClusterSpecDraft["network"] {
  return {
    cni: message.cni === KubernetesCni.UNSPECIFIED ? undefined : (KubernetesCni[message.cni] as DomainCni),
    podCidr: unset(message.podCidr),
    serviceCidr: unset(message.serviceCidr),
  };
}

export function nodePoolDraft(message: NodePool): NodePoolDraft {
  return {
    name: message.name,
    groupId: unset(message.groupId),
    specificationId: unset(message.specificationId),
    imageId: unset(message.imageId),
    nodeCount: message.nodeCount === 0 ? undefined : message.nodeCount,
    autoscaling: message.autoscaling
      ? { minNodeCount: message.autoscaling.minNodeCount, maxNodeCount: message.autoscaling.maxNodeCount }
      : undefined,
    labels: Object.keys(message.labels).length > 0 ? { ...message.labels } : undefined,
    taints:
      message.taints.length > 0
        ? message.taints.map((taint) => ({ key: taint.key, value: taint.value, effect: TaintEffect[taint.effect] as DomainTaintEffect }))
        : undefined,
    upgradeStrategy: message.upgradeStrategy
      ? { maxSurge: message.upgradeStrategy.maxSurge, maxUnavailable: message.upgradeStrategy.maxUnavailable }
      : undefined,
  };
}

export function storageClassSpec(message: KubernetesStorageClass): StorageClassSpec {
  return {
    name: message.name,
    provisioner: StorageProvisioner[message.provisioner] as DomainProvisioner,
    parameters: { ...message.parameters },
    isDefault: message.isDefault,
  };
}

/** A spec draft as message fields: whatever it leaves out stays the zero value. */
export function specMessageParts(draft: ClusterSpecDraft) {
  const { controlPlane, network } = draft;
  return {
    version: draft.version ?? "",
    controlPlane: controlPlane
      ? {
          count: controlPlane.count ?? 0,
          groupId: controlPlane.groupId ?? "",
          specificationId: controlPlane.specificationId ?? "",
          imageId: controlPlane.imageId ?? "",
        }
      : undefined,
    nodePools: (draft.nodePools ?? []).map((pool) => ({
      name: pool.name,
      groupId: pool.groupId ?? "",
      specificationId: pool.specificationId ?? "",
      imageId: pool.imageId ?? "",
      nodeCount: pool.nodeCount ?? 0,
      autoscaling: pool.autoscaling,
      labels: { ...pool.labels },
      taints: (pool.taints ?? []).map((taint) => ({ key: taint.key, value: taint.value, effect: TaintEffect[taint.effect] })),
      upgradeStrategy: pool.upgradeStrategy,
    })),
    network: network
      ? {
          cni: network.cni ? KubernetesCni[network.cni] : KubernetesCni.UNSPECIFIED,
          podCidr: network.podCidr ?? "",
          serviceCidr: network.serviceCidr ?? "",
        }
      : undefined,
    storageClasses: (draft.storageClasses ?? []).map((storageClass) => ({
      name: storageClass.name,
      provisioner: StorageProvisioner[storageClass.provisioner],
      parameters: { ...storageClass.parameters },
      isDefault: storageClass.isDefault,
    })),
    labels: { ...draft.labels },
  };
}

function unset(value: string): string | undefined {
  return value === "" ? undefined : value;
}

/** A cluster with its pools (a List item, or the cluster part of Get). */
export function clusterMessage({
  cluster,
  nodePools,
  health,
}: {
  cluster: KubernetesCluster;
  nodePools: readonly ClusterNodePool[];
  health?: ClusterHealth | undefined;
}) {
  return create(KubernetesClusterSchema, {
    id: cluster.id,
    name: cluster.name,
    description: cluster.description,
    tenantId: cluster.tenantId,
    version: cluster.kubernetesVersion,
    controlPlane: {
      count: cluster.controlPlaneCount,
      groupId: cluster.controlPlaneGroupId,
      specificationId: cluster.controlPlaneSpecificationId,
      imageId: cluster.controlPlaneImageId,
    },
    nodePools: nodePools.map(nodePoolMessage),
    network: { cni: KubernetesCni[cluster.cni], podCidr: cluster.podCidr, serviceCidr: cluster.serviceCidr },
    storageClasses: cluster.storageClasses.map((storageClass) => ({
      name: storageClass.name,
      provisioner: StorageProvisioner[storageClass.provisioner],
      parameters: { ...storageClass.parameters },
      isDefault: storageClass.isDefault,
    })),
    endpoint: cluster.endpoint,
    status: KubernetesClusterStatus[cluster.status],
    statusReason: cluster.statusReason,
    statusTime: timestamp(cluster.statusTime),
    labels: { ...cluster.labels },
    templateId: cluster.templateId ?? "",
    templateRevision: cluster.templateRevision ?? 0,
    activeOperationId: cluster.activeOperationId ?? "",
    etag: etagOf(cluster.version),
    createTime: timestamp(cluster.createTime),
    updateTime: timestamp(cluster.updateTime),
    ...(health ? { health: clusterHealthMessage(health) } : {}),
  });
}

export function nodePoolMessage(pool: ClusterNodePool) {
  return create(NodePoolSchema, {
    id: pool.id,
    clusterId: pool.clusterId,
    name: pool.name,
    groupId: pool.groupId,
    specificationId: pool.specificationId,
    imageId: pool.imageId,
    nodeCount: pool.nodeCount,
    ...(pool.autoscalingMinNodeCount !== null && pool.autoscalingMinNodeCount !== undefined
      ? { autoscaling: { minNodeCount: pool.autoscalingMinNodeCount, maxNodeCount: pool.autoscalingMaxNodeCount ?? 0 } }
      : {}),
    labels: { ...pool.labels },
    taints: pool.taints.map((taint) => ({ key: taint.key, value: taint.value, effect: TaintEffect[taint.effect] })),
    upgradeStrategy: { maxSurge: pool.maxSurge, maxUnavailable: pool.maxUnavailable },
    version: pool.kubernetesVersion,
    etag: etagOf(pool.version),
    createTime: timestamp(pool.createTime),
    updateTime: timestamp(pool.updateTime),
  });
}

/** GetKubernetesCluster's answer: the cluster, its tenant and every node. */
export function clusterViewMessage(view: ClusterView) {
  return {
    cluster: clusterMessage(view),
    tenant: { id: view.cluster.tenantId, name: view.tenantName },
    nodes: view.nodes.map((node) =>
      create(KubernetesNodeSchema, {
        virtualMachineId: node.virtualMachineId,
        name: node.name,
        nodePoolId: node.nodePoolId,
        role: node.role === "CONTROL_PLANE" ? KubernetesNodeRole.CONTROL_PLANE : KubernetesNodeRole.WORKER,
        baremetal: { id: node.baremetalId, name: node.baremetalName },
        state: VirtualMachineState[node.state as keyof typeof VirtualMachineState],
        version: node.kubernetesVersion,
      }),
    ),
    plugins: view.plugins.map(clusterPluginMessage),
    bastions: view.bastions.map(associationMessage),
  };
}
