// rackplane.v1.KubernetesAddonService: the plugin catalogue and plugins installed on clusters
// (K8S-8), bastions' associations with clusters (K8S-10). Maps requests to use cases and results back; no rules here (docs/kubernetes-addons.md).
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import {
  BastionAssociationSchema,
  KubernetesClusterPluginSchema,
  KubernetesClusterPluginStatus,
  KubernetesPluginSchema,
  KubernetesPluginVersionStatus,
  type KubernetesAddonService,
  type KubernetesPluginVersion as PluginVersionMessage,
} from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import type { Database } from "../app/database.js";
import * as bastions from "../app/kubernetes/addons/bastions.js";
import * as clusterPlugins from "../app/kubernetes/addons/cluster-plugins.js";
import * as catalogue from "../app/kubernetes/addons/plugin-catalogue.js";
import type { ClusterPluginStatus, PluginVersion } from "../domain/kubernetes-plugins.js";
import { etagOf } from "../domain/etag.js";
import { callContext, listRequest, resourceFields, timestamp } from "./convert.js";
import { operationMessage } from "./operation-mapping.js";
import { at, byId, creates, reads, type TargetRules } from "./request-targets.js";
import { standardHandlers, standardTargets } from "./standard-handlers.js";

export function kubernetesAddonService(db: Database): ServiceImpl<typeof KubernetesAddonService> {
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
