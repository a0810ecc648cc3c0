// rackplane.v1.KubernetesAddonService: the plugin catalogue and plugins installed on clusters
// (K8S-8), bastions' associations with clusters (K8S-10), service meshes and their bindings (K8S-9). Maps requests to use cases and results back; no rules here (docs/kubernetes-addons.md).
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import {
  BastionAssociationSchema,
  KubernetesClusterPluginSchema,
  KubernetesClusterPluginStatus,
  KubernetesPluginSchema,
  KubernetesPluginVersionStatus,
  ServiceMeshBindingSchema,
  ServiceMeshBindingStatus,
  ServiceMeshRole,
  ServiceMeshSchema,
  ServiceMeshStatus,
  ServiceMeshType,
  type KubernetesAddonService,
  type KubernetesPluginVersion as PluginVersionMessage,
} from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import type { Database } from "../app/database.js";
import * as autoscaler from "../app/kubernetes/addons/autoscaler.js";
import * as bastions from "../app/kubernetes/addons/bastions.js";
import * as clusterHealth from "../app/kubernetes/addons/cluster-health.js";
import * as clusterPlugins from "../app/kubernetes/addons/cluster-plugins.js";
import * as meshes from "../app/kubernetes/addons/meshes.js";
import * as catalogue from "../app/kubernetes/addons/plugin-catalogue.js";
import type { ClusterPluginStatus, PluginVersion } from "../domain/kubernetes-plugins.js";
import type { MeshBindingStatus, ServiceMeshRole as DomainMeshRole, ServiceMeshType as DomainMeshType } from "../domain/service-mesh.js";
import { etagOf } from "../domain/etag.js";
import { clusterHealthMessage, healthReport, scalingEventMessage } from "./cluster-health-mapping.js";
import { callContext, listRequest, resourceFields, timestamp } from "./convert.js";
import { operationMessage } from "./operation-mapping.js";
import { at, byId, creates, reads, type TargetRules } from "./request-targets.js";
import { standardHandlers, standardTargets } from "./standard-handlers.js";

export function kubernetesAddonService(
  db: Database,
  healthSettings: clusterHealth.ClusterHealthSettings,
  autoscalerSettings: autoscaler.AutoscalerSettings,
): ServiceImpl<typeof KubernetesAddonService> {
  return {
    ...standardHandlers(db, catalogue.plugins, {
      noun: "KubernetesPlugin",
      field: "plugin",
      listField: "plugins",
      message: pluginMessage,
      fields: (plugin) => ({ name: plugin.name, description: plugin.description, versions: plugin.versions.map(pluginVersion) }),
      // name is not here: installed plugins and agents know a plugin by it.
      updatable: (plugin) => ({
        description: () => ({ description: plugin.description }),
        versions: () => ({ versions: plugin.versions.map(pluginVersion) }),
      }),
    }),

    async installKubernetesClusterPlugin(req, ctx) {
      const choice = req.plugin!;
      const installed = await clusterPlugins.installPlugin(
        db,
        callContext(ctx),
        req.clusterId,
        { plugin: choice.plugin, version: choice.version },
        req.requestId,
      );
      return { plugin: clusterPluginMessage(installed.plugin), operation: operationMessage(installed.operation) };
    },
    async getKubernetesClusterPlugin(req, ctx) {
      return { plugin: clusterPluginMessage(await clusterPlugins.getPlugin(db, callContext(ctx), req.id)) };
    },
    async listKubernetesClusterPlugins(req, ctx) {
      const page = await clusterPlugins.listPlugins(db, callContext(ctx), listRequest(req));
      return { plugins: page.items.map(clusterPluginMessage), nextPageToken: page.nextPageToken };
    },
    async upgradeKubernetesClusterPlugin(req, ctx) {
      const upgraded = await clusterPlugins.upgradePlugin(db, callContext(ctx), req.id, req.version, req.etag);
      return { plugin: clusterPluginMessage(upgraded.plugin), operation: operationMessage(upgraded.operation) };
    },
    async uninstallKubernetesClusterPlugin(req, ctx) {
      return { operation: operationMessage(await clusterPlugins.uninstallPlugin(db, callContext(ctx), req.id, req.etag)) };
    },
    async reportKubernetesClusterPluginStatus(req, ctx) {
      const status = KubernetesClusterPluginStatus[req.status] as ClusterPluginStatus;
      return { plugin: clusterPluginMessage(await clusterPlugins.reportPluginStatus(db, callContext(ctx), req.id, status, req.message)) };
    },

    async createBastionAssociation(req, ctx) {
      const association = req.association!;
      const created = await bastions.createAssociation(
        db,
        callContext(ctx),
        { clusterId: association.clusterId, virtualMachineId: association.virtualMachineId },
        req.requestId,
      );
      return { association: associationMessage(created) };
    },
    async getBastionAssociation(req, ctx) {
      return { association: associationMessage(await bastions.getAssociation(db, callContext(ctx), req.id)) };
    },
    async listBastionAssociations(req, ctx) {
      const page = await bastions.listAssociations(db, callContext(ctx), listRequest(req));
      return { associations: page.items.map(associationMessage), nextPageToken: page.nextPageToken };
    },
    async deleteBastionAssociation(req, ctx) {
      await bastions.deleteAssociation(db, callContext(ctx), req.id, req.etag);
      return {};
    },

    async createServiceMesh(req, ctx) {
      const mesh = req.mesh!;
      const created = await meshes.createMesh(
        db,
        callContext(ctx),
        {
          tenantId: mesh.tenantId,
          name: mesh.name,
          type: ServiceMeshType[mesh.type] as DomainMeshType,
          meshVersion: mesh.version,
          description: mesh.description,
        },
        req.requestId,
      );
      return { mesh: meshMessage(created) };
    },
    async getServiceMesh(req, ctx) {
      return { mesh: meshMessage(await meshes.getMesh(db, callContext(ctx), req.id)) };
    },
    async listServiceMeshes(req, ctx) {
      const page = await meshes.listMeshes(db, callContext(ctx), listRequest(req));
      return { meshes: page.items.map(meshMessage), nextPageToken: page.nextPageToken };
    },
    async deleteServiceMesh(req, ctx) {
      await meshes.deleteMesh(db, callContext(ctx), req.id, req.etag);
      return {};
    },
    async bindClusterToServiceMesh(req, ctx) {
      const bound = await meshes.bindCluster(db, callContext(ctx), {
        meshId: req.meshId,
        clusterId: req.clusterId,
        role: ServiceMeshRole[req.role] as DomainMeshRole,
      });
      return { binding: bindingMessage(bound.binding), operation: operationMessage(bound.operation) };
    },
    async unbindClusterFromServiceMesh(req, ctx) {
      return { operation: operationMessage(await meshes.unbindCluster(db, callContext(ctx), req.id, req.etag)) };
    },
    async listServiceMeshBindings(req, ctx) {
      const page = await meshes.listBindings(db, callContext(ctx), listRequest(req));
      return { bindings: page.items.map(bindingMessage), nextPageToken: page.nextPageToken };
    },
    async reportServiceMeshBindingStatus(req, ctx) {
      const status = ServiceMeshBindingStatus[req.status] as MeshBindingStatus;
      return { binding: bindingMessage(await meshes.reportBindingStatus(db, callContext(ctx), req.id, status, req.message)) };
    },

    async reportKubernetesClusterHealth(req, ctx) {
      const result = await autoscaler.reportHealthAndAutoscale(
        db,
        callContext(ctx),
        req.clusterId,
        healthReport(req.health!),
        healthSettings,
        autoscalerSettings,
      );
      return { accepted: result.accepted, health: clusterHealthMessage(result.health) };
    },
    async listNodePoolScalingEvents(req, ctx) {
      const page = await autoscaler.listScalingEvents(db, callContext(ctx), { ...listRequest(req), orderBy: req.orderBy });
      return { events: page.items.map(scalingEventMessage), nextPageToken: page.nextPageToken };
    },
  };
}

export const kubernetesAddonTargets: TargetRules<typeof KubernetesAddonService> = {
  ...standardTargets(catalogue.plugins, "KubernetesPlugin", "plugin"),
  installKubernetesClusterPlugin: at("kubernetes_cluster", (request) => request.clusterId),
  getKubernetesClusterPlugin: reads,
  listKubernetesClusterPlugins: reads,
  upgradeKubernetesClusterPlugin: byId(clusterPlugins.CLUSTER_PLUGIN),
  uninstallKubernetesClusterPlugin: byId(clusterPlugins.CLUSTER_PLUGIN),
  reportKubernetesClusterPluginStatus: byId(clusterPlugins.CLUSTER_PLUGIN),
  createBastionAssociation: creates(bastions.BASTION_ASSOCIATION),
  getBastionAssociation: reads,
  listBastionAssociations: reads,
  deleteBastionAssociation: byId(bastions.BASTION_ASSOCIATION),
  createServiceMesh: creates(meshes.MESH),
  getServiceMesh: reads,
  listServiceMeshes: reads,
  deleteServiceMesh: byId(meshes.MESH),
  bindClusterToServiceMesh: at(meshes.MESH, (request) => request.meshId),
  unbindClusterFromServiceMesh: byId(meshes.MESH_BINDING),
  listServiceMeshBindings: reads,
  reportServiceMeshBindingStatus: byId(meshes.MESH_BINDING),
  reportKubernetesClusterHealth: at(clusterHealth.CLUSTER, (request) => request.clusterId),
  listNodePoolScalingEvents: reads,
};

// ---------------------------------------------------------------------------------------------
// Domain ⇄ proto

export function pluginMessage(plugin: catalogue.KubernetesPlugin) {
  return create(KubernetesPluginSchema, {
    id: plugin.id,
    name: plugin.name,
    description: plugin.description,
    versions: plugin.versions.map((entry) => ({
      version: entry.version,
      status: KubernetesPluginVersionStatus[entry.status],
      kubernetesVersions: [...entry.kubernetesVersions],
    })),
    ...resourceFields(plugin),
  });
}

/** UNSPECIFIED means AVAILABLE. */
function pluginVersion(message: PluginVersionMessage): PluginVersion {
  return {
    version: message.version,
    status: message.status === KubernetesPluginVersionStatus.WITHDRAWN ? "WITHDRAWN" : "AVAILABLE",
    kubernetesVersions: [...message.kubernetesVersions],
  };
}

export function clusterPluginMessage(plugin: clusterPlugins.ClusterPlugin) {
  return create(KubernetesClusterPluginSchema, {
    id: plugin.id,
    clusterId: plugin.clusterId,
    tenantId: plugin.tenantId,
    pluginId: plugin.pluginId,
    plugin: plugin.plugin,
    version: plugin.pluginVersion,
    targetVersion: plugin.targetVersion,
    status: KubernetesClusterPluginStatus[plugin.status],
    statusMessage: plugin.statusMessage,
    statusTime: timestamp(plugin.statusTime),
    activeOperationId: plugin.activeOperationId ?? "",
    etag: etagOf(plugin.version),
    createTime: timestamp(plugin.createTime),
    updateTime: timestamp(plugin.updateTime),
  });
}

export function associationMessage(association: bastions.BastionAssociation) {
  return create(BastionAssociationSchema, {
    id: association.id,
    clusterId: association.clusterId,
    virtualMachineId: association.virtualMachineId,
    tenantId: association.tenantId,
    clusterName: association.clusterName,
    virtualMachineName: association.virtualMachineName,
    virtualMachineState: VirtualMachineState[association.virtualMachineState],
    ipAddresses: [...association.ipAddresses],
    ...resourceFields(association),
  });
}

export function meshMessage(mesh: meshes.ServiceMesh) {
  return create(ServiceMeshSchema, {
    id: mesh.id,
    name: mesh.name,
    tenantId: mesh.tenantId,
    type: ServiceMeshType[mesh.type],
    version: mesh.meshVersion,
    status: mesh.status === "ACTIVE" ? ServiceMeshStatus.ACTIVE : ServiceMeshStatus.UNSPECIFIED,
    description: mesh.description,
    ...resourceFields(mesh),
  });
}

export function bindingMessage(binding: meshes.MeshBinding) {
  return create(ServiceMeshBindingSchema, {
    id: binding.id,
    meshId: binding.meshId,
    clusterId: binding.clusterId,
    tenantId: binding.tenantId,
    role: ServiceMeshRole[binding.role],
    status: ServiceMeshBindingStatus[binding.status],
    statusMessage: binding.statusMessage,
    activeOperationId: binding.activeOperationId ?? "",
    ...resourceFields(binding),
  });
}
