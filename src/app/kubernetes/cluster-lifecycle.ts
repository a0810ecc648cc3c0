// A Kubernetes cluster's lifecycle on the operation engine (app/operations/lifecycle.ts): what its
// operations' outcomes, and states its agents observe, do to the cluster. Its node VMs move by their
// own (VM) lifecycle; the cluster's bootstrap and teardown jobs wait for their operations
// (job.wait_for_operation_ids), so by the time a cluster operation ends its nodes have. Every
// handler runs in the transaction that records the change, taking locks in the one lock order.
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../../domain/errors.js";
import { requireStatusMark, statusAfter, type KubernetesClusterStatus } from "../../domain/kubernetes.js";
import type { JobKind } from "../../domain/operations.js";
import { notify } from "../../persistence/notifications.js";
import {
  lifecycleOf,
  type Facts,
  type Lifecycle,
  type ObservedState,
  type OpenSecrets,
  type OperationView,
} from "../operations/lifecycle.js";
import { removeAssignments } from "../maintainers/resources.js";
import { loadClusterCa } from "./cluster-ca.js";
import { setClusterStatus } from "./clusters.js";
import { advanceUpgrade, failUpgrade, isUpgradeStep, upgradeStepKinds } from "./upgrades.js";

const jobKinds = [
  "CREATE_KUBERNETES_CLUSTER",
  "DELETE_KUBERNETES_CLUSTER",
  "CREATE_NODE_POOL",
  "SCALE_NODE_POOL",
  "DELETE_NODE_POOL",
  "UPGRADE_KUBERNETES_CLUSTER",
  ...upgradeStepKinds,
] as const satisfies readonly JobKind[];

const verbOf = (kind: JobKind) => (kind === "DELETE_KUBERNETES_CLUSTER" ? "DELETE" : "SCALE") as "DELETE" | "SCALE";

/** The cluster is PROVISIONING or DELETING since the request; an agent taking the bootstrap or
 * teardown changes nothing but the operation. */
async function markStarted(em: EntityManager, operation: OperationView): Promise<void> {
  await notify(em, "rackplane_operation", operation.id);
}

/** Bootstrapped: ACTIVE with the endpoint its agent reported. Torn down: DELETED. A pool's change
 * done: ACTIVE again, and a deleted pool's row gone (its node VMs are DELETED by then). */
async function applySuccess(em: EntityManager, operation: OperationView, facts: Facts): Promise<void> {
  // An upgrade's step starts the next one (it locks what it needs in the lock order itself).
  if (isUpgradeStep(operation.kind)) return advanceUpgrade(em, { id: operation.id, kind: operation.kind });
  const cluster = await lockCluster(em, operation.resourceId);
  if (!cluster) return;
  if (operation.kind === "DELETE_NODE_POOL") await removePool(em, operation.id);
  if (operation.kind === "UPGRADE_KUBERNETES_CLUSTER") await recordNewVersion(em, operation.id);
  const status = statusAfter(verbOf(operation.kind), "SUCCEEDED");
  await setClusterStatus(em, cluster.id, status, "", null, facts.endpoint);
  // Maintainers go with the cluster; the row stays, DELETED, for the record.
  if (status === "DELETED") await removeAssignments(em, "k8s_cluster", [cluster.id]);
}

/** A failed step stops the workflow: the cluster is ERROR with the step's error, and keeps every
 * reservation until it is deleted. */
async function applyFailure(em: EntityManager, operation: OperationView): Promise<void> {
  // A failed step fails the upgrade it belongs to, which marks the cluster ERROR.
  if (isUpgradeStep(operation.kind)) return failUpgrade(em, { id: operation.id });
  const cluster = await lockCluster(em, operation.resourceId);
  if (!cluster) return;
  const [failed] = await em.execute<{ error_message: string }[]>("select error_message from operation where id = ?", [operation.id]);
  await setClusterStatus(em, cluster.id, "ERROR", failed?.error_message || `${operation.kind.toLowerCase()} failed`, null);
}

/**
 * Cancelled before any agent took it: the node VMs' operations it waits for are cancelled with it
 * (each undone by the VM's lifecycle: a creation withdrawn and its reservation released, a deletion
 * returned), which is possible only while no agent has taken any of them. A cancelled creation
 * leaves the cluster DELETED; a cancelled deletion returns it where it was.
 */
async function undoQueued(em: EntityManager, operation: OperationView): Promise<void> {
  if (operation.kind === "UPGRADE_KUBERNETES_CLUSTER" || isUpgradeStep(operation.kind)) {
    // Half an upgrade cannot be taken back by withdrawing a job: nodes are already replaced.
    throw new FailedPreconditionError(
      "OPERATION_NOT_CANCELLABLE",
      `operation ${operation.id} is a step of a rolling upgrade, which goes on to the end (or stops at a failed step)`,
      { operation_id: operation.id },
    );
  }
  const [job] = await em.execute<{ wait_for_operation_ids: string[] }[]>("select wait_for_operation_ids from job where operation_id = ?", [
    operation.id,
  ]);
  const waited = job?.wait_for_operation_ids ?? [];
  if (waited.length > 0) {
    // Jobs, then their operations (the lock order's second level, where the caller already is).
    const jobs = await em.execute<{ operation_id: string; state: string }[]>(
      "select operation_id, state from job where operation_id = any(array[?]::uuid[]) order by id for update",
      [waited],
    );
    const operations = await em.execute<{ id: string; state: string; kind: JobKind; resource_id: string; previous_state: string }[]>(
      "select id, state, kind, resource_id, previous_state from operation where id = any(array[?]::uuid[]) order by id for update",
      [waited],
    );
    const started = jobs.find((row) => row.state !== "QUEUED") ?? operations.find((row) => row.state !== "PENDING");
    if (started) {
      throw new FailedPreconditionError(
        "OPERATION_STARTED",
        `agents are already at work on the cluster's nodes (operation ${"operation_id" in started ? started.operation_id : started.id}); wait for the operation to end`,
        { operation_id: operation.id },
      );
    }
    // The reservations' holders before the VMs, in the order creations take them.
    await em.execute(
      `select 1 from baremetal_group_tenant_quota q where exists (select 1 from virtual_machine vm where vm.id = any(array[?]::uuid[])
          and vm.tenant_id = q.tenant_id and vm.group_id = q.group_id) order by q.tenant_id, q.group_id for no key update`,
      [operations.map((row) => row.resource_id)],
    );
    await em.execute(
      "select 1 from baremetal b where b.id in (select baremetal_id from virtual_machine where id = any(array[?]::uuid[])) order by b.id for no key update",
      [operations.map((row) => row.resource_id)],
    );
    await em.execute("update job set state = 'CANCELLED', update_time = now() where operation_id = any(array[?]::uuid[])", [waited]);
    await em.execute(
      "update operation set state = 'CANCELLED', done_time = now(), update_time = now(), message = ? where id = any(array[?]::uuid[])",
      [`cancelled with cluster operation ${operation.id}`, waited],
    );
    const vms = lifecycleOf("virtual_machine");
    for (const row of operations) {
      await vms.undoQueued(em, {
        id: row.id,
        kind: row.kind,
        resourceType: "virtual_machine",
        resourceId: row.resource_id,
        previousState: row.previous_state,
      });
    }
  }
  const cluster = await lockCluster(em, operation.resourceId);
  if (!cluster) return;
  // A pool that was never built goes; a scale that never ran leaves the count it found.
  if (operation.kind === "CREATE_NODE_POOL") await removePool(em, operation.id);
  if (operation.kind === "SCALE_NODE_POOL") {
    await em.execute(
      `update kubernetes_node_pool p set node_count = (j.payload->>'previousNodeCount')::int, version = p.version + 1, update_time = now()
         from job j where j.operation_id = ? and p.id = (j.payload->>'nodePoolId')::uuid`,
      [operation.id],
    );
  }
  const status = operation.kind === "CREATE_KUBERNETES_CLUSTER" ? "DELETED" : (operation.previousState as KubernetesClusterStatus);
  await setClusterStatus(em, cluster.id, status, status === "DELETED" ? "creation cancelled" : "", null);
}

/** An upgrade done: the cluster and every pool run the version its closing job names. */
async function recordNewVersion(em: EntityManager, operationId: string): Promise<void> {
  const [job] = await em.execute<{ version: string; cluster_id: string }[]>(
    "select payload->>'version' as version, resource_id as cluster_id from job where operation_id = ?",
    [operationId],
  );
  if (!job) return;
  await em.execute("update kubernetes_cluster set kubernetes_version = ? where id = ?", [job.version, job.cluster_id]);
  await em.execute(
    "update kubernetes_node_pool set kubernetes_version = ?, version = version + 1, update_time = now() where cluster_id = ? and kubernetes_version <> ?",
    [job.version, job.cluster_id, job.version],
  );
}

/** The pool a pool operation's job names, deleted (after the cluster, in the lock order). */
async function removePool(em: EntityManager, operationId: string): Promise<void> {
  await em.execute("delete from kubernetes_node_pool where id = (select (payload->>'nodePoolId')::uuid from job where operation_id = ?)", [
    operationId,
  ]);
}

/** Where the cluster lives, for agents' scopes: its control plane's group. */
async function placeOf(em: EntityManager, id: string) {
  const [cluster] = await em.execute<{ control_plane_group_id: string }[]>(
    "select control_plane_group_id from kubernetes_cluster where id = ? and status <> 'DELETED'",
    [id],
  );
  return cluster && { groupId: cluster.control_plane_group_id, baremetalId: null };
}

/** What an agent sees of a cluster: a fault (CRASHED → ERROR) or its recovery (RUNNING → ACTIVE),
 * as the agents' marks of domain/kubernetes.ts allow; an admin's MAINTENANCE or OFFLINE stands. */
async function acceptObserved(em: EntityManager, id: string, observed: ObservedState, reason: string): Promise<string> {
  if (observed === "STOPPED") {
    throw new InvalidArgumentError(
      "STATUS_NOT_MARKABLE",
      "an agent reports a cluster's fault (ERROR) or its recovery (ACTIVE), not STOPPED",
      [{ field: "status", description: "ERROR or ACTIVE" }],
    );
  }
  const cluster = await lockCluster(em, id);
  if (!cluster) throw new NotFoundError("kubernetes_cluster", id);
  const to: KubernetesClusterStatus = observed === "CRASHED" ? "ERROR" : "ACTIVE";
  requireStatusMark("AGENT", cluster, to, reason);
  await setClusterStatus(em, id, to, to === "ACTIVE" ? "" : reason, cluster.active_operation_id);
  return to;
}

/** The bootstrap job gets the cluster's CA with its key, as Cluster API hands kubeadm its CA. */
async function deliveredSecrets(em: EntityManager, job: { kind: string; resourceId: string }, secrets: OpenSecrets) {
  if (job.kind !== "CREATE_KUBERNETES_CLUSTER") return {};
  const ca = await loadClusterCa(em, secrets, job.resourceId);
  return { caCertificatePem: ca.certificatePem, caKeyPem: ca.privateKeyPem };
}

async function lockCluster(
  em: EntityManager,
  id: string,
): Promise<{ id: string; status: KubernetesClusterStatus; active_operation_id: string | null } | undefined> {
  const [cluster] = await em.execute<{ id: string; status: KubernetesClusterStatus; active_operation_id: string | null }[]>(
    "select id, status, active_operation_id from kubernetes_cluster where id = ? for update",
    [id],
  );
  return cluster;
}

export const clusterLifecycle: Lifecycle = {
  resourceType: "kubernetes_cluster",
  jobKinds,
  markStarted,
  applySuccess,
  applyFailure,
  undoQueued,
  placeOf,
  acceptObserved,
  deliveredSecrets,
};
