// Plugins installed on clusters (K8S-8): install, upgrade and uninstall, each an Operation and a job
// for the agent of the cluster's control plane group, on the kubernetes_cluster_plugin lifecycle
// (plugin-lifecycle.ts). Plugins named at a cluster's creation are installed by jobs that wait for
// its bootstrap (job.wait_for_operation_ids), so they run once the cluster is ACTIVE, as later steps
// of the same workflow. Lock order: the cluster FOR UPDATE, then the catalogue plugin FOR SHARE,
// then the installed plugin. docs/kubernetes-addons.md.
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../../../domain/errors.js";
import { field, resourceTimes } from "../../../domain/filter-schema.js";
import { newId } from "../../../domain/ids.js";
import {
  clusterPluginStatuses,
  observedPluginStatus,
  requireInstallableVersion,
  requirePluginChangeAllowed,
  requirePluginIdle,
  requireSupports,
  type ClusterPlugin,
  type PluginChoice,
  type ClusterPluginStatus,
  type PluginVersion,
} from "../../../domain/kubernetes-plugins.js";
import type { JobKind } from "../../../domain/operations.js";
import { isTenantRole, requireRole } from "../../../domain/principal.js";
import { requireEtag } from "../../../domain/etag.js";
import { KubernetesClusterPlugin as ClusterPluginEntity } from "../../../persistence/entities/index.js";
import { reportResourceState } from "../../agents/reports.js";
import type { CallContext } from "../../context.js";
import type { Database } from "../../database.js";
import { listPage, type ListRequest, type Page } from "../../list.js";
import { mutate } from "../../mutation.js";
import { getOperation, startOperation, type Operation } from "../../operations/operations.js";
import { createOnce, readById } from "../../standard-methods.js";
import { clusterUsers, lockCluster } from "../cluster-queries.js";
import { cataloguePlugin } from "./plugin-catalogue.js";

export const CLUSTER_PLUGIN = "kubernetes_cluster_plugin";

export type { ClusterPlugin, PluginChoice } from "../../../domain/kubernetes-plugins.js";

export interface ClusterPluginChange {
  readonly plugin: ClusterPlugin;
  readonly operation: Operation;
}

/** The cluster as a plugin operation needs it. */
interface ClusterForPlugins {
  readonly id: string;
  readonly name: string;
  readonly tenantId: string;
  readonly kubernetesVersion: string;
  readonly controlPlaneGroupId: string;
}

const clusterPluginFilter = {
  cluster_id: field.uuid("clusterId"),
  tenant_id: field.uuid("tenantId"),
  plugin: field.string("plugin"),
  version: field.string("pluginVersion"),
  status: field.enum("KUBERNETES_CLUSTER_PLUGIN_STATUS_", clusterPluginStatuses, "status"),
  ...resourceTimes,
};

/** Installs a catalogue plugin on an ACTIVE cluster: the record (INSTALLING) and its operation and
 * job, in one transaction. A version withdrawn or not supporting the cluster's release is refused. */
export async function installPlugin(
  db: Database,
  ctx: CallContext,
  clusterId: string,
  choice: PluginChoice,
  requestId: string,
): Promise<ClusterPluginChange> {
  requireRole(ctx.principal, clusterUsers, "install Kubernetes plugins");
  let operationId = "";
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, CLUSTER_PLUGIN, requestId, { clusterId, choice }, async (id) => {
      const cluster = await lockCluster(em, ctx, clusterId, "");
      ctx.audit.resourceType = CLUSTER_PLUGIN;
      ctx.audit.resourceId = id;
      requirePluginChangeAllowed(cluster);
      await requireNotInstalled(em, cluster.id, choice.plugin);
      operationId = await insertPlugin(em, ctx, cluster, choice, "plugin", id, []);
      ctx.audit.detail = `${choice.plugin} ${choice.version}`;
    }),
  );
  const plugin = await getPlugin(db, ctx, id);
  return { plugin, operation: await getOperation(db, ctx, operationId || plugin.activeOperationId || (await installOperationOf(db, id))) };
}

/**
 * The plugins named in a cluster's creation, inside its transaction (after the cluster row): each
 * checked against the catalogue and the cluster's version, recorded INSTALLING, with an install job
 * that waits for the bootstrap operation `after`. If the bootstrap fails, the installs fail with it
 * (PREREQUISITE_FAILED) and the plugins are ERROR until the cluster is deleted.
 */
export async function installPluginsAtCreation(
  em: EntityManager,
  ctx: CallContext,
  cluster: ClusterForPlugins,
  choices: readonly PluginChoice[],
  after: string,
): Promise<void> {
  for (const [index, choice] of choices.entries()) {
    await insertPlugin(em, ctx, cluster, choice, `plugins[${index}]`, newId(), [after]);
  }
}

/** Moves an installed plugin to another catalogue version that supports the cluster's release. */
export async function upgradePlugin(
  db: Database,
  ctx: CallContext,
  id: string,
  version: string,
  etag: string,
): Promise<ClusterPluginChange> {
  requireRole(ctx.principal, clusterUsers, "upgrade Kubernetes plugins");
  let operationId = "";
  await mutate(db, ctx, async (em) => {
    const { cluster, plugin } = await lockPlugin(em, ctx, id, etag);
    requirePluginChangeAllowed(cluster);
    requirePluginIdle(plugin);
    if (version === plugin.pluginVersion) {
      throw new FailedPreconditionError("PLUGIN_VERSION_UNCHANGED", `plugin ${plugin.plugin} already runs ${version}`, {
        kubernetes_cluster_plugin_id: id,
        plugin_version: version,
      });
    }
    const catalogue = await cataloguePlugin(em, plugin.plugin);
    if (!catalogue) throw new NotFoundError("kubernetes_plugin", plugin.plugin);
    requireInstallableVersion(catalogue, version, cluster.kubernetesVersion, "version");
    ctx.audit.detail = `${plugin.plugin} ${plugin.pluginVersion} → ${version}`;
    operationId = await startPluginOperation(em, ctx, cluster, plugin, "UPGRADE_KUBERNETES_PLUGIN", [], {
      version,
      previousVersion: plugin.pluginVersion,
    });
    await em.execute(
      `update kubernetes_cluster_plugin set status = 'UPGRADING', target_version = ?, status_message = '', status_time = now(),
              active_operation_id = ?, version = version + 1, update_time = now() where id = ?`,
      [version, operationId, id],
    );
  });
  return { plugin: await getPlugin(db, ctx, id), operation: await getOperation(db, ctx, operationId) };
}

/** Uninstalls a plugin: an operation and a job; the record goes when the agent confirms. */
export async function uninstallPlugin(db: Database, ctx: CallContext, id: string, etag: string): Promise<Operation> {
  requireRole(ctx.principal, clusterUsers, "uninstall Kubernetes plugins");
  let operationId = "";
  await mutate(db, ctx, async (em) => {
    const { cluster, plugin } = await lockPlugin(em, ctx, id, etag);
    requirePluginChangeAllowed(cluster);
    requirePluginIdle(plugin);
    ctx.audit.detail = `${plugin.plugin} ${plugin.pluginVersion}`;
    operationId = await startPluginOperation(em, ctx, cluster, plugin, "UNINSTALL_KUBERNETES_PLUGIN", [], {
      version: plugin.pluginVersion,
    });
    await em.execute(
      `update kubernetes_cluster_plugin set status = 'UNINSTALLING', status_message = '', status_time = now(), active_operation_id = ?,
              version = version + 1, update_time = now() where id = ?`,
      [operationId, id],
    );
  });
  return getOperation(db, ctx, operationId);
}

/** An agent's report of an installed plugin outside any job (ACTIVE, INACTIVE or ERROR with its
 * message): an observed state on the generic path, inside the agent's scope. */
export async function reportPluginStatus(
  db: Database,
  ctx: CallContext,
  id: string,
  status: ClusterPluginStatus,
  message: string,
): Promise<ClusterPlugin> {
  requireRole(ctx.principal, ["AGENT"], "report plugin statuses");
  const reported = observedPluginStatus(status, message);
  const observed = reported === "ACTIVE" ? "RUNNING" : reported === "INACTIVE" ? "STOPPED" : "CRASHED";
  await reportResourceState(db, ctx, { type: CLUSTER_PLUGIN, id }, observed, message);
  return readById<ClusterPlugin>(db.em(), ClusterPluginEntity as never, CLUSTER_PLUGIN, id);
}

/** Tenant principals see their own tenant's plugins; another's is NOT_FOUND. */
export async function getPlugin(db: Database, ctx: CallContext, id: string): Promise<ClusterPlugin> {
  requireRole(ctx.principal, clusterUsers, "read Kubernetes cluster plugins");
  const plugin = await readById<ClusterPlugin>(db.em(), ClusterPluginEntity as never, CLUSTER_PLUGIN, id);
  if (isTenantRole(ctx.principal.role) && plugin.tenantId !== ctx.principal.tenantId) throw new NotFoundError(CLUSTER_PLUGIN, id);
  return plugin;
}

export async function listPlugins(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<ClusterPlugin>> {
  requireRole(ctx.principal, clusterUsers, "read Kubernetes cluster plugins");
  const scope = isTenantRole(ctx.principal.role) ? { scope: { tenantId: ctx.principal.tenantId ?? "" } } : {};
  const page = await listPage(db.em(), ClusterPluginEntity, request, clusterPluginFilter, scope);
  return page as unknown as Page<ClusterPlugin>;
}

/**
 * For an upgrade of the cluster to `targetVersion`, inside its transaction after the cluster's
 * lock: refused (PLUGIN_BLOCKS_UPGRADE) when an installed plugin's version does not support the
 * target release, naming the plugin, its version and both Kubernetes versions; refused
 * (OPERATION_IN_PROGRESS) while a plugin operation runs.
 */
export async function requirePluginsSupport(
  em: EntityManager,
  cluster: { readonly id: string; readonly kubernetesVersion: string },
  targetVersion: string,
): Promise<void> {
  const installed = await em.execute<
    { id: string; plugin: string; plugin_version: string; active_operation_id: string | null; versions: PluginVersion[] }[]
  >(
    `select cp.id, cp.plugin, cp.plugin_version, cp.active_operation_id, p.versions from kubernetes_cluster_plugin cp
       join kubernetes_plugin p on p.id = cp.plugin_id where cp.cluster_id = ? order by cp.id for share of cp`,
    [cluster.id],
  );
  for (const plugin of installed) {
    requirePluginIdle({ id: plugin.id, status: "ACTIVE", activeOperationId: plugin.active_operation_id });
    const entry = plugin.versions.find((candidate) => candidate.version === plugin.plugin_version);
    try {
      requireSupports(
        plugin.plugin,
        entry ?? { version: plugin.plugin_version, status: "WITHDRAWN", kubernetesVersions: [] },
        targetVersion,
      );
    } catch {
      throw new FailedPreconditionError(
        "PLUGIN_BLOCKS_UPGRADE",
        `plugin ${plugin.plugin} ${plugin.plugin_version} does not support Kubernetes ${targetVersion} (the cluster runs ${cluster.kubernetesVersion}); upgrade or uninstall the plugin first`,
        {
          cluster_id: cluster.id,
          plugin: plugin.plugin,
          plugin_version: plugin.plugin_version,
          kubernetes_version: cluster.kubernetesVersion,
          target_kubernetes_version: targetVersion,
        },
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------

async function requireNotInstalled(em: EntityManager, clusterId: string, name: string): Promise<void> {
  const [existing] = await em.execute<{ id: string }[]>("select id from kubernetes_cluster_plugin where cluster_id = ? and plugin = ?", [
    clusterId,
    name,
  ]);
  if (existing) {
    throw new FailedPreconditionError(
      "PLUGIN_ALREADY_INSTALLED",
      `plugin ${name} is installed on cluster ${clusterId} already; upgrade it`,
      {
        cluster_id: clusterId,
        plugin: name,
        kubernetes_cluster_plugin_id: existing.id,
      },
    );
  }
}

/** The record of a plugin being installed and its install operation; returns the operation's id. */
async function insertPlugin(
  em: EntityManager,
  ctx: CallContext,
  cluster: ClusterForPlugins,
  choice: PluginChoice,
  field: string,
  id: string,
  waitFor: readonly string[],
): Promise<string> {
  const catalogue = await cataloguePlugin(em, choice.plugin);
  if (!catalogue) throw new NotFoundError("kubernetes_plugin", choice.plugin);
  requireInstallableVersion(catalogue, choice.version, cluster.kubernetesVersion, `${field}.version`);
  const operationId = newId();
  await em.execute(
    `insert into kubernetes_cluster_plugin (id, version, create_time, update_time, cluster_id, tenant_id, plugin_id, plugin, plugin_version,
        status, status_time, active_operation_id) values (?, 1, now(), now(), ?, ?, ?, ?, ?, 'INSTALLING', now(), ?)`,
    [id, cluster.id, cluster.tenantId, catalogue.id, catalogue.name, choice.version, operationId],
  );
  await startOperation(em, ctx, {
    id: operationId,
    kind: "INSTALL_KUBERNETES_PLUGIN",
    resourceType: CLUSTER_PLUGIN,
    resourceId: id,
    tenantId: cluster.tenantId,
    previousState: "INSTALLING",
    groupId: cluster.controlPlaneGroupId,
    baremetalId: null,
    waitFor,
    payload: pluginPayload(cluster, id, catalogue.name, { version: choice.version }),
  });
  return operationId;
}

async function startPluginOperation(
  em: EntityManager,
  ctx: CallContext,
  cluster: ClusterForPlugins,
  plugin: ClusterPlugin,
  kind: JobKind,
  waitFor: readonly string[],
  extra: Record<string, unknown>,
): Promise<string> {
  const operationId = newId();
  await startOperation(em, ctx, {
    id: operationId,
    kind,
    resourceType: CLUSTER_PLUGIN,
    resourceId: plugin.id,
    tenantId: cluster.tenantId,
    previousState: plugin.status,
    groupId: cluster.controlPlaneGroupId,
    baremetalId: null,
    waitFor,
    payload: pluginPayload(cluster, plugin.id, plugin.plugin, extra),
  });
  return operationId;
}

function pluginPayload(cluster: ClusterForPlugins, id: string, plugin: string, extra: Record<string, unknown>): Record<string, unknown> {
  return { clusterPluginId: id, clusterId: cluster.id, name: cluster.name, plugin, ...extra };
}

/** The installed plugin and its cluster locked for a change, in the lock order (the cluster, tenant
 * checked, then the plugin FOR UPDATE with its etag checked); names the plugin as the audit target. */
async function lockPlugin(
  em: EntityManager,
  ctx: CallContext,
  id: string,
  etag: string,
): Promise<{ cluster: Awaited<ReturnType<typeof lockCluster>>; plugin: ClusterPlugin }> {
  ctx.audit.resourceType = CLUSTER_PLUGIN;
  ctx.audit.resourceId = id;
  const [owner] = await em.execute<{ cluster_id: string }[]>("select cluster_id from kubernetes_cluster_plugin where id = ?", [id]);
  if (!owner) throw new NotFoundError(CLUSTER_PLUGIN, id);
  let cluster: Awaited<ReturnType<typeof lockCluster>>;
  try {
    cluster = await lockCluster(em, ctx, owner.cluster_id, "");
  } catch (error) {
    // Another tenant's plugin does not exist for the caller, as its cluster does not.
    if (error instanceof NotFoundError) throw new NotFoundError(CLUSTER_PLUGIN, id);
    throw error;
  }
  ctx.audit.resourceType = CLUSTER_PLUGIN;
  ctx.audit.resourceId = id;
  await em.execute("select 1 from kubernetes_cluster_plugin where id = ? for update", [id]);
  const plugin = await readById<ClusterPlugin>(em, ClusterPluginEntity as never, CLUSTER_PLUGIN, id);
  requireEtag(plugin.version, etag, CLUSTER_PLUGIN, id);
  return { cluster, plugin };
}

async function installOperationOf(db: Database, id: string): Promise<string> {
  const [row] = await db
    .em()
    .execute<{ id: string }[]>("select id from operation where resource_id = ? and kind = 'INSTALL_KUBERNETES_PLUGIN' order by id", [id]);
  return row!.id;
}
