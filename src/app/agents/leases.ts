// Claiming jobs under a lease, and taking back leases that expired. A claim is one statement: the
// oldest ready jobs in the agent's scope, `FOR UPDATE SKIP LOCKED` so replicas and agents racing
// for work never block on each other nor take the same job, and never a job whose resource has an
// earlier job unfinished — a resource's jobs run in order (a stop never overtakes its create) — and
// never one that waits for an operation that has not succeeded (a cluster's bootstrap, for its nodes).
import type { JobKind } from "../../domain/operations.js";
import type { AgentTokenScope } from "../../domain/principal.js";
import { executeBound } from "../../persistence/bound.js";
import { readBound } from "../../persistence/reads.js";
import type { Database } from "../database.js";
import { completeOperation, failStrandedWaiters, operationStarted } from "../operations/completion.js";
import { lifecycleOf, type OpenSecrets } from "../operations/lifecycle.js";

export interface AgentScope {
  readonly jobKinds: readonly string[];
  readonly groupIds: readonly string[];
  readonly baremetalIds: readonly string[];
}

export interface ClaimedJob {
  readonly id: string;
  readonly kind: string;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly baremetalId: string;
  readonly operationId: string;
  readonly payload: Record<string, unknown>;
  readonly attempt: number;
  readonly leaseToken: string;
  readonly leaseExpireTime: Date;
}

/** Leases up to `limit` ready jobs to the agent and marks their operations running, in one
 * transaction: jobs in the stream's scope and inside its token's (`confinement`; absent for the
 * whole fleet). */
export async function claimJobs(
  db: Database,
  agentId: string,
  scope: AgentScope,
  limit: number,
  leaseMillis: number,
  confinement?: AgentTokenScope,
  secrets?: OpenSecrets,
): Promise<ClaimedJob[]> {
  if (limit <= 0) return [];
  const ready = readyJobs(scope, confinement);
  return db.em().transactional(async (em) => {
    // The claim also starts each claimed job's operation that is still PENDING (a redelivered job's
    // runs already), in the same statement: job rows, then operation rows, the lock order.
    const rows = await executeBound<{
      id: string;
      kind: string;
      resource_type: string;
      resource_id: string;
      baremetal_id: string | null;
      operation_id: string;
      payload: Record<string, unknown>;
      attempt: number;
      lease_token: string;
      lease_expire_time: Date;
      started_kind: JobKind | null;
      previous_state: string | null;
    }>(
      em,
      `with ready as (
         select j.id from job j where ${ready.where}
          order by j.id limit ? for update skip locked),
       claimed as (
         update job set state = 'LEASED', attempt = job.attempt + 1, agent_id = ?, lease_token = gen_random_uuid()::text,
                        lease_expire_time = now() + ? * interval '1 millisecond', update_time = now()
           from ready where job.id = ready.id
         returning job.id, job.kind, job.resource_type, job.resource_id, job.baremetal_id, job.operation_id, job.payload, job.attempt,
                   job.lease_token, job.lease_expire_time),
       started as (
         update operation o set state = 'RUNNING', update_time = now()
           from (select distinct operation_id from claimed) c
          where o.id = c.operation_id and o.state = 'PENDING'
         returning o.id, o.kind, o.previous_state)
       select c.*, s.kind as started_kind, s.previous_state from claimed c left join started s on s.id = c.operation_id order by c.id`,
      [...ready.params, limit, agentId, leaseMillis],
    );
    const started = new Set<string>();
    for (const row of rows) {
      if (row.started_kind === null || started.has(row.operation_id)) continue;
      started.add(row.operation_id);
      await operationStarted(em, {
        id: row.operation_id,
        kind: row.started_kind,
        resourceType: row.resource_type,
        resourceId: row.resource_id,
        previousState: row.previous_state ?? "",
      });
    }
    // Secrets a kind needs join its payload here, on the way out: the job row never holds them.
    for (const row of rows) {
      const deliver = lifecycleOf(row.resource_type).deliveredSecrets;
      if (deliver && secrets)
        row.payload = { ...row.payload, ...(await deliver(em, { kind: row.kind, resourceId: row.resource_id }, secrets)) };
    }
    return rows.map((row) => ({
      id: row.id,
      kind: row.kind,
      resourceType: row.resource_type,
      resourceId: row.resource_id,
      baremetalId: row.baremetal_id ?? "",
      operationId: row.operation_id,
      payload: row.payload,
      attempt: row.attempt,
      leaseToken: row.lease_token,
      leaseExpireTime: new Date(row.lease_expire_time),
    }));
  });
}

/**
 * What a stream's look for work starts with, in one prepared read: how many jobs the agent holds
 * now (on any replica) and whether any job is ready for the stream. Only then does it claim, in a
 * transaction: most looks find nothing (more agents than work, or a look woken by a job another
 * agent took), and each of those used to cost a count, BEGIN, the claim and COMMIT, every one
 * planned afresh. A job that becomes ready just after this read announces itself and wakes the
 * stream again; one taken by another stream in between leaves the claim empty, as before.
 */
export async function lookForJobs(
  db: Database,
  agentId: string,
  scope: AgentScope,
  confinement?: AgentTokenScope,
): Promise<{ held: number; ready: boolean }> {
  const ready = readyJobs(scope, confinement);
  const [row] = await readBound<{ held: number; ready: boolean }>(
    db.em(),
    `select (select count(*)::int from job where state = 'LEASED' and agent_id = ?) as held,
            exists (select 1 from job j where ${ready.where}) as ready`,
    [agentId, ...ready.params],
  );
  return { held: row?.held ?? 0, ready: row?.ready ?? false };
}

/**
 * The condition (on `job j`) that a job is ready for a stream: queued, in the stream's scope and
 * inside its token's (every non-empty list restricts: domain/agent-scope.ts), no earlier job of its
 * resource unfinished, and every operation it waits for succeeded. Its arrays are bound parameters,
 * one each (executeBound, readBound).
 */
function readyJobs(scope: AgentScope, confinement: AgentTokenScope | undefined): { where: string; params: unknown[] } {
  const any = (type: string) => `any(?::${type}[])`;
  const conditions = ["j.state = 'QUEUED'"];
  const params: unknown[] = [];
  if (scope.jobKinds.length > 0) {
    conditions.push(`j.kind = ${any("text")}`);
    params.push(scope.jobKinds);
  }
  const places: string[] = [];
  if (scope.groupIds.length > 0) {
    places.push(`j.group_id = ${any("uuid")}`);
    params.push(scope.groupIds);
  }
  if (scope.baremetalIds.length > 0) {
    places.push(`j.baremetal_id = ${any("uuid")}`);
    params.push(scope.baremetalIds);
  }
  if (places.length > 0) conditions.push(`(${places.join(" or ")})`);
  if (confinement && confinement.jobKinds.length > 0) {
    conditions.push(`j.kind = ${any("text")}`);
    params.push(confinement.jobKinds);
  }
  if (confinement && confinement.groupIds.length > 0) {
    conditions.push(`j.group_id = ${any("uuid")}`);
    params.push(confinement.groupIds);
  }
  if (confinement && confinement.datacenterIds.length > 0) {
    conditions.push(`exists (select 1 from baremetal b where b.id = j.baremetal_id and b.datacenter_id = ${any("uuid")})`);
    params.push(confinement.datacenterIds);
  }
  conditions.push(
    `not exists (select 1 from job e where e.resource_type = j.resource_type and e.resource_id = j.resource_id
                   and e.id < j.id and e.state in ('QUEUED', 'LEASED'))`,
    "not exists (select 1 from operation w where w.id = any(j.wait_for_operation_ids::uuid[]) and w.state <> 'SUCCEEDED')",
  );
  return { where: conditions.join("\n and "), params };
}

/**
 * Takes back leases that ran out (an agent crashed, or lost its network): the job goes back to the
 * queue for another agent in scope, with its lease token cleared so a late report from the old
 * holder is refused — or, after its last attempt, fails its operation. Returns how many jobs were
 * requeued.
 *
 * Each job that fails does so in a transaction of its own: failing a creation releases its
 * reservation (its quota row, then its host), and one transaction releasing two would take the
 * second quota row after the first host, against the one lock order (docs/compute.md).
 */
export async function expireLeases(db: Database): Promise<number> {
  const requeued = await db.em().transactional(async (em) => {
    const rows = await em.execute<{ id: string }[]>(
      `with expired as (select id from job where state = 'LEASED' and lease_expire_time < now() and attempt < max_attempts
                          for update skip locked)
       update job set state = 'QUEUED', agent_id = '', lease_token = '', lease_expire_time = null, update_time = now()
         from expired where job.id = expired.id
       returning job.id`,
    );
    if (rows.length > 0) await em.execute("select pg_notify('rackplane_job', '')");
    return rows.length;
  });
  const last = await db
    .em()
    .execute<{ id: string }[]>(
      "select id from job where state = 'LEASED' and lease_expire_time < now() and attempt >= max_attempts order by id",
    );
  for (const { id } of last) {
    await db.em().transactional(async (em) => {
      const [row] = await em.execute<{ operation_id: string; agent: string; attempt: number; kind: string }[]>(
        `with expired as (select id, agent_id from job where id = ? and state = 'LEASED' and lease_expire_time < now()
                            for update skip locked)
         update job set state = 'FAILED', agent_id = '', lease_token = '', lease_expire_time = null, update_time = now()
           from expired where job.id = expired.id
         returning job.operation_id, expired.agent_id as agent, job.attempt, job.kind`,
        [id],
      );
      if (!row) return;
      await completeOperation(em, row.operation_id, {
        succeeded: false,
        error: {
          code: "DEADLINE_EXCEEDED",
          reason: "LEASE_EXPIRED",
          message: `no agent finished ${row.kind} in ${row.attempt} attempt(s): the last holder (${row.agent}) stopped renewing its lease`,
          metadata: { agent_id: row.agent, attempt: String(row.attempt) },
        },
      });
    });
  }
  // Queued jobs waiting for an operation that failed or was cancelled (a report that found them
  // locked left them): they fail too. Cluster operations only move their cluster, no reservation.
  await db.em().transactional((em) => failStrandedWaiters(em));
  return requeued;
}
