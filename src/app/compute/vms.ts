// Virtual machines (VM-3..6): creation (creation.ts) decides everything in one transaction, and
// every lifecycle verb is a state-machine check plus an operation for an agent. Reads are in
// vm-queries.ts; what operations' outcomes do to a VM in vm-lifecycle.ts.
import { requireTransition, type LifecycleVerb, type VirtualMachineState } from "../../domain/compute.js";
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import { newId } from "../../domain/ids.js";
import type { JobKind } from "../../domain/operations.js";
import { requireRole } from "../../domain/principal.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { mutate } from "../mutation.js";
import { removeBastionAssociations } from "../kubernetes/addons/cluster-cascade.js";
import { getOperation, startOperation, type Operation } from "../operations/operations.js";
import { requireTenantEnabled } from "../tenant-guard.js";
import { creationBatcher } from "./creation-batch.js";
import { requireOwnTenant, vmUsers as users } from "./vm-queries.js";
import { createAlone, type CreateVirtualMachine, type Created } from "./creation.js";

/** Creates a VM (creation.ts): with a request id in a transaction of its own, otherwise in a batch
 * with others when some are waiting (creation-batch.ts). */
export async function createVirtualMachine(
  db: Database,
  ctx: CallContext,
  request: CreateVirtualMachine,
  requestId: string,
): Promise<Created> {
  requireRole(ctx.principal, users, "create virtual machines");
  requireOwnTenant(ctx.principal, request.tenantId, undefined);
  return requestId === "" ? creationBatcher(db).create(ctx, request) : createAlone(db, ctx, request, requestId);
}

/** A cluster's node goes with its cluster (DeleteKubernetesCluster), never alone: the cluster would
 * lose a node it still counts. A VM naming a cluster that does not exist is its own. */
async function requireNotClusterNode(em: EntityManager, id: string, clusterId: string): Promise<void> {
  const [cluster] = await em.execute<{ name: string; pool_id: string | null; pool: string | null }[]>(
    `select c.name, p.id as pool_id, p.name as pool from kubernetes_cluster c
       left join virtual_machine vm on vm.id = ? left join kubernetes_node_pool p on p.id = vm.node_pool_id
      where c.id = ? and c.status <> 'DELETED'`,
    [id, clusterId],
  );
  if (!cluster) return;
  throw new FailedPreconditionError(
    "MANAGED_BY_CLUSTER",
    cluster.pool
      ? `virtual machine ${id} is a node of pool ${cluster.pool} of Kubernetes cluster ${cluster.name}: scale the pool down (UpdateNodePool) or delete the pool or the cluster instead`
      : `virtual machine ${id} is a control-plane node of Kubernetes cluster ${cluster.name}: delete the cluster instead`,
    { virtual_machine_id: id, cluster_id: clusterId, ...(cluster.pool_id ? { node_pool_id: cluster.pool_id } : {}) },
  );
}

const verbs: Record<LifecycleVerb, JobKind> = {
  START: "START_VIRTUAL_MACHINE",
  STOP: "STOP_VIRTUAL_MACHINE",
  REBOOT: "REBOOT_VIRTUAL_MACHINE",
  DELETE: "DELETE_VIRTUAL_MACHINE",
};

/** Start, stop, reboot or delete: the VM row is locked, the state machine consulted, and the
 * operation recorded as the VM's active one, so a second verb waits for this one to end. */
export async function operateVirtualMachine(
  db: Database,
  ctx: CallContext,
  id: string,
  verb: LifecycleVerb,
  options: Record<string, unknown>,
): Promise<Operation> {
  requireRole(ctx.principal, users, "operate virtual machines");
  const operationId = await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = "virtual_machine";
    ctx.audit.resourceId = id;
    // The tenant before the VM (docs/compute.md, "Lock order"); a VM's tenant never changes.
    const [owner] = await em.execute<{ tenant_id: string; state: string }[]>("select tenant_id, state from virtual_machine where id = ?", [
      id,
    ]);
    if (!owner || owner.state === "DELETED") throw new NotFoundError("virtual_machine", id);
    requireOwnTenant(ctx.principal, owner.tenant_id, { type: "virtual_machine", id });
    await requireTenantEnabled(em, owner.tenant_id);
    const [vm] = await em.execute<
      {
        id: string;
        tenant_id: string;
        state: VirtualMachineState;
        active_operation_id: string | null;
        group_id: string;
        baremetal_id: string;
        name: string;
        cluster_id: string | null;
      }[]
    >(
      "select id, tenant_id, state, active_operation_id, group_id, baremetal_id, name, cluster_id from virtual_machine where id = ? for update",
      [id],
    );
    if (!vm || vm.state === "DELETED") throw new NotFoundError("virtual_machine", id);
    if (verb === "DELETE" && vm.cluster_id) await requireNotClusterNode(em, id, vm.cluster_id);
    requireTransition({ id, state: vm.state, activeOperationId: vm.active_operation_id }, verb);
    // A VM being deleted serves no cluster as a bastion any more (audited in this record).
    if (verb === "DELETE") await removeBastionAssociations(em, ctx.audit, "virtual_machine_id", id);
    const operationId = newId();
    const during: VirtualMachineState | undefined = { START: undefined, STOP: undefined, REBOOT: "REBOOTING", DELETE: "DELETING" }[verb] as
      | VirtualMachineState
      | undefined;
    await em.execute(
      `update virtual_machine set active_operation_id = ?, state = coalesce(?, state), state_change_time = case when ?::text is null then state_change_time else now() end,
              version = version + 1, update_time = now() where id = ?`,
      [operationId, during ?? null, during ?? null, id],
    );
    await startOperation(em, ctx, {
      id: operationId,
      kind: verbs[verb],
      resourceType: "virtual_machine",
      resourceId: id,
      tenantId: vm.tenant_id,
      previousState: vm.state,
      groupId: vm.group_id,
      baremetalId: vm.baremetal_id,
      payload: { virtualMachineId: id, name: vm.name, ...options },
    });
    return operationId;
  });
  return getOperation(db, ctx, operationId);
}
