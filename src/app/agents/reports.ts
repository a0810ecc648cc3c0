// What agents tell the server (API-3): job progress and outcomes under a lease, and states they
// observe outside any job. Each report is one transaction that moves the job, the operation and the
// resource together, audited with the agent as the principal.
import { FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import { requireRole } from "../../domain/principal.js";
import { notify } from "../../persistence/notifications.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { mutate } from "../mutation.js";
import { completeOperation } from "../operations/completion.js";
import { requireJobInScope, requirePlaceInScope } from "./scope.js";
import { type Facts, lifecycleOf, type ObservedState } from "../operations/lifecycle.js";

export interface AgentError {
  readonly agentCode: string;
  readonly message: string;
  /** Retrying cannot help: fail the operation now. */
  readonly permanent: boolean;
  /** The host lacked capacity. */
  readonly capacity: boolean;
}

export type JobReport =
  | { readonly state: "IN_PROGRESS"; readonly progressPercent: number; readonly message: string }
  | { readonly state: "SUCCEEDED"; readonly message: string; readonly facts: Facts }
  | { readonly state: "FAILED"; readonly message: string; readonly error: AgentError };

/** The job as a report reads it. */
interface JobRow {
  readonly id: string;
  readonly kind: string;
  readonly state: string;
  readonly agent_id: string;
  readonly lease_token: string;
  readonly attempt: number;
  readonly max_attempts: number;
  readonly operation_id: string;
  readonly group_id: string | null;
  readonly baremetal_id: string | null;
}

export interface ReportResult {
  /** When the lease now ends, for progress reports. */
  readonly leaseExpireTime: Date | undefined;
  /** False for a repeated final report: nothing changed. */
  readonly applied: boolean;
}

export async function reportJob(
  db: Database,
  ctx: CallContext,
  jobId: string,
  leaseToken: string,
  report: JobReport,
  leaseMillis: number,
): Promise<ReportResult> {
  requireRole(ctx.principal, ["AGENT"], "report jobs");
  let agentId = "";
  const result = await mutate(db, ctx, async (em): Promise<ReportResult> => {
    ctx.audit.resourceType = "job";
    ctx.audit.resourceId = jobId;
    // Plain SQL rather than entities: the report is the hottest write an agent makes, and it
    // touches each row once.
    const [row] = await em.execute<JobRow[]>(
      `select id, kind, state, agent_id, lease_token, attempt, max_attempts, operation_id, group_id, baremetal_id
         from job where id = ? for update`,
      [jobId],
    );
    if (!row) throw new NotFoundError("job", jobId);
    const job = { ...row, groupId: row.group_id, baremetalId: row.baremetal_id };
    await requireJobInScope(em, ctx.principal, job);
    agentId = job.agent_id;
    if (job.lease_token !== leaseToken) {
      throw new FailedPreconditionError(
        "LEASE_LOST",
        `the lease on job ${jobId} is no longer yours: it expired or the job was given to another agent; abandon it`,
        { job_id: jobId, job_state: job.state, attempt: String(job.attempt) },
      );
    }
    if (job.state !== "LEASED") return { leaseExpireTime: undefined, applied: false };
    ctx.audit.detail = `${report.state}${report.message ? `: ${report.message}` : ""}`;
    if (report.state === "IN_PROGRESS") {
      const [renewed] = await em.execute<{ lease_expire_time: Date }[]>(
        `with renewed as (update job set lease_expire_time = now() + ? * interval '1 millisecond', update_time = now() where id = ?
                          returning lease_expire_time),
              progress as (update operation set progress_percent = ?, message = ?, update_time = now() where id = ?)
         select lease_expire_time, pg_notify('rackplane_operation', ?) from renewed`,
        [leaseMillis, jobId, report.progressPercent, report.message, job.operation_id, job.operation_id],
      );
      return { leaseExpireTime: new Date(renewed!.lease_expire_time), applied: true };
    }
    if (report.state === "FAILED" && !report.error.permanent && job.attempt < job.max_attempts) {
      // Another attempt, possibly by another agent; the holder's token no longer counts.
      await em.execute(
        `with requeued as (update job set state = 'QUEUED', agent_id = '', lease_token = '', lease_expire_time = null, update_time = now()
                            where id = ?),
              noted as (update operation set message = ?, update_time = now() where id = ?)
         select pg_notify('rackplane_job', ?), pg_notify('rackplane_job', ?), pg_notify('rackplane_operation', ?)`,
        [
          jobId,
          `attempt ${job.attempt} failed: ${report.error.message}`,
          job.operation_id,
          job.group_id ?? "",
          `agent:${job.agent_id}`,
          job.operation_id,
        ],
      );
      return { leaseExpireTime: undefined, applied: true };
    }
    await completeOperation(
      em,
      job.operation_id,
      report.state === "SUCCEEDED"
        ? { succeeded: true, facts: report.facts }
        : { succeeded: false, error: translate(report.error, job.agent_id, job.kind, job.attempt) },
    );
    await notify(em, "rackplane_job", `agent:${agentId}`);
    return { leaseExpireTime: undefined, applied: true };
  });
  return result;
}

/** An agent's error in the platform's format (API-5): a code callers can act on, one stable
 * reason, and the agent's own details in metadata. */
export function translate(error: AgentError, agentId: string, kind: string, attempt: number) {
  const code = error.capacity ? "RESOURCE_EXHAUSTED" : error.permanent ? "FAILED_PRECONDITION" : "UNAVAILABLE";
  return {
    code,
    reason: "AGENT_FAILED",
    message: `${kind.toLowerCase().replaceAll("_", " ")} failed on agent ${agentId} (attempt ${attempt}): ${error.message}`,
    metadata: { agent_id: agentId, agent_code: error.agentCode, attempt: String(attempt) },
  };
}

/** A resource's observed state, outside any job: its lifecycle decides what the record makes of it
 * (app/operations/lifecycle.ts). Only inside the agent's scope: elsewhere it is NOT_FOUND, as for a
 * resource that does not exist. */
export async function reportResourceState(
  db: Database,
  ctx: CallContext,
  resource: { readonly type: string; readonly id: string },
  observed: ObservedState,
  reason: string,
): Promise<string> {
  requireRole(ctx.principal, ["AGENT"], "report resource states");
  const lifecycle = lifecycleOf(resource.type);
  return mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = resource.type;
    ctx.audit.resourceId = resource.id;
    ctx.audit.detail = `observed ${observed}${reason ? `: ${reason}` : ""}`;
    const place = await lifecycle.placeOf(em, resource.id);
    if (!place) throw new NotFoundError(resource.type, resource.id);
    await requirePlaceInScope(em, ctx.principal, resource, place);
    return lifecycle.acceptObserved(em, resource.id, observed, reason);
  });
}
