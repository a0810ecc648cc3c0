// What agents tell the server (API-3): job progress and outcomes under a lease, and states they
// observe outside any job. Each report is one transaction that moves the job, the operation and the
// resource together, audited with the agent as the principal.
import { LockMode } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import { requireRole } from "../../domain/principal.js";
import { Job, Operation as OperationEntity } from "../../persistence/entities/index.js";
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
    const job = await em.findOne(Job, { id: jobId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!job) throw new NotFoundError("job", jobId);
    await requireJobInScope(em, ctx.principal, job);
    agentId = job.agentId;
    if (job.leaseToken !== leaseToken) {
      throw new FailedPreconditionError(
        "LEASE_LOST",
        `the lease on job ${jobId} is no longer yours: it expired or the job was given to another agent; abandon it`,
        { job_id: jobId, job_state: job.state, attempt: String(job.attempt) },
      );
    }
    if (job.state !== "LEASED") return { leaseExpireTime: undefined, applied: false };
    ctx.audit.detail = `${report.state}${report.message ? `: ${report.message}` : ""}`;
    if (report.state === "IN_PROGRESS") {
      const leaseExpireTime = new Date(Date.now() + leaseMillis);
      em.assign(job, { leaseExpireTime, updateTime: new Date() });
      await em.nativeUpdate(
        OperationEntity,
        { id: job.operationId },
        { progressPercent: report.progressPercent, message: report.message, updateTime: new Date() },
      );
      await notify(em, "rackplane_operation", job.operationId);
      return { leaseExpireTime, applied: true };
    }
    if (report.state === "FAILED" && !report.error.permanent && job.attempt < job.maxAttempts) {
      // Another attempt, possibly by another agent; the holder's token no longer counts.
      em.assign(job, { state: "QUEUED", agentId: "", leaseToken: "", leaseExpireTime: null, updateTime: new Date() });
      await em.nativeUpdate(
        OperationEntity,
        { id: job.operationId },
        { message: `attempt ${job.attempt} failed: ${report.error.message}`, updateTime: new Date() },
      );
      await em.flush();
      await em.execute("select pg_notify('rackplane_job', ?), pg_notify('rackplane_job', ?), pg_notify('rackplane_operation', ?)", [
        job.groupId ?? "",
        `agent:${job.agentId}`,
        job.operationId,
      ]);
      return { leaseExpireTime: undefined, applied: true };
    }
    await em.flush();
    await completeOperation(
      em,
      job.operationId,
      report.state === "SUCCEEDED"
        ? { succeeded: true, facts: report.facts }
        : { succeeded: false, error: translate(report.error, job.agentId, job.kind, job.attempt) },
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
