// Retrying a cluster's stopped workflow (K8S-2..5): a failed step leaves the cluster ERROR with
// every reservation kept; once the cause is repaired, RetryKubernetesClusterOperation runs that
// step again — its job queued anew with fresh attempts, the operations that failed with it reopened —
// and the workflow goes on from there. docs/kubernetes.md, "Retrying a failed step".
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import { requireEtag } from "../../domain/etag.js";
import { newId } from "../../domain/ids.js";
import type { KubernetesClusterStatus } from "../../domain/kubernetes.js";
import type { JobKind } from "../../domain/operations.js";
import { isTenantRole, requireRole } from "../../domain/principal.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { mutate } from "../mutation.js";
import { getOperation, startOperation, type Operation } from "../operations/operations.js";
import { requireTenantEnabled } from "../tenant-guard.js";
import { clusterUsers } from "./cluster-queries.js";
import { CLUSTER, setClusterStatus } from "./clusters.js";
import { advanceUpgrade, isUpgradeStep } from "./upgrades.js";

/** The workflows a retry resumes, and the cluster's status while each runs. */
const retriable: Partial<Record<JobKind, KubernetesClusterStatus>> = {
  CREATE_KUBERNETES_CLUSTER: "PROVISIONING",
  CREATE_NODE_POOL: "UPDATING",
  SCALE_NODE_POOL: "UPDATING",
  DELETE_NODE_POOL: "UPDATING",
  UPGRADE_KUBERNETES_CLUSTER: "UPDATING",
};

interface FailedOperation {
  readonly id: string;
  readonly kind: JobKind;
  readonly state: string;
  readonly error_metadata: Record<string, string> | null;
}

/**
 * Runs the failed step of the cluster's last workflow again. Refused (FAILED_PRECONDITION
 * `NOTHING_TO_RETRY`) unless the cluster is ERROR because that workflow failed — an agent's fault
 * report is repaired by the agent, a failed deletion by deleting again.
 */
export async function retryClusterOperation(db: Database, ctx: CallContext, clusterId: string, etag: string): Promise<Operation> {
  requireRole(ctx.principal, clusterUsers, "retry Kubernetes cluster operations");
  let workflowId = "";
  await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = CLUSTER;
    ctx.audit.resourceId = clusterId;
    // Jobs and operations come before the cluster in the lock order (docs/compute.md, "Lock
    // order"): the cluster is read unlocked first, and checked again once locked.
    const [seen] = await em.execute<{ tenant_id: string; status: KubernetesClusterStatus }[]>(
      "select tenant_id, status from kubernetes_cluster where id = ?",
      [clusterId],
    );
    if (!seen || seen.status === "DELETED" || (isTenantRole(ctx.principal.role) && seen.tenant_id !== ctx.principal.tenantId)) {
      throw new NotFoundError(CLUSTER, clusterId);
    }
    await requireTenantEnabled(em, seen.tenant_id);
    const [last] = await em.execute<FailedOperation[]>(
      `select id, kind, state, error_metadata from operation where resource_type = ? and resource_id = ? and kind = any(array[?]::text[])
        order by create_time desc, id desc limit 1`,
      [CLUSTER, clusterId, [...Object.keys(retriable), "DELETE_KUBERNETES_CLUSTER"]],
    );
    const during = last && retriable[last.kind];
    if (seen.status !== "ERROR" || !last || last.state !== "FAILED" || !during) {
      throw new FailedPreconditionError(
        "NOTHING_TO_RETRY",
        last?.kind === "DELETE_KUBERNETES_CLUSTER" && seen.status === "ERROR"
          ? `cluster ${clusterId}'s deletion failed: delete it again`
          : `cluster ${clusterId} is ${seen.status} and no workflow of it stopped at a failed step`,
        { cluster_id: clusterId, status: seen.status, ...(last ? { operation_id: last.id } : {}) },
      );
    }
    workflowId = last.id;
    const isUpgrade = last.kind === "UPGRADE_KUBERNETES_CLUSTER";
    // The failed step's job, then the upgrade's own operation, then the cluster.
    const step = isUpgrade ? last.error_metadata?.step_operation_id : last.id;
    const job = step ? await lockJob(em, step) : undefined;
    if (isUpgrade) await reopen(em, last.id, "RUNNING", `retried by ${ctx.principal.name}`);
    const cluster = await lockClusterForRetry(em, clusterId, etag);
    if (!isUpgrade) {
      ctx.audit.detail = `retried ${last.kind} ${last.id}`;
      await requeue(em, ctx, last.id, job!, cluster);
      await setClusterStatus(em, clusterId, during, "", last.id);
      return;
    }
    if (step) {
      ctx.audit.detail = `retried step ${step} of upgrade ${last.id}`;
      await requeue(em, ctx, step, job!, cluster);
    } else {
      // The upgrade stopped between steps (no room for a batch's surge nodes): decide the next
      // step again from the last that succeeded. Its placement locks quota rows and hosts after the
      // cluster, against the lock order: the one path that does (docs/compute.md, "Lock order").
      const [done] = await em.execute<{ id: string; kind: JobKind }[]>(
        `select o.id, o.kind from operation o join job j on j.operation_id = o.id
          where j.payload->>'upgradeOperationId' = ? and o.state = 'SUCCEEDED' order by o.create_time desc, o.id desc limit 1`,
        [last.id],
      );
      if (!done || !isUpgradeStep(done.kind)) throw new Error(`upgrade ${last.id} stopped before any step succeeded`);
      ctx.audit.detail = `retried upgrade ${last.id} after step ${done.id}`;
      await advanceUpgrade(em, { id: done.id, kind: done.kind });
    }
    // The upgrade may have stopped again at once (still no room): then it stays as it is.
    const [upgrade] = await em.execute<{ state: string }[]>("select state from operation where id = ?", [last.id]);
    if (upgrade?.state === "RUNNING") await setClusterStatus(em, clusterId, "UPDATING", "", last.id);
  });
  return getOperation(db, ctx, workflowId);
}

async function lockClusterForRetry(
  em: EntityManager,
  id: string,
  etag: string,
): Promise<{ id: string; tenantId: string; status: KubernetesClusterStatus }> {
  const [row] = await em.execute<{ tenant_id: string; status: KubernetesClusterStatus; version: number }[]>(
    "select tenant_id, status, version from kubernetes_cluster where id = ? for update",
    [id],
  );
  if (!row) throw new NotFoundError(CLUSTER, id);
  requireEtag(row.version, etag, CLUSTER, id);
  if (row.status !== "ERROR") {
    throw new FailedPreconditionError("NOTHING_TO_RETRY", `cluster ${id} is ${row.status}`, { cluster_id: id, status: row.status });
  }
  return { id, tenantId: row.tenant_id, status: row.status };
}

interface LockedJob {
  readonly id: string;
  readonly wait_for_operation_ids: string[] | null;
}

/** The operation's job, locked. */
async function lockJob(em: EntityManager, operationId: string): Promise<LockedJob> {
  const [job] = await em.execute<LockedJob[]>("select id, wait_for_operation_ids from job where operation_id = ? for update", [
    operationId,
  ]);
  if (!job) throw new Error(`operation ${operationId} has no job to run again`);
  return job;
}

/**
 * The operation's job (locked by the caller) queued again with fresh attempts, the operation
 * PENDING with its error cleared. A node deletion it waited for that failed is started again (the
 * node is still reserved); a node creation that failed cannot be (its reservation went with it):
 * delete the pool or cluster.
 */
async function requeue(
  em: EntityManager,
  ctx: CallContext,
  operationId: string,
  job: LockedJob,
  cluster: { id: string; tenantId: string },
): Promise<void> {
  const waited = job.wait_for_operation_ids ?? [];
  const failed =
    waited.length === 0
      ? []
      : await em.execute<{ id: string; kind: JobKind; resource_id: string }[]>(
          "select id, kind, resource_id from operation where id = any(array[?]::uuid[]) and state in ('FAILED', 'CANCELLED') order by id",
          [waited],
        );
  const replacements = new Map<string, string>();
  for (const operation of failed) {
    if (operation.kind !== "DELETE_VIRTUAL_MACHINE") {
      throw new FailedPreconditionError(
        "NODE_NOT_RETRIABLE",
        `node VM ${operation.resource_id} could not be built (operation ${operation.id}) and holds no reservation any more: delete the pool or the cluster`,
        { cluster_id: cluster.id, operation_id: operation.id, virtual_machine_id: operation.resource_id },
      );
    }
    replacements.set(operation.id, await deleteNodeAgain(em, ctx, cluster, operation.resource_id));
  }
  await em.execute(
    `update job set state = 'QUEUED', attempt = 0, agent_id = '', lease_token = '', lease_expire_time = null, update_time = now(),
            wait_for_operation_ids = ?::text[] where id = ?`,
    [`{${waited.map((id) => replacements.get(id) ?? id).join(",")}}`, job.id],
  );
  await reopen(em, operationId, "PENDING", `retried by ${ctx.principal.name}`);
  await em.execute("select pg_notify('rackplane_job', '')");
}

async function reopen(em: EntityManager, operationId: string, state: "PENDING" | "RUNNING", message: string): Promise<void> {
  await em.execute(
    `update operation set state = ?, progress_percent = case when ? = 'PENDING' then 0 else progress_percent end, message = ?, error_code = '',
            error_reason = '', error_message = '', error_metadata = '{}', done_time = null, update_time = now() where id = ?`,
    [state, state, message, operationId],
  );
  await em.execute("select pg_notify('rackplane_operation', ?)", [operationId]);
}

/** A node VM whose deletion failed (ERROR, still reserved), with a new delete operation and job. */
async function deleteNodeAgain(
  em: EntityManager,
  ctx: CallContext,
  cluster: { id: string; tenantId: string },
  vmId: string,
): Promise<string> {
  const [vm] = await em.execute<{ name: string; state: string; group_id: string; baremetal_id: string }[]>(
    "select name, state, group_id, baremetal_id from virtual_machine where id = ? for update",
    [vmId],
  );
  const operationId = newId();
  await em.execute(
    "update virtual_machine set state = 'DELETING', active_operation_id = ?, state_change_time = now(), version = version + 1, update_time = now() where id = ?",
    [operationId, vmId],
  );
  await startOperation(em, ctx, {
    id: operationId,
    kind: "DELETE_VIRTUAL_MACHINE",
    resourceType: "virtual_machine",
    resourceId: vmId,
    tenantId: cluster.tenantId,
    previousState: vm!.state,
    groupId: vm!.group_id,
    baremetalId: vm!.baremetal_id,
    payload: { virtualMachineId: vmId, name: vm!.name, clusterId: cluster.id },
  });
  return operationId;
}
