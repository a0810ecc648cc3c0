// The plugin catalogue (K8S-8): plugins (metrics-server, ingress-nginx, cert-manager, argo-cd) and
// their versions, each AVAILABLE or WITHDRAWN, with the Kubernetes releases it supports. Platform
// admins write it; every principal but agents reads it. A declared standard resource: its one rule
// of its own is that a plugin installed on a cluster cannot be deleted (withdraw its versions).
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError } from "../../../domain/errors.js";
import { field, resourceTimes } from "../../../domain/filter-schema.js";
import type { CataloguePlugin, PluginVersion } from "../../../domain/kubernetes-plugins.js";
import { inventoryReaders, requireRole } from "../../../domain/principal.js";
import { KubernetesPlugin as PluginEntity } from "../../../persistence/entities/index.js";
import { standardResource } from "../../standard-resource.js";

export const PLUGIN = "kubernetes_plugin";

export interface KubernetesPluginFields {
  readonly name: string;
  readonly description: string;
  readonly versions: readonly PluginVersion[];
}

export interface KubernetesPlugin extends KubernetesPluginFields {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

/** The name is fixed: installed plugins and agents' payloads carry it. */
export const plugins = standardResource<KubernetesPlugin, KubernetesPluginFields, Omit<KubernetesPluginFields, "name">>({
  type: PLUGIN,
  entity: PluginEntity as never,
  filter: { name: field.string("name"), description: field.string("description"), ...resourceTimes },
  access: {
    read: (principal) => requireRole(principal, inventoryReaders, "read the Kubernetes plugin catalogue"),
    write: (principal) => requireRole(principal, ["PLATFORM_ADMIN"], "change the Kubernetes plugin catalogue"),
  },
  dependents: [
    async (em, plugin, { type }) => {
      const [row] = await em.execute<{ n: number }[]>("select count(*)::int as n from kubernetes_cluster_plugin where plugin_id = ?", [
        plugin.id,
      ]);
      const installed = row?.n ?? 0;
      if (installed === 0) return;
      throw new FailedPreconditionError(
        "HAS_DEPENDENTS",
        `plugin ${plugin.name} is installed on ${installed} cluster(s); uninstall it there first, or withdraw its versions`,
        { resource_type: type, resource_id: plugin.id, kubernetes_cluster_plugins: String(installed) },
      );
    },
  ],
});

/**
 * A catalogue plugin by name, read FOR SHARE inside the caller's transaction: an update that
 * withdraws a version waits for the install that chose it (and the install sees the catalogue as it
 * is when it commits). Undefined when the catalogue has no such plugin.
 */
export async function cataloguePlugin(em: EntityManager, name: string): Promise<CataloguePlugin | undefined> {
  const [row] = await em.execute<{ id: string; name: string; versions: PluginVersion[] }[]>(
    "select id, name, versions from kubernetes_plugin where name = ? for share",
    [name],
  );
  return row;
}
