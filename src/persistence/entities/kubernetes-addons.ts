// What runs on and around Kubernetes clusters (issue 14): the plugin catalogue and each cluster's
// installed plugins (K8S-8), and bastion VMs' associations with clusters (K8S-10).
// docs/kubernetes-addons.md explains the choices.
import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type { ClusterPluginStatus, PluginVersion } from "../../domain/kubernetes-plugins.js";
import { resourceProperties } from "./common.js";
import { VirtualMachine } from "./compute.js";
import { KubernetesCluster } from "./kubernetes.js";
import { Tenant } from "./tenant.js";

/** A catalogue plugin. Its versions are one jsonb list: read and written whole with the plugin,
 * checked by the domain rules, never queried into. */
export const KubernetesPlugin = defineEntity({
  name: "KubernetesPlugin",
  properties: {
    ...resourceProperties(),
    name: p.string().length(63).unique(),
    description: p.text().default(""),
    versions: p.json<PluginVersion[]>().default("[]"),
  },
});
export type KubernetesPlugin = InferEntity<typeof KubernetesPlugin>;

/** A catalogue plugin installed on a cluster, once per cluster. The row goes with an uninstall
 * and with its cluster's deletion. */
export const KubernetesClusterPlugin = defineEntity({
  name: "KubernetesClusterPlugin",
  uniques: [{ properties: ["clusterId", "pluginId"] }],
  indexes: [{ properties: ["tenantId", "id"] }],
  properties: {
    ...resourceProperties(),
    clusterId: () => p.manyToOne(KubernetesCluster).mapToPk().fieldName("cluster_id").deleteRule("cascade"),
    tenantId: () => p.manyToOne(Tenant).mapToPk().fieldName("tenant_id"),
    pluginId: () => p.manyToOne(KubernetesPlugin).mapToPk().fieldName("plugin_id").index(),
    plugin: p.string().length(63),
    pluginVersion: p.string().length(64),
    targetVersion: p.string().length(64).default(""),
    status: p.string().length(16).$type<ClusterPluginStatus>(),
    statusMessage: p.text().default(""),
    statusTime: p.datetime(),
    activeOperationId: p.uuid().nullable(),
  },
});
export type KubernetesClusterPlugin = InferEntity<typeof KubernetesClusterPlugin>;

/** A BASTION-role VM serving a cluster of its tenant. The row goes when either is deleted. */
export const BastionClusterAssociation = defineEntity({
  name: "BastionClusterAssociation",
  uniques: [{ properties: ["clusterId", "virtualMachineId"] }],
  indexes: [{ properties: ["tenantId", "id"] }],
  properties: {
    ...resourceProperties(),
    tenantId: () => p.manyToOne(Tenant).mapToPk().fieldName("tenant_id"),
    clusterId: () => p.manyToOne(KubernetesCluster).mapToPk().fieldName("cluster_id").deleteRule("cascade"),
    virtualMachineId: () => p.manyToOne(VirtualMachine).mapToPk().fieldName("virtual_machine_id").deleteRule("cascade").index(),
  },
});
export type BastionClusterAssociation = InferEntity<typeof BastionClusterAssociation>;
