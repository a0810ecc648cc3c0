// Plugins on Kubernetes clusters (K8S-8): the catalogue's versions, which Kubernetes releases each
// supports, and the rules an install, an upgrade of the plugin or an upgrade of its cluster must
// keep. Pure: app/kubernetes/addons/plugins.ts applies them under the rows' locks.
import { FailedPreconditionError, InvalidArgumentError } from "./errors.js";
import { parseKubernetesVersion } from "./kubernetes.js";

export const pluginVersionStatuses = ["AVAILABLE", "WITHDRAWN"] as const;
export type PluginVersionStatus = (typeof pluginVersionStatuses)[number];

export const clusterPluginStatuses = ["INSTALLING", "ACTIVE", "INACTIVE", "ERROR", "UPGRADING", "UNINSTALLING"] as const;
export type ClusterPluginStatus = (typeof clusterPluginStatuses)[number];

/** A plugin installed on a cluster. */
export interface ClusterPlugin {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly clusterId: string;
  readonly tenantId: string;
  readonly pluginId: string;
  readonly plugin: string;
  readonly pluginVersion: string;
  readonly targetVersion: string;
  readonly status: ClusterPluginStatus;
  readonly statusMessage: string;
  readonly statusTime: Date;
  readonly activeOperationId?: string | null;
}

/** One release of a catalogue plugin. */
export interface PluginVersion {
  readonly version: string;
  readonly status: PluginVersionStatus;
  /** "1.31" (every patch of the minor) or "1.31.4" (that release). */
  readonly kubernetesVersions: readonly string[];
}

/** A catalogue plugin as the rules need it. */
/** A catalogue plugin and version chosen for a cluster (at its creation, or in a template). */
export interface PluginChoice {
  readonly plugin: string;
  readonly version: string;
}

export interface CataloguePlugin {
  readonly id: string;
  readonly name: string;
  readonly versions: readonly PluginVersion[];
}

/** Whether a plugin version runs on a Kubernetes release: an entry "1.31" takes every 1.31.x, an
 * entry "1.31.4" that release only. */
export function supportsKubernetesVersion(supported: readonly string[], kubernetesVersion: string): boolean {
  const release = parseKubernetesVersion(kubernetesVersion);
  if (!release) return false;
  return supported.some((entry) => {
    const [major, minor, patch] = entry.split(".").map(Number);
    return major === release.major && minor === release.minor && (patch === undefined || patch === release.patch);
  });
}

/**
 * The catalogue version a cluster on `kubernetesVersion` may install or move to: it must exist
 * (PLUGIN_VERSION_UNKNOWN), be AVAILABLE (PLUGIN_VERSION_WITHDRAWN) and support the cluster's
 * release (PLUGIN_VERSION_INCOMPATIBLE, naming both versions). `field` names the request's field.
 */
export function requireInstallableVersion(
  plugin: CataloguePlugin,
  version: string,
  kubernetesVersion: string,
  field: string,
): PluginVersion {
  const entry = plugin.versions.find((candidate) => candidate.version === version);
  if (!entry) {
    throw new InvalidArgumentError(
      "PLUGIN_VERSION_UNKNOWN",
      `plugin ${plugin.name} has no version ${version} in the catalogue (it has ${plugin.versions.map((v) => v.version).join(", ") || "none"})`,
      [{ field, description: `a version of ${plugin.name} in the catalogue` }],
    );
  }
  if (entry.status === "WITHDRAWN") {
    throw new FailedPreconditionError("PLUGIN_VERSION_WITHDRAWN", `${plugin.name} ${version} is withdrawn: install another version`, {
      plugin: plugin.name,
      plugin_version: version,
    });
  }
  requireSupports(plugin.name, entry, kubernetesVersion);
  return entry;
}

/** PLUGIN_VERSION_INCOMPATIBLE unless the plugin version runs on the Kubernetes release. */
export function requireSupports(pluginName: string, entry: PluginVersion, kubernetesVersion: string): void {
  if (supportsKubernetesVersion(entry.kubernetesVersions, kubernetesVersion)) return;
  throw new FailedPreconditionError(
    "PLUGIN_VERSION_INCOMPATIBLE",
    `${pluginName} ${entry.version} does not support Kubernetes ${kubernetesVersion} (it supports ${entry.kubernetesVersions.join(", ")})`,
    { plugin: pluginName, plugin_version: entry.version, kubernetes_version: kubernetesVersion },
  );
}

/** A cluster takes plugin changes only while ACTIVE: not while a workflow of its own runs (an upgrade
 * changes the version the plugins were checked against), nor while an admin's mark stands. */
export function requirePluginChangeAllowed(cluster: { readonly id: string; readonly status: string }): void {
  if (cluster.status === "ACTIVE") return;
  if (cluster.status === "MAINTENANCE" || cluster.status === "OFFLINE") {
    throw new FailedPreconditionError(
      "CLUSTER_MARKED",
      `cluster ${cluster.id} is marked ${cluster.status}: it takes no plugin change until an admin marks it ACTIVE`,
      { cluster_id: cluster.id, status: cluster.status },
    );
  }
  throw new FailedPreconditionError(
    "INVALID_STATE",
    `cluster ${cluster.id} is ${cluster.status}: plugins are installed, upgraded and uninstalled on ACTIVE clusters`,
    { cluster_id: cluster.id, status: cluster.status, allowed_statuses: "ACTIVE" },
  );
}

/** An installed plugin takes an upgrade or an uninstall when no operation runs on it and it is
 * installed (ACTIVE, INACTIVE, or ERROR after a failure). */
export function requirePluginIdle(plugin: {
  readonly id: string;
  readonly status: ClusterPluginStatus;
  readonly activeOperationId?: string | null;
}): void {
  if (plugin.activeOperationId) {
    throw new FailedPreconditionError(
      "OPERATION_IN_PROGRESS",
      `plugin ${plugin.id} has operation ${plugin.activeOperationId} under way; wait for it or cancel it`,
      { kubernetes_cluster_plugin_id: plugin.id, operation_id: plugin.activeOperationId, status: plugin.status },
    );
  }
}

/** What an agent may report of an installed plugin outside a job, with its message. */
export function observedPluginStatus(status: ClusterPluginStatus, message: string): ClusterPluginStatus {
  if (status !== "ACTIVE" && status !== "INACTIVE" && status !== "ERROR") {
    throw new InvalidArgumentError("STATUS_NOT_REPORTABLE", `an agent reports a plugin ACTIVE, INACTIVE or ERROR, not ${status}`, [
      { field: "status", description: "ACTIVE, INACTIVE or ERROR" },
    ]);
  }
  if (status !== "ACTIVE" && message.trim() === "") {
    throw new InvalidArgumentError("STATUS_MESSAGE_REQUIRED", `a plugin reported ${status} needs the agent's message`, [
      { field: "message", description: "what the agent sees" },
    ]);
  }
  return status;
}
