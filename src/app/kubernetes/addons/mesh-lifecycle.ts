// A service mesh binding's lifecycle on the operation engine (app/operations/lifecycle.ts): what
// its bind and unbind operations' outcomes, and the states its agent observes, do to the binding.
// Handlers lock only the binding's row, after the job and the operation.
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../../../domain/errors.js";
import type { JobKind } from "../../../domain/operations.js";
import { notify } from "../../../persistence/notifications.js";
import type { Lifecycle, ObservedState, OperationView } from "../../operations/lifecycle.js";

const jobKinds = ["BIND_SERVICE_MESH", "UNBIND_SERVICE_MESH"] as const satisfies readonly JobKind[];

async function lockBinding(em: EntityManager, id: string): Promise<{ id: string; active_operation_id: string | null } | undefined> {
  const [row] = await em.execute<{ id: string; active_operation_id: string | null }[]>(
    "select id, active_operation_id from kubernetes_cluster_service_mesh where id = ? for update",
    [id],
  );
  return row;
}

async function markStarted(em: EntityManager, operation: OperationView): Promise<void> {
  await notify(em, "rackplane_operation", operation.id);
}

/** Bound: BOUND. Unbound: the binding goes. */
async function applySuccess(em: EntityManager, operation: OperationView): Promise<void> {
  const binding = await lockBinding(em, operation.resourceId);
  if (!binding) return;
  if (operation.kind === "UNBIND_SERVICE_MESH") {
    await em.execute("delete from kubernetes_cluster_service_mesh where id = ?", [binding.id]);
    return;
  }
  await em.execute(
    `update kubernetes_cluster_service_mesh set status = 'BOUND', status_message = '', active_operation_id = null, version = version + 1,
            update_time = now() where id = ?`,
    [binding.id],
  );
}

/** Failed for good: ERROR with the agent's message; the binding still counts in the invariants. */
async function applyFailure(em: EntityManager, operation: OperationView): Promise<void> {
  const binding = await lockBinding(em, operation.resourceId);
  if (!binding) return;
  const [failed] = await em.execute<{ error_message: string }[]>("select error_message from operation where id = ?", [operation.id]);
  await em.execute(
    `update kubernetes_cluster_service_mesh set status = 'ERROR', status_message = ?, active_operation_id = null, version = version + 1,
            update_time = now() where id = ?`,
    [failed?.error_message || `${operation.kind.toLowerCase()} failed`, binding.id],
  );
}

/** Cancelled before any agent took it: a bind never happened (the binding goes); an unbind leaves
 * the binding as it was. */
async function undoQueued(em: EntityManager, operation: OperationView): Promise<void> {
  const binding = await lockBinding(em, operation.resourceId);
  if (!binding) return;
  if (operation.kind === "BIND_SERVICE_MESH") {
    await em.execute("delete from kubernetes_cluster_service_mesh where id = ?", [binding.id]);
    return;
  }
  await em.execute(
    `update kubernetes_cluster_service_mesh set status = ?, active_operation_id = null, version = version + 1, update_time = now()
      where id = ?`,
    [operation.previousState, binding.id],
  );
}

/** Where the binding's work happens: its cluster's control plane group. */
async function placeOf(em: EntityManager, id: string) {
  const [row] = await em.execute<{ control_plane_group_id: string }[]>(
    `select c.control_plane_group_id from kubernetes_cluster_service_mesh b join kubernetes_cluster c on c.id = b.cluster_id
      where b.id = ? and c.status <> 'DELETED'`,
    [id],
  );
  return row && { groupId: row.control_plane_group_id, baremetalId: null };
}

/** What an agent sees of a binding: working (BOUND) or failing (ERROR, with its message); not
 * while an operation runs on it. */
async function acceptObserved(em: EntityManager, id: string, observed: ObservedState, reason: string): Promise<string> {
  const binding = await lockBinding(em, id);
  if (!binding) throw new NotFoundError("service_mesh_binding", id);
  if (binding.active_operation_id) {
    throw new FailedPreconditionError("OPERATION_IN_PROGRESS", `binding ${id} has operation ${binding.active_operation_id} under way`, {
      operation_id: binding.active_operation_id,
      service_mesh_binding_id: id,
    });
  }
  const status = observed === "RUNNING" ? "BOUND" : "ERROR";
  await em.execute(
    "update kubernetes_cluster_service_mesh set status = ?, status_message = ?, version = version + 1, update_time = now() where id = ?",
    [status, status === "BOUND" ? "" : reason, id],
  );
  return status;
}

export const meshBindingLifecycle: Lifecycle = {
  resourceType: "service_mesh_binding",
  jobKinds,
  markStarted,
  applySuccess,
  applyFailure,
  undoQueued,
  placeOf,
  acceptObserved,
};
