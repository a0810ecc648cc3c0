// Keeps one job's lease alive and sends all of that job's reports. A lease ends at
// lease_expire_time unless an IN_PROGRESS report renews it; the keeper renews at a third of the time
// left, so two renewals can fail (a replica restarting, a slow network) before the lease is gone.
// The time comes from the server's own answer, so a server with other lease lengths just works.
//
// Reports of one job go out one at a time, in order: a heartbeat still on its way must not arrive
// after the final report (the server would refuse it, and the order of progress would be wrong).
// The token is read when a report is sent, so a redelivery (adopt) changes every later report.
import { JobReportState, ReportJobRequest, type ReportJobResponse } from "../../gen/grpc-js/rackplane/v1/agent.js";
import { describeError, isLeaseLost, isTransient } from "./errors.js";
import type { LogFn, Outcome } from "./types.js";

export interface Lease {
  readonly token: string;
  /** When the lease ends (server clock); undefined only from a server that did not say. */
  readonly expireTime: Date | undefined;
  readonly attempt: number;
}

/** How one report went, and under which token it was sent. */
export type ReportResult =
  | { readonly kind: "accepted"; readonly token: string; readonly response: ReportJobResponse }
  /** FAILED_PRECONDITION / LEASE_LOST: this token no longer holds the job (or the keeper was
   * stopped, and the report was not sent). */
  | { readonly kind: "lost"; readonly token: string }
  /** Refused for a reason a retry would not fix (INVALID_ARGUMENT, UNAUTHENTICATED…). */
  | { readonly kind: "refused"; readonly token: string; readonly error: unknown }
  /** The server or the network had a moment: try again. */
  | { readonly kind: "failed"; readonly token: string; readonly error: unknown };

export interface LeaseKeeperOptions {
  readonly send: (request: ReportJobRequest) => Promise<ReportJobResponse>;
  /** The lease this keeper holds is gone (its heartbeat was refused): abandon the job. */
  readonly onLost: (result: ReportResult) => void;
  readonly log: LogFn;
  readonly minRenewIntervalMs: number;
}

/** Renewal period when the server gave no expiry (it always does): a third of its 30 s default. */
const fallbackRenewMs = 10_000;

export class LeaseKeeper {
  private current: Lease;
  private percent = 0;
  private message = "";
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Heartbeats pause while the final report is on its way (it ends the lease anyway). */
  private finishing = false;
  private stopped = false;

  constructor(
    readonly jobId: string,
    lease: Lease,
    private readonly options: LeaseKeeperOptions,
  ) {
    this.current = lease;
  }

  get lease(): Lease {
    return this.current;
  }

  start(): void {
    const { expireTime } = this.current;
    if (expireTime && expireTime.getTime() <= Date.now()) {
      // Renewals still work (at the minimum interval), but this is worth a look.
      this.options.log("warn", "lease already expired on arrival by this host's clock; is it ahead of the server's?", {
        jobId: this.jobId,
        leaseExpireTime: expireTime.toISOString(),
      });
    }
    this.schedule();
  }

  /** The job was delivered again while held (our lease expired or a report was lost): the new
   * token is the only valid one now. */
  adopt(lease: Lease): void {
    this.current = lease;
    this.schedule();
  }

  /** Records progress and renews the lease now. */
  progress(percent: number, message?: string): Promise<ReportResult> {
    this.percent = Math.min(100, Math.max(0, Math.round(Number.isFinite(percent) ? percent : 0)));
    if (message !== undefined) this.message = truncate(message, 1024);
    return this.heartbeat();
  }

  /** Sends the final report under the current token; the caller retries on "failed". */
  finish(outcome: Outcome): Promise<ReportResult> {
    this.finishing = true;
    clearTimeout(this.timer);
    return this.send(
      ReportJobRequest.fromPartial({
        state: outcome.state === "SUCCEEDED" ? JobReportState.JOB_REPORT_STATE_SUCCEEDED : JobReportState.JOB_REPORT_STATE_FAILED,
        message: outcome.message,
        facts: outcome.facts
          ? { hypervisorId: outcome.facts.hypervisorId, ipAddresses: [...outcome.facts.ipAddresses], endpoint: outcome.facts.endpoint }
          : undefined,
        error: outcome.error,
      }),
    );
  }

  /** Back to work after a final report (the server retries the job under a lease we now hold). */
  resume(): void {
    this.finishing = false;
    this.percent = 0;
    this.message = "";
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private heartbeat(): Promise<ReportResult> {
    return this.send(
      ReportJobRequest.fromPartial({
        state: JobReportState.JOB_REPORT_STATE_IN_PROGRESS,
        progressPercent: this.percent,
        message: this.message,
      }),
      true,
    );
  }

  private send(fields: ReportJobRequest, isHeartbeat = false): Promise<ReportResult> {
    const attempt = async (): Promise<ReportResult> => {
      const token = this.current.token;
      // Given up (lost, or the agent stopped): a queued report must not go out after that.
      if (this.stopped) return { kind: "lost", token };
      try {
        const response = await this.options.send({ ...fields, jobId: this.jobId, leaseToken: token });
        // A renewal the server did not apply means the job is no longer leased under this token
        // (it ended): there is nothing left to keep alive.
        if (fields.state === JobReportState.JOB_REPORT_STATE_IN_PROGRESS && !response.applied) return { kind: "lost", token };
        if (response.leaseExpireTime && token === this.current.token)
          this.current = { ...this.current, expireTime: response.leaseExpireTime };
        return { kind: "accepted", token, response };
      } catch (error) {
        if (isLeaseLost(error)) return { kind: "lost", token };
        return isTransient(error) ? { kind: "failed", token, error } : { kind: "refused", token, error };
      }
    };
    const result = this.queue.then(attempt).then((outcome) => {
      if (isHeartbeat) this.afterHeartbeat(outcome);
      return outcome;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private afterHeartbeat(result: ReportResult): void {
    if (this.stopped) return;
    const stale = result.token !== this.current.token; // a redelivery replaced the token meanwhile
    if ((result.kind === "lost" || result.kind === "refused") && !stale) {
      if (result.kind === "refused")
        this.options.log("error", "lease renewal refused; abandoning the job", { jobId: this.jobId, ...describeError(result.error) });
      this.stop();
      this.options.onLost(result);
      return;
    }
    if (result.kind === "failed") {
      // Keep trying: the wait shrinks to a third of what is left each time, so a brief outage
      // costs a few quick retries, not the lease. Only the server says the lease is gone.
      this.options.log("warn", "lease renewal failed; retrying", { jobId: this.jobId, ...describeError(result.error) });
    }
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped || this.finishing) return;
    const { expireTime } = this.current;
    const delay = expireTime ? (expireTime.getTime() - Date.now()) / 3 : fallbackRenewMs;
    this.timer = setTimeout(() => void this.heartbeat(), Math.max(this.options.minRenewIntervalMs, delay));
  }
}

/** Cuts a string to at most `max` characters (code points, as protovalidate counts them). */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  return points.length <= max ? text : points.slice(0, max).join("");
}
