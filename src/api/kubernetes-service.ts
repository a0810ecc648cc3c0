// rackplane.v1.KubernetesService: the catalogue of versions and cluster templates, and the clusters
// (create, read, delete, status marks, kubeconfigs) and their node pools (create, scale, settings,
// delete); rolling upgrades are still to come (docs/kubernetes.md). Maps requests to use cases and results back.
import type { ServiceImpl } from "@connectrpc/connect";
import type { KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { KubernetesClusterStatus, KubernetesVersionStatus } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import type { Database } from "../app/database.js";
import type { ClusterHealthSettings } from "../app/kubernetes/addons/cluster-health.js";
import * as clusters from "../app/kubernetes/clusters.js";
import * as nodePools from "../app/kubernetes/node-pools.js";
import { getCluster, listClusters } from "../app/kubernetes/cluster-queries.js";
import type { SecretBox } from "../app/kubernetes/secret-box.js";
import * as templates from "../app/kubernetes/templates.js";
import { retryClusterOperation } from "../app/kubernetes/retries.js";
import { upgradeCluster } from "../app/kubernetes/upgrades.js";
import * as versions from "../app/kubernetes/versions.js";
import {
  defaultUpgradeStrategy,
  type KubernetesClusterStatus as DomainClusterStatus,
  type KubernetesVersionStatus as DomainVersionStatus,
} from "../domain/kubernetes.js";
import { callContext, listRequest, maskedPatch, required, timestamp } from "./convert.js";
import {
  clusterMessage,
  clusterViewMessage,
  controlPlaneDraft,
  draftFromMessage,
  networkDraft,
  nodePoolDraft,
  nodePoolMessage,
  storageClassSpec,
  templateMessage,
  versionMessage,
  versionStatus,
} from "./kubernetes-mapping.js";
import { operationMessage } from "./operation-mapping.js";
import { at, byId, creates, reads, type TargetRules } from "./request-targets.js";

export function kubernetesService(
  db: Database,
  secrets: SecretBox,
  clusterHealth: ClusterHealthSettings,
): ServiceImpl<typeof KubernetesService> {
  return {
    async createKubernetesVersion(req, ctx) {
      const version = req.version!;
      const created = await versions.createVersion(
        db,
        callContext(ctx),
        { kubernetesVersion: version.version, status: versionStatus(version.status), description: version.description },
        req.requestId,
      );
      return { version: versionMessage(created) };
    },
    async getKubernetesVersion(req, ctx) {
      return { version: versionMessage(await versions.getVersion(db, callContext(ctx), req.id)) };
    },
    async listKubernetesVersions(req, ctx) {
      const page = await versions.listVersions(db, callContext(ctx), listRequest(req));
      return { versions: page.items.map(versionMessage), nextPageToken: page.nextPageToken };
    },
    async updateKubernetesVersion(req, ctx) {
      const version = req.version!;
      // version is not here: a release is what it is; add another entry instead.
      const patch = maskedPatch<versions.KubernetesVersionPatch>(req.updateMask, {
        // A status can be changed, not cleared: UNSPECIFIED is refused rather than read as SUPPORTED.
        status: () => ({ status: KubernetesVersionStatus[required("version.status", version.status)] as DomainVersionStatus }),
        description: () => ({ description: version.description }),
      });
      return { version: versionMessage(await versions.updateVersion(db, callContext(ctx), version.id, version.etag, patch)) };
    },
    async deleteKubernetesVersion(req, ctx) {
      await versions.deleteVersion(db, callContext(ctx), req.id, req.etag);
      return {};
    },

    async createKubernetesClusterTemplate(req, ctx) {
      const template = req.template!;
      const { version, ...spec } = draftFromMessage(template);
      const plugins = template.plugins.map((choice) => ({ plugin: choice.plugin, version: choice.version }));
      const created = await templates.createTemplate(
        db,
        callContext(ctx),
        {
          name: template.name,
          description: template.description,
          tenantId: template.tenantId || null,
          kubernetesVersion: version ?? null,
          spec: plugins.length > 0 ? { ...spec, plugins } : spec,
        },
        req.requestId,
      );
      return { template: templateMessage(created) };
    },
    async getKubernetesClusterTemplate(req, ctx) {
      return { template: templateMessage(await templates.getTemplate(db, callContext(ctx), req.id)) };
    },
    async listKubernetesClusterTemplates(req, ctx) {
      const page = await templates.listTemplates(db, callContext(ctx), listRequest(req));
      return { templates: page.items.map(templateMessage), nextPageToken: page.nextPageToken };
    },
    async updateKubernetesClusterTemplate(req, ctx) {
      const template = req.template!;
      // tenant_id is not here: a template's owner is fixed.
      const patch = maskedPatch<templates.TemplatePatch>(req.updateMask, {
        name: () => ({ name: required("template.name", template.name) }),
        description: () => ({ description: template.description }),
        version: () => ({ version: template.version || undefined }),
        control_plane: () => ({ controlPlane: template.controlPlane ? controlPlaneDraft(template.controlPlane) : undefined }),
        node_pools: () => ({ nodePools: template.nodePools.length > 0 ? template.nodePools.map(nodePoolDraft) : undefined }),
        network: () => ({ network: template.network ? networkDraft(template.network) : undefined }),
        storage_classes: () => ({
          storageClasses: template.storageClasses.length > 0 ? template.storageClasses.map(storageClassSpec) : undefined,
        }),
        labels: () => ({ labels: Object.keys(template.labels).length > 0 ? { ...template.labels } : undefined }),
        plugins: () => ({
          plugins:
            template.plugins.length > 0
              ? template.plugins.map((choice) => ({ plugin: choice.plugin, version: choice.version }))
              : undefined,
        }),
      });
      return { template: templateMessage(await templates.updateTemplate(db, callContext(ctx), template.id, template.etag, patch)) };
    },
    async deleteKubernetesClusterTemplate(req, ctx) {
      await templates.deleteTemplate(db, callContext(ctx), req.id, req.etag);
      return {};
    },

    async createKubernetesCluster(req, ctx) {
      const cluster = req.cluster!;
      const created = await clusters.createCluster(
        db,
        callContext(ctx),
        secrets,
        {
          name: cluster.name,
          description: cluster.description,
          tenantId: cluster.tenantId,
          draft: draftFromMessage(cluster),
          templateId: req.templateId || null,
          plugins: req.plugins.map((choice) => ({ plugin: choice.plugin, version: choice.version })),
        },
        req.requestId,
        clusterHealth,
      );
      return { cluster: clusterMessage(created.cluster), operation: operationMessage(created.operation) };
    },
    async getKubernetesCluster(req, ctx) {
      return clusterViewMessage(await getCluster(db, callContext(ctx), req.id, clusterHealth));
    },
    async listKubernetesClusters(req, ctx) {
      const page = await listClusters(db, callContext(ctx), listRequest(req), clusterHealth);
      return { clusters: page.items.map(clusterMessage), nextPageToken: page.nextPageToken };
    },
    async updateKubernetesCluster(req, ctx) {
      const cluster = req.cluster!;
      const patch = maskedPatch<clusters.ClusterPatch>(req.updateMask, {
        description: () => ({ description: cluster.description }),
        labels: () => ({ labels: { ...cluster.labels } }),
      });
      return {
        cluster: clusterMessage(await clusters.updateCluster(db, callContext(ctx), cluster.id, cluster.etag, patch, clusterHealth)),
      };
    },
    async deleteKubernetesCluster(req, ctx) {
      return { operation: operationMessage(await clusters.deleteCluster(db, callContext(ctx), req.id, req.etag)) };
    },
    async setKubernetesClusterStatus(req, ctx) {
      const call = callContext(ctx);
      const status = KubernetesClusterStatus[req.status] as DomainClusterStatus;
      if (call.principal.role === "AGENT") {
        return { cluster: clusterMessage(await clusters.reportClusterStatus(db, call, req.id, status, req.reason, clusterHealth)) };
      }
      return { cluster: clusterMessage(await clusters.markClusterStatus(db, call, req.id, status, req.reason, req.etag, clusterHealth)) };
    },
    async createNodePool(req, ctx) {
      const pool = req.nodePool!;
      const created = await nodePools.createNodePool(
        db,
        callContext(ctx),
        req.clusterId,
        { ...nodePoolDraft(pool), groupId: pool.groupId, specificationId: pool.specificationId, imageId: pool.imageId },
        req.requestId,
      );
      return { nodePool: nodePoolMessage(created.pool), operation: created.operation && operationMessage(created.operation) };
    },
    async updateNodePool(req, ctx) {
      const pool = req.nodePool!;
      // Name, placement, labels and taints are fixed once the pool is built.
      const patch = maskedPatch<nodePools.NodePoolPatch>(req.updateMask, {
        node_count: () => ({ nodeCount: pool.nodeCount }),
        autoscaling: () => ({
          autoscaling: pool.autoscaling
            ? { minNodeCount: pool.autoscaling.minNodeCount, maxNodeCount: pool.autoscaling.maxNodeCount }
            : null,
        }),
        upgrade_strategy: () => ({
          upgradeStrategy: pool.upgradeStrategy
            ? { maxSurge: pool.upgradeStrategy.maxSurge, maxUnavailable: pool.upgradeStrategy.maxUnavailable }
            : defaultUpgradeStrategy,
        }),
      });
      const updated = await nodePools.updateNodePool(db, callContext(ctx), pool.id, pool.etag, patch);
      return { nodePool: nodePoolMessage(updated.pool), operation: updated.operation && operationMessage(updated.operation) };
    },
    async deleteNodePool(req, ctx) {
      return { operation: operationMessage(await nodePools.deleteNodePool(db, callContext(ctx), req.id, req.etag)) };
    },
    async upgradeKubernetesCluster(req, ctx) {
      return { operation: operationMessage(await upgradeCluster(db, callContext(ctx), req.id, req.version, req.etag)) };
    },
    async retryKubernetesClusterOperation(req, ctx) {
      return { operation: operationMessage(await retryClusterOperation(db, callContext(ctx), req.clusterId, req.etag)) };
    },
    async issueKubeconfig(req, ctx) {
      const ttlMillis = req.ttl ? Number(req.ttl.seconds) * 1000 + Math.floor(req.ttl.nanos / 1e6) : undefined;
      const issued = await clusters.issueClusterKubeconfig(db, callContext(ctx), secrets, req.clusterId, ttlMillis);
      return { kubeconfig: issued.kubeconfig, expireTime: timestamp(issued.expireTime), serialNumber: issued.serialNumber };
    },
  };
}

export const kubernetesTargets: TargetRules<typeof KubernetesService> = {
  createKubernetesVersion: creates("kubernetes_version"),
  getKubernetesVersion: reads,
  listKubernetesVersions: reads,
  updateKubernetesVersion: at("kubernetes_version", (request) => request.version?.id),
  deleteKubernetesVersion: byId("kubernetes_version"),
  createKubernetesClusterTemplate: creates("kubernetes_cluster_template"),
  getKubernetesClusterTemplate: reads,
  listKubernetesClusterTemplates: reads,
  updateKubernetesClusterTemplate: at("kubernetes_cluster_template", (request) => request.template?.id),
  deleteKubernetesClusterTemplate: byId("kubernetes_cluster_template"),
  createKubernetesCluster: creates("kubernetes_cluster"),
  getKubernetesCluster: reads,
  listKubernetesClusters: reads,
  updateKubernetesCluster: at("kubernetes_cluster", (request) => request.cluster?.id),
  deleteKubernetesCluster: byId("kubernetes_cluster"),
  setKubernetesClusterStatus: byId("kubernetes_cluster"),
  createNodePool: at("kubernetes_cluster", (request) => request.clusterId),
  updateNodePool: at("kubernetes_node_pool", (request) => request.nodePool?.id),
  deleteNodePool: byId("kubernetes_node_pool"),
  upgradeKubernetesCluster: byId("kubernetes_cluster"),
  retryKubernetesClusterOperation: at("kubernetes_cluster", (request) => request.clusterId),
  issueKubeconfig: at("kubernetes_cluster", (request) => request.clusterId),
};
