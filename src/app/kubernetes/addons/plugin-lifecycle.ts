// An installed plugin's lifecycle on the operation engine (app/operations/lifecycle.ts): what its
// install, upgrade and uninstall operations' outcomes, and the states its agent observes, do to the
// record. Each handler runs in the transaction that records the change and locks only the plugin's
// row (after the job and operation, as the lock order has it); a row gone with its cluster is left
// alone.
import type { EntityManager } from "@mikro-orm/postgresql";
import { NotFoundError } from "../../../domain/errors.js";
import { requirePluginIdle, type ClusterPluginStatus } from "../../../domain/kubernetes-plugins.js";
import type { JobKind } from "../../../domain/operations.js";
import { notify } from "../../../persistence/notifications.js";
import type { Lifecycle, ObservedState, OperationView } from "../../operations/lifecycle.js";

const jobKinds = [
  "INSTALL_KUBERNETES_PLUGIN",
  "UPGRADE_KUBERNETES_PLUGIN",
  "UNINSTALL_KUBERNETES_PLUGIN",
] as const satisfies readonly JobKind[];

interface PluginRow {
  id: string;
  status: ClusterPluginStatus;
  active_operation_id: string | null;
}

async function lockPlugin(em: EntityManager, id: string): Promise<PluginRow | undefined> {
  const [row] = await em.execute<PluginRow[]>(
    "select id, status, active_operation_id from kubernetes_cluster_plugin where id = ? for update",
    [id],
  );
  return row;
}

/** The record says INSTALLING, UPGRADING or UNINSTALLING since the request. */
async function markStarted(em: EntityManager, operation: OperationView): Promise<void> {
  await notify(em, "rackplane_operation", operation.id);
}

/** Installed or upgraded: ACTIVE on the version the job installed. Uninstalled: the record goes. */
async function applySuccess(em: EntityManager, operation: OperationView): Promise<void> {
  const plugin = await lockPlugin(em, operation.resourceId);
  if (!plugin) return;
  if (operation.kind === "UNINSTALL_KUBERNETES_PLUGIN") {
    await em.execute("delete from kubernetes_cluster_plugin where id = ?", [plugin.id]);
    return;
  }
  await em.execute(
    `update kubernetes_cluster_plugin set status = 'ACTIVE', plugin_version = case when target_version <> '' then target_version else plugin_version end,
            target_version = '', status_message = '', status_time = now(), active_operation_id = null, version = version + 1, update_time = now()
      where id = ?`,
    [plugin.id],
  );
}

/** Failed for good: ERROR with the agent's message; an upgrade leaves the version it found. */
async function applyFailure(em: EntityManager, operation: OperationView): Promise<void> {
  const plugin = await lockPlugin(em, operation.resourceId);
  if (!plugin) return;
  const [failed] = await em.execute<{ error_message: string }[]>("select error_message from operation where id = ?", [operation.id]);
  await em.execute(
    `update kubernetes_cluster_plugin set status = 'ERROR', status_message = ?, target_version = '', status_time = now(),
            active_operation_id = null, version = version + 1, update_time = now() where id = ?`,
    [failed?.error_message || `${operation.kind.toLowerCase()} failed`, plugin.id],
  );
}

/** Cancelled before any agent took it: an install never happened (the record goes); an upgrade or
 * uninstall leaves the plugin as it was. */
async function undoQueued(em: EntityManager, operation: OperationView): Promise<void> {
  const plugin = await lockPlugin(em, operation.resourceId);
  if (!plugin) return;
  if (operation.kind === "INSTALL_KUBERNETES_PLUGIN") {
    await em.execute("delete from kubernetes_cluster_plugin where id = ?", [plugin.id]);
    return;
  }
  await em.execute(
    `update kubernetes_cluster_plugin set status = ?, target_version = '', status_time = now(), active_operation_id = null,
            version = version + 1, update_time = now() where id = ?`,
    [operation.previousState, plugin.id],
  );
}

/** Where the plugin runs, for agents' scopes: its cluster's control plane group. */
async function placeOf(em: EntityManager, id: string) {
  const [row] = await em.execute<{ control_plane_group_id: string }[]>(
    `select c.control_plane_group_id from kubernetes_cluster_plugin cp join kubernetes_cluster c on c.id = cp.cluster_id
      where cp.id = ? and c.status <> 'DELETED'`,
    [id],
  );
  return row && { groupId: row.control_plane_group_id, baremetalId: null };
}

/** What an agent sees of an installed plugin: running (ACTIVE), not running (INACTIVE) or failing
 * (ERROR), with its message. Not while an operation runs on it: that job's report decides. */
async function acceptObserved(em: EntityManager, id: string, observed: ObservedState, reason: string): Promise<string> {
  const plugin = await lockPlugin(em, id);
  if (!plugin) throw new NotFoundError("kubernetes_cluster_plugin", id);
  requirePluginIdle({ id, status: plugin.status, activeOperationId: plugin.active_operation_id });
  const status: ClusterPluginStatus = observed === "RUNNING" ? "ACTIVE" : observed === "STOPPED" ? "INACTIVE" : "ERROR";
  await em.execute(
    `update kubernetes_cluster_plugin set status = ?, status_message = ?, status_time = case when status = ? then status_time else now() end,
            version = version + 1, update_time = now() where id = ?`,
    [status, status === "ACTIVE" ? "" : reason, status, id],
  );
  return status;
}

export const pluginLifecycle: Lifecycle = {
  resourceType: "kubernetes_cluster_plugin",
  jobKinds,
  markStarted,
  applySuccess,
  applyFailure,
  undoQueued,
  placeOf,
  acceptObserved,
};
