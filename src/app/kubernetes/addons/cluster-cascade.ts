// What the cluster's and the VM's own workflows must know of add-ons, without their code knowing
// them one by one: a cluster delete waits for no add-on work (refused while some runs) and removes
// its bastion associations, as a VM delete removes the VM's (both audited in the delete's record);
// a cluster that reaches DELETED loses whatever add-on records are left. Called from clusters.ts and
// compute/vms.ts; a leaf, so neither depends on the add-ons' use cases.
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError } from "../../../domain/errors.js";
import type { AuditTarget } from "../../context.js";

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
  await em.execute("delete from bastion_cluster_association where cluster_id = ?", [clusterId]);
}

/**
 * Inside a DeleteKubernetesCluster's or DeleteVirtualMachine's transaction, after the cluster's or
 * the VM's lock: the associations of that cluster or bastion VM go at once (a cluster being torn
 * down, or a VM being deleted, serves no one), and the delete's audit record names them.
 */
export async function removeBastionAssociations(
  em: EntityManager,
  audit: AuditTarget,
  of: "cluster_id" | "virtual_machine_id",
  id: string,
): Promise<void> {
  const removed = await em.execute<{ id: string }[]>(`delete from bastion_cluster_association where ${of} = ? returning id`, [id]);
  if (removed.length === 0) return;
  const text = `bastion associations removed: ${removed.map((row) => row.id).join(", ")}`;
  audit.detail = audit.detail ? `${audit.detail}; ${text}` : text;
}
