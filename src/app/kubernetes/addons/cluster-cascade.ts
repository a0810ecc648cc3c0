// What a cluster's own workflow must know of its add-ons, without the cluster's code knowing them
// one by one: a delete waits for no add-on work (refused while some runs), and a cluster that
// reaches DELETED loses its installed plugins. Called from clusters.ts; imports nothing of it.
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError } from "../../../domain/errors.js";

/** Inside DeleteKubernetesCluster's transaction, after the cluster's lock: OPERATION_IN_PROGRESS
 * while an install, upgrade or uninstall of one of its plugins runs (its agent is at work on the
 * cluster the teardown would remove). */
export async function requireNoAddonOperations(em: EntityManager, clusterId: string): Promise<void> {
  const [busy] = await em.execute<{ id: string; plugin: string; active_operation_id: string }[]>(
    `select id, plugin, active_operation_id from kubernetes_cluster_plugin where cluster_id = ? and active_operation_id is not null
      order by id limit 1`,
    [clusterId],
  );
  if (busy) {
    throw new FailedPreconditionError(
      "OPERATION_IN_PROGRESS",
      `plugin ${busy.plugin} has operation ${busy.active_operation_id} under way; try again once it ends`,
      { cluster_id: clusterId, operation_id: busy.active_operation_id, kubernetes_cluster_plugin_id: busy.id },
    );
  }
}

/** A cluster DELETED (torn down, or its creation cancelled): its add-on records go with it. */
export async function removeClusterAddons(em: EntityManager, clusterId: string): Promise<void> {
  await em.execute("delete from kubernetes_cluster_plugin where cluster_id = ?", [clusterId]);
}
