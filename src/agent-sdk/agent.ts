// The agent: takes jobs from the stream, runs each under its lease with the handler for its kind,
// and reports the outcome exactly as the contract asks — once per lease, never after the lease is
// lost, and the same outcome again when the same job comes back.
//
// A job's life here (one Run per delivery that needs work):
//   received ─► waits for a handler slot ─► handler runs ─► final report (retried while transient)
//                 the lease keeper renews the lease from arrival until the final report is sent
//   a delivery of a job id already held       → adopt the new lease token, nothing else
//   a delivery of a job id finished earlier   → re-report the stored outcome under the new token
//   LEASE_LOST                                → abort the handler, report nothing more
import { isIP } from "node:net";
import { ObservedState, type AgentJob } from "../../gen/grpc-js/rackplane/v1/agent.js";
import type { KubernetesClusterHealth } from "../../gen/grpc-js/rackplane/v1/kubernetes_addons.js";
import type { ObservationOutcome, ObservationReport } from "../../gen/grpc-js/rackplane/v1/observation.js";
import { defaultBackoff, fullJitter, sleep, type Backoff } from "./backoff.js";
import { Connection, insecure } from "./connection.js";
import { AgentStoppedError, describeError, JobError, LeaseLostError } from "./errors.js";
import { LeaseKeeper, truncate, type Lease, type ReportResult } from "./lease-keeper.js";
import { isReplayable, OutcomeCache } from "./outcome-cache.js";
import { Slots } from "./slots.js";
import type { AgentOptions, AgentStats, Job, JobHandler, JobResult, LogFn, Outcome } from "./types.js";

export interface StopOptions {
  /** How long running handlers may take to finish (and report) before they are aborted (default 10 s). */
  readonly graceMs?: number;
}

/** What an agent observed of a VM outside any job. */
export type ObservedVmState = "RUNNING" | "STOPPED" | "CRASHED";

const observed: Record<ObservedVmState, ObservedState> = {
  RUNNING: ObservedState.OBSERVED_STATE_RUNNING,
  STOPPED: ObservedState.OBSERVED_STATE_STOPPED,
  CRASHED: ObservedState.OBSERVED_STATE_CRASHED,
};

/** A cluster health report as an agent sends it: the figures, without what only the server sets. */
export type ClusterHealthReport = Omit<KubernetesClusterHealth, "stale" | "receiveTime" | "traffic" | "nodePools"> &
  Partial<Pick<KubernetesClusterHealth, "traffic" | "nodePools">>;

/** One delivery of a job being worked on (or reported) by this agent. */
interface Run {
  readonly job: AgentJob;
  readonly lease: LeaseKeeper;
  readonly controller: AbortController;
  /** The lease is gone (or the agent stopped): nothing more is reported for this run. */
  abandoned: boolean;
  settled: Promise<void>;
}

const agentIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

export class Agent {
  private readonly log: LogFn;
  private readonly connection: Connection;
  private readonly handlers: Readonly<Record<string, JobHandler | undefined>>;
  private readonly runs = new Map<string, Run>();
  private readonly outcomes: OutcomeCache;
  private readonly slots: Slots;
  private readonly backoff: Backoff;
  private readonly minRenewIntervalMs: number;
  private readonly counters = { completed: 0, failed: 0, redeliveries: 0 };
  private state: "new" | "running" | "stopping" | "stopped" = "new";
  private stopping: Promise<void> | undefined;

  constructor(options: AgentOptions) {
    if (options.servers.length === 0) throw new RangeError("at least one server address is needed");
    if (!options.token) throw new RangeError("an agent token is needed");
    if (options.agentId.length > 128 || !agentIdPattern.test(options.agentId))
      throw new RangeError(`bad agent id ${JSON.stringify(options.agentId)}`);
    if (!Number.isInteger(options.maxConcurrentJobs) || options.maxConcurrentJobs < 1 || options.maxConcurrentJobs > 256) {
      throw new RangeError("maxConcurrentJobs must be an integer from 1 to 256");
    }
    // An agent without handlers would ask for every kind and fail each one permanently.
    if (!Object.values(options.handlers).some(Boolean)) throw new RangeError("at least one job handler is needed");
    this.log = options.log ?? (() => {});
    this.handlers = { ...options.handlers };
    this.outcomes = new OutcomeCache(options.outcomeCacheSize ?? 10_000);
    this.slots = new Slots(options.maxConcurrentJobs);
    this.backoff = { ...defaultBackoff, ...options.backoff };
    this.minRenewIntervalMs = options.minRenewIntervalMs ?? 100;
    // Without a declared list of kinds the agent asks only for those it has handlers for: an agent
    // that can create but not delete should not be sent deletes. [] asks for every kind.
    const jobKinds = options.scope.jobKinds ?? Object.keys(this.handlers).filter((kind) => this.handlers[kind]);
    this.connection = new Connection({
      servers: options.servers,
      token: options.token,
      credentials: options.credentials ?? insecure(),
      backoff: this.backoff,
      callTimeoutMs: options.callTimeoutMs ?? 10_000,
      log: this.log,
      request: {
        agentId: options.agentId,
        scope: {
          jobKinds: [...jobKinds],
          groupIds: [...(options.scope.groupIds ?? [])],
          baremetalIds: [...(options.scope.baremetalIds ?? [])],
        },
        maxConcurrentJobs: options.maxConcurrentJobs,
        description: truncate(options.description ?? "rackplane-agent-sdk", 256),
      },
      onJob: (job) => this.receive(job),
    });
  }

  /** Opens the job stream; jobs start flowing to the handlers. */
  start(): void {
    if (this.state !== "new") throw new Error(`agent cannot start: it is ${this.state}`);
    this.state = "running";
    this.connection.start();
  }

  /** Stops taking jobs, closes the stream, lets running handlers finish (and report) for up to
   * `graceMs`, then aborts the rest. An aborted job is not reported: its lease lapses and the
   * server hands it to another agent (the handler might still be touching the VM; a FAILED report
   * now could let a second agent start on it at once). */
  stop({ graceMs = 10_000 }: StopOptions = {}): Promise<void> {
    this.stopping ??= (async () => {
      this.state = "stopping";
      await this.connection.stop();
      const held = this.runs.size;
      if (!(await this.settleWithin(graceMs))) {
        this.log("warn", "aborting jobs still running after the grace period", { jobs: this.runs.size, graceMs });
        for (const run of this.runs.values()) this.abandon(run, new AgentStoppedError());
        // Aborted handlers get a moment to unwind; none of them reports anything.
        await this.settleWithin(Math.min(graceMs, 1_000));
      }
      this.connection.close();
      this.state = "stopped";
      this.log("info", "agent stopped", { heldAtStop: held, ...this.stats() });
    })();
    return this.stopping;
  }

  /** Tells the server what the agent sees of a VM outside any job (it crashed, was powered off,
   * came back). Resolves with the VM's state after the report, e.g. "ERROR". */
  async reportResourceState(virtualMachineId: string, state: ObservedVmState, reason = ""): Promise<string> {
    const response = await this.connection.reportResourceState({
      virtualMachineId,
      state: observed[state],
      reason: truncate(reason, 1024),
    });
    return response.state;
  }

  /** Reports what the agent observes of hosts and VMs (power, health, use), in calls of up to
   * 1,000. Resolves with one outcome per observation, in order (ACCEPTED, SUPERSEDED when the
   * server holds a newer one, NOT_FOUND outside the token's scope). */
  async reportObservations(observations: readonly ObservationReport[]): Promise<ObservationOutcome[]> {
    const outcomes: ObservationOutcome[] = [];
    for (let start = 0; start < observations.length; start += 1_000) {
      const response = await this.connection.reportObservations({ observations: observations.slice(start, start + 1_000) });
      outcomes.push(...response.outcomes);
    }
    return outcomes;
  }

  /** Reports what the agent sees inside a cluster (nodes, pods, traffic, and per pool the
   * autoscaler's input). Resolves with whether the server took it (false: it holds a newer one). */
  async reportKubernetesClusterHealth(clusterId: string, health: ClusterHealthReport): Promise<boolean> {
    const response = await this.connection.reportKubernetesClusterHealth({
      clusterId,
      health: { traffic: undefined, nodePools: [], ...health, stale: false, receiveTime: undefined },
    });
    return response.accepted;
  }

  stats(): AgentStats {
    return {
      connected: this.connection.connected,
      server: this.connection.server,
      inFlight: this.runs.size,
      ...this.counters,
    };
  }

  private receive(job: AgentJob): void {
    // A job arriving while stopping is not taken; its lease lapses and it goes to another agent.
    if (this.state !== "running") return;
    const previous = this.runs.get(job.id);
    if (previous && !previous.abandoned) {
      this.counters.redeliveries++;
      this.log("info", "job delivered again while held; adopting the new lease", { jobId: job.id, attempt: job.attempt });
      previous.lease.adopt(leaseOf(job));
      return;
    }
    if (previous || this.outcomes.get(job.id)) this.counters.redeliveries++;
    const controller = new AbortController();
    const run: Run = {
      job,
      controller,
      abandoned: false,
      settled: Promise.resolve(),
      lease: new LeaseKeeper(job.id, leaseOf(job), {
        send: (request) => this.connection.reportJob(request),
        onLost: (result) => this.leaseLost(run, result),
        log: this.log,
        minRenewIntervalMs: this.minRenewIntervalMs,
      }),
    };
    this.runs.set(job.id, run);
    this.log("debug", "job received", { jobId: job.id, kind: job.kind, resourceId: job.resourceId, attempt: job.attempt });
    run.settled = this.execute(run, previous?.settled).catch((error: unknown) => {
      this.log("error", "job run failed unexpectedly", { jobId: job.id, ...describeError(error) });
      this.close(run);
    });
  }

  private async execute(run: Run, previous: Promise<void> | undefined): Promise<void> {
    run.lease.start();
    // A redelivery of a job whose earlier run lost its lease waits for that run to unwind: the
    // same VM is never worked on twice at once (and its outcome, if it got that far, is reused).
    if (previous) await previous;
    let outcome = this.outcomes.get(run.job.id);
    for (;;) {
      if (run.abandoned) break;
      if (!outcome) {
        outcome = await this.work(run);
        if (!outcome) break;
      } else {
        this.log("info", "job already done; reporting its outcome again", { jobId: run.job.id, state: outcome.state });
      }
      if ((await this.deliver(run, outcome)) === "done") break;
      // The job came back under a new lease while the report was on its way. A stored outcome is
      // reported again; a transient failure is the server retrying, so the work is redone.
      if (!isReplayable(outcome)) {
        outcome = undefined;
        run.lease.resume();
      }
    }
    this.close(run);
  }

  /** Runs the handler in a slot. Undefined when the run was abandoned meanwhile. */
  private async work(run: Run): Promise<Outcome | undefined> {
    if (!(await this.slots.acquire(run.controller.signal))) return undefined;
    let outcome: Outcome;
    try {
      outcome = await this.invoke(run);
    } finally {
      this.slots.release();
    }
    // Work that succeeded is done even if the lease went meanwhile: remember it, so a redelivery
    // reports it instead of creating a second VM.
    if (isReplayable(outcome)) this.outcomes.set(run.job.id, outcome);
    if (run.abandoned && outcome.state === "FAILED") return undefined; // most likely our own abort
    if (outcome.state === "SUCCEEDED") this.counters.completed++;
    else this.counters.failed++;
    this.log(outcome.state === "SUCCEEDED" ? "info" : "warn", "job finished", {
      jobId: run.job.id,
      kind: run.job.kind,
      resourceId: run.job.resourceId,
      state: outcome.state,
      ...(outcome.error ? { agentCode: outcome.error.agentCode, permanent: outcome.error.permanent, error: outcome.error.message } : {}),
    });
    return run.abandoned ? undefined : outcome;
  }

  private async invoke(run: Run): Promise<Outcome> {
    const { job, controller, lease } = run;
    const handler = Object.hasOwn(this.handlers, job.kind) ? this.handlers[job.kind] : undefined;
    if (!handler) {
      return failure(new JobError(`this agent does not handle ${job.kind} jobs`, { agentCode: "UNSUPPORTED_JOB_KIND", permanent: true }));
    }
    const view: Job = Object.freeze({
      id: job.id,
      kind: job.kind,
      resourceType: job.resourceType,
      resourceId: job.resourceId,
      baremetalId: job.baremetalId,
      operationId: job.operationId,
      payload: job.payload ?? {},
      attempt: lease.lease.attempt,
    });
    const signal = controller.signal;
    const context = {
      signal,
      async progress(percent: number, message?: string): Promise<void> {
        signal.throwIfAborted();
        await lease.progress(percent, message);
        signal.throwIfAborted(); // a refused renewal aborted the signal before this resolves
      },
    };
    try {
      return success(await handler(view, context));
    } catch (error) {
      return failure(error);
    }
  }

  /** Sends the final report until the server answers it. "again": the job was delivered anew
   * (new token) while the report was on its way, so the caller decides what to do with it. */
  private async deliver(run: Run, outcome: Outcome): Promise<"done" | "again"> {
    const { job, lease } = run;
    for (let failures = 0; ; failures++) {
      const result = await lease.finish(outcome);
      const renewed = result.token !== lease.lease.token;
      switch (result.kind) {
        case "accepted":
          this.log("debug", "job reported", { jobId: job.id, state: outcome.state, applied: result.response.applied });
          return renewed ? "again" : "done";
        case "lost":
          if (renewed) return "again";
          this.leaseLost(run, result);
          return "done";
        case "refused":
          this.log("error", "final report refused; giving the job up", { jobId: job.id, ...describeError(result.error) });
          this.abandon(run, new LeaseLostError(job.id));
          return "done";
        case "failed": {
          if (run.abandoned) return "done";
          const delayMs = fullJitter(failures, this.backoff);
          this.log("warn", "final report failed; retrying", { jobId: job.id, delayMs, ...describeError(result.error) });
          await sleep(delayMs, run.controller.signal);
          if (run.abandoned) return "done";
        }
      }
    }
  }

  private leaseLost(run: Run, result: ReportResult): void {
    this.log("warn", "lease lost; abandoning the job", { jobId: run.job.id, token: result.token.slice(0, 8) });
    this.abandon(run, new LeaseLostError(run.job.id));
  }

  private abandon(run: Run, reason: Error): void {
    if (run.abandoned) return;
    run.abandoned = true;
    run.lease.stop();
    run.controller.abort(reason);
  }

  private close(run: Run): void {
    run.lease.stop();
    // Removed at once (not in a later callback), so a delivery that comes next starts a new run.
    if (this.runs.get(run.job.id) === run) this.runs.delete(run.job.id);
  }

  private async settleWithin(ms: number): Promise<boolean> {
    const all = Promise.all([...this.runs.values()].map((run) => run.settled));
    const timeout = new AbortController();
    const finished = await Promise.race([all.then(() => true), sleep(ms, timeout.signal).then(() => false)]);
    timeout.abort();
    return finished && this.runs.size === 0;
  }
}

function leaseOf(job: AgentJob): Lease {
  return { token: job.leaseToken, expireTime: job.leaseExpireTime, attempt: job.attempt };
}

/** A handler's result as a SUCCEEDED outcome, or a permanent failure when the facts would be
 * refused by the server (and refused again on every redelivery). */
function success(result: JobResult | undefined): Outcome {
  const message = truncate(result?.message ?? "", 1024);
  const facts = result?.facts;
  if (!facts) return { state: "SUCCEEDED", message };
  const hypervisorId = facts.hypervisorId ?? "";
  const ipAddresses = [...(facts.ipAddresses ?? [])];
  const bad =
    hypervisorId.length > 128
      ? "hypervisorId is longer than 128 characters"
      : ipAddresses.length > 16
        ? "more than 16 IP addresses"
        : ipAddresses.find((ip) => isIP(ip) === 0);
  if (bad !== undefined) {
    return failure(
      new JobError(`the handler returned invalid facts: ${bad.includes(" ") ? bad : `${JSON.stringify(bad)} is not an IP address`}`, {
        agentCode: "INVALID_RESULT",
        permanent: true,
      }),
    );
  }
  return { state: "SUCCEEDED", message, facts: { hypervisorId, ipAddresses, endpoint: facts.endpoint ?? "" } };
}

function failure(error: unknown): Outcome {
  const jobError = error instanceof JobError ? error : undefined;
  const message = truncate(error instanceof Error ? error.message : String(error), 2048);
  return {
    state: "FAILED",
    message: truncate(message, 1024),
    error: {
      agentCode: truncate(jobError?.agentCode ?? "HANDLER_ERROR", 128),
      message,
      permanent: jobError?.permanent ?? false,
      capacity: jobError?.capacity ?? false,
    },
  };
}
