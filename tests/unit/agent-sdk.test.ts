// The agent SDK against a fake AgentService: a real @grpc/grpc-js Server with the generated service
// definition on 127.0.0.1:0, speaking the contract (leases that really expire, LEASE_LOST with
// google.rpc.ErrorInfo, idempotent final reports). Real clients, real servers, over loopback.
import { randomUUID } from "node:crypto";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorInfo } from "../../gen/grpc-js/google/rpc/error_details.js";
import { ObservationOutcome, type ObservationReport } from "../../gen/grpc-js/rackplane/v1/observation.js";
import {
  AgentServiceService,
  JobReportState,
  ObservedState,
  type AgentJob,
  type AgentServiceServer,
  type ReportJobRequest,
  type ReportResourceStateRequest,
  type StreamJobsRequest,
  type StreamJobsResponse,
} from "../../gen/grpc-js/rackplane/v1/agent.js";
import {
  Agent,
  AgentStoppedError,
  JobError,
  jobKinds,
  LeaseLostError,
  type AgentOptions,
  type JobHandler,
} from "../../src/agent-sdk/index.js";
import { fullJitter } from "../../src/agent-sdk/backoff.js";
import { OutcomeCache } from "../../src/agent-sdk/outcome-cache.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { jobKinds as serverJobKinds } from "../../src/domain/operations.js";

const token = "rpt_test-agent-token";

interface Held {
  token: string;
  attempt: number;
  expireTime: Date;
  /** The final report once recorded. */
  final?: ReportJobRequest;
  job: AgentJob;
}

/** What the server side of the contract does, kept small: jobs are pushed by the test. */
class FakeAgentService {
  readonly streams: grpc.ServerWritableStream<StreamJobsRequest, StreamJobsResponse>[] = [];
  readonly streamRequests: StreamJobsRequest[] = [];
  readonly reports: ReportJobRequest[] = [];
  readonly refusedReports: ReportJobRequest[] = [];
  readonly resourceStates: ReportResourceStateRequest[] = [];
  readonly held = new Map<string, Held>();
  readonly streamOpenTimes: number[] = [];
  leaseMs = 30_000;
  /** The next this many ReportJob calls fail with UNAVAILABLE (a replica restarting). */
  failNextReports = 0;
  unavailableReports = 0;
  observations: ObservationReport[] = [];
  /** When set, each StreamJobs is ended at once with this status (a replica refusing work). */
  refuseStreams: grpc.status | undefined;
  private server!: grpc.Server;
  address = "";

  async start(): Promise<this> {
    this.server = new grpc.Server();
    const impl: AgentServiceServer = {
      streamJobs: (call) => {
        if (!this.authorized(call.metadata)) {
          call.emit("error", { code: grpc.status.UNAUTHENTICATED, details: "no token" }); // how grpc-js ends a server stream with a status
          return;
        }
        this.streamOpenTimes.push(Date.now());
        this.streamRequests.push(call.request);
        if (this.refuseStreams !== undefined) {
          call.emit("error", { code: this.refuseStreams, details: "refused" });
          return;
        }
        this.streams.push(call);
        const forget = () => {
          const index = this.streams.indexOf(call);
          if (index >= 0) this.streams.splice(index, 1);
        };
        call.on("cancelled", forget);
        call.on("close", forget);
      },
      reportJob: (call, callback) => {
        if (!this.authorized(call.metadata)) return callback(Object.assign(new Error("no token"), { code: grpc.status.UNAUTHENTICATED }));
        const request = call.request;
        if (this.failNextReports > 0) {
          this.failNextReports--;
          this.unavailableReports++;
          return callback({ code: grpc.status.UNAVAILABLE, details: "replica restarting" });
        }
        const held = this.held.get(request.jobId);
        if (!held) return callback(Object.assign(new Error("no such job"), { code: grpc.status.NOT_FOUND }));
        if (held.final) {
          // Repeating the final report is a no-op, whatever token it carries.
          if (request.state === held.final.state) {
            this.reports.push(request);
            return callback(null, { leaseExpireTime: undefined, applied: false });
          }
        }
        if (request.leaseToken !== held.token || held.final || held.expireTime.getTime() < Date.now()) {
          this.refusedReports.push(request);
          return callback(leaseLost(request.jobId));
        }
        this.reports.push(request);
        if (request.state === JobReportState.JOB_REPORT_STATE_IN_PROGRESS) {
          held.expireTime = new Date(Date.now() + this.leaseMs);
          return callback(null, { leaseExpireTime: held.expireTime, applied: true });
        }
        held.final = request;
        return callback(null, { leaseExpireTime: undefined, applied: true });
      },
      reportResourceState: (call, callback) => {
        this.resourceStates.push(call.request);
        callback(null, { state: call.request.state === ObservedState.OBSERVED_STATE_CRASHED ? "ERROR" : "RUNNING" });
      },
      reportObservations: (call, callback) => {
        this.observations.push(...call.request.observations);
        callback(null, {
          outcomes: call.request.observations.map(() => ObservationOutcome.OBSERVATION_OUTCOME_ACCEPTED),
          acceptedCount: call.request.observations.length,
        });
      },
      listAgents: (_call, callback) => callback(null, { agents: [], nextPageToken: "" }),
    };
    this.server.addService(AgentServiceService, impl);
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    this.address = `127.0.0.1:${port}`;
    return this;
  }

  /** Leases a job (new or again, with a new token and a higher attempt) and pushes it down the
   * newest stream. The earlier token, if any, is lost from now on. */
  push(job: { id?: string; kind?: string; payload?: Record<string, unknown> } = {}): AgentJob {
    const id = job.id ?? randomUUID();
    const previous = this.held.get(id);
    const agentJob: AgentJob = {
      id,
      kind: job.kind ?? previous?.job.kind ?? "CREATE_VIRTUAL_MACHINE",
      resourceType: "virtual_machine",
      resourceId: (job.payload?.virtualMachineId as string | undefined) ?? previous?.job.resourceId ?? randomUUID(),
      baremetalId: randomUUID(),
      operationId: previous?.job.operationId ?? randomUUID(),
      payload: job.payload ?? previous?.job.payload ?? { name: "vm-1" },
      attempt: (previous?.attempt ?? 0) + 1,
      leaseToken: randomUUID().replaceAll("-", ""),
      leaseExpireTime: new Date(Date.now() + this.leaseMs),
    };
    // A new lease: the job is live again (a redelivery after a lost final report, or a retry).
    this.held.set(id, { token: agentJob.leaseToken, attempt: agentJob.attempt, expireTime: agentJob.leaseExpireTime!, job: agentJob });
    const stream = this.streams.at(-1);
    if (!stream) throw new Error("no open stream");
    stream.write({ job: agentJob });
    return agentJob;
  }

  /** The lease is gone (expired, or handed to another agent): the next report gets LEASE_LOST. */
  revoke(jobId: string): void {
    this.held.get(jobId)!.token = "revoked";
  }

  /** Ends every open stream cleanly, as a replica shutting down does. */
  endStreams(): void {
    for (const stream of [...this.streams]) stream.end();
    this.streams.length = 0;
  }

  reportsOf(jobId: string): ReportJobRequest[] {
    return this.reports.filter((report) => report.jobId === jobId);
  }

  finals(jobId?: string): ReportJobRequest[] {
    return this.reports.filter(
      (report) => report.state !== JobReportState.JOB_REPORT_STATE_IN_PROGRESS && (!jobId || report.jobId === jobId),
    );
  }

  close(): void {
    this.server.forceShutdown();
  }

  private authorized(metadata: grpc.Metadata): boolean {
    return metadata.get("authorization")[0] === `Bearer ${token}`;
  }
}

/** FAILED_PRECONDITION with google.rpc.Status { details: [ErrorInfo { reason: LEASE_LOST }] } in
 * grpc-status-details-bin, as rackplane sends it. */
function leaseLost(jobId: string): grpc.ServerErrorResponse {
  const info = ErrorInfo.encode({ reason: "LEASE_LOST", domain: "rackplane.dev", metadata: { job_id: jobId } }).finish();
  const any = new BinaryWriter().uint32(10).string("type.googleapis.com/google.rpc.ErrorInfo").uint32(18).bytes(info).finish();
  const status = new BinaryWriter()
    .uint32(8)
    .int32(grpc.status.FAILED_PRECONDITION)
    .uint32(18)
    .string("lease lost")
    .uint32(26)
    .bytes(any)
    .finish();
  const metadata = new grpc.Metadata();
  metadata.set("grpc-status-details-bin", Buffer.from(status));
  return Object.assign(new Error("lease lost"), { code: grpc.status.FAILED_PRECONDITION, details: "lease lost", metadata });
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fakeServer(): Promise<FakeAgentService> {
  const fake = await new FakeAgentService().start();
  cleanups.push(() => fake.close());
  return fake;
}

function startAgent(servers: string[], options: Partial<AgentOptions> & Pick<AgentOptions, "handlers">): Agent {
  const agent = new Agent({
    servers,
    token,
    agentId: "test-agent-1",
    scope: {},
    maxConcurrentJobs: 4,
    backoff: { baseMs: 20, capMs: 100 },
    minRenewIntervalMs: 10,
    ...options,
  });
  agent.start();
  cleanups.push(() => agent.stop({ graceMs: 200 }));
  return agent;
}

async function waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("agent SDK", () => {
  it("opens the stream with its identity and scope, runs the handler, and reports SUCCEEDED with facts", async () => {
    const fake = await fakeServer();
    const seen: unknown[] = [];
    const agent = startAgent([fake.address], {
      scope: { groupIds: ["0190f0b4-0000-7000-8000-000000000001"] },
      handlers: {
        CREATE_VIRTUAL_MACHINE: async (job, { progress }) => {
          seen.push(job);
          await progress(50, "half-way");
          return { facts: { hypervisorId: "kvm-7", ipAddresses: ["10.1.2.3", "fd00::7"] }, message: "created" };
        },
        DELETE_VIRTUAL_MACHINE: async () => ({}),
      },
    });
    await waitFor(() => fake.streams.length > 0, "the stream");
    expect(fake.streamRequests[0]).toMatchObject({
      agentId: "test-agent-1",
      maxConcurrentJobs: 4,
      // No declared kinds: the agent asks for the kinds it has handlers for.
      scope: {
        jobKinds: ["CREATE_VIRTUAL_MACHINE", "DELETE_VIRTUAL_MACHINE"],
        groupIds: ["0190f0b4-0000-7000-8000-000000000001"],
        baremetalIds: [],
      },
    });
    await waitFor(() => agent.stats().connected, "connected");

    const vmId = randomUUID();
    const job = fake.push({ payload: { virtualMachineId: vmId, name: "web-1", resources: { cpuCores: 2, memoryMib: 4096 } } });
    await waitFor(() => fake.finals(job.id).length === 1, "the final report");

    expect(seen).toEqual([
      {
        id: job.id,
        kind: "CREATE_VIRTUAL_MACHINE",
        resourceType: "virtual_machine",
        resourceId: vmId,
        baremetalId: job.baremetalId,
        operationId: job.operationId,
        payload: { virtualMachineId: vmId, name: "web-1", resources: { cpuCores: 2, memoryMib: 4096 } },
        attempt: 1,
      },
    ]);
    const [progress, final] = fake.reportsOf(job.id);
    expect(progress).toMatchObject({
      leaseToken: job.leaseToken,
      state: JobReportState.JOB_REPORT_STATE_IN_PROGRESS,
      progressPercent: 50,
      message: "half-way",
    });
    expect(final).toMatchObject({
      leaseToken: job.leaseToken,
      state: JobReportState.JOB_REPORT_STATE_SUCCEEDED,
      message: "created",
      facts: { hypervisorId: "kvm-7", ipAddresses: ["10.1.2.3", "fd00::7"] },
    });
    await waitFor(() => agent.stats().inFlight === 0, "the job to leave");
    expect(agent.stats()).toEqual({ connected: true, server: fake.address, inFlight: 0, completed: 1, failed: 0, redeliveries: 0 });
  });

  it("reports failures: JobError codes and hints, plain errors as transient, unknown kinds and bad facts as permanent", async () => {
    const fake = await fakeServer();
    const agent = startAgent([fake.address], {
      scope: { jobKinds: [] }, // every kind, including those without a handler
      handlers: {
        CREATE_VIRTUAL_MACHINE: async (job) => {
          if (job.payload.name === "full")
            throw new JobError("no room on host", { agentCode: "libvirt.VIR_ERR_NO_MEMORY", capacity: true });
          if (job.payload.name === "bad-ip") return { facts: { hypervisorId: "x", ipAddresses: ["999.1.1.1"] } };
          throw new Error("connection to libvirtd reset");
        },
        STOP_VIRTUAL_MACHINE: async () => {
          throw new JobError("image is corrupt", { agentCode: "IMAGE_CORRUPT", permanent: true });
        },
      },
    });
    await waitFor(() => fake.streams.length > 0, "the stream");
    expect(fake.streamRequests[0]!.scope!.jobKinds).toEqual([]);
    const full = fake.push({ payload: { name: "full" } });
    const badIp = fake.push({ payload: { name: "bad-ip" } });
    const crash = fake.push({ payload: { name: "crash" } });
    const stop = fake.push({ kind: "STOP_VIRTUAL_MACHINE" });
    const reboot = fake.push({ kind: "REBOOT_VIRTUAL_MACHINE" });
    await waitFor(() => fake.finals().length === 5, "five final reports");

    const errorOf = (id: string) => {
      const [final] = fake.finals(id);
      expect(final!.state).toBe(JobReportState.JOB_REPORT_STATE_FAILED);
      return final!.error;
    };
    expect(errorOf(full.id)).toEqual({
      agentCode: "libvirt.VIR_ERR_NO_MEMORY",
      message: "no room on host",
      permanent: false,
      capacity: true,
    });
    expect(errorOf(badIp.id)).toMatchObject({ agentCode: "INVALID_RESULT", permanent: true });
    expect(errorOf(crash.id)).toEqual({
      agentCode: "HANDLER_ERROR",
      message: "connection to libvirtd reset",
      permanent: false,
      capacity: false,
    });
    expect(errorOf(stop.id)).toEqual({ agentCode: "IMAGE_CORRUPT", message: "image is corrupt", permanent: true, capacity: false });
    expect(errorOf(reboot.id)).toMatchObject({ agentCode: "UNSUPPORTED_JOB_KIND", permanent: true, capacity: false });
    expect(agent.stats()).toMatchObject({ completed: 0, failed: 5 });
  });

  it("renews the lease of a slow handler at about a third of the time left", async () => {
    const fake = await fakeServer();
    fake.leaseMs = 300; // the fake really expires leases: a late renewal would be LEASE_LOST
    startAgent([fake.address], {
      handlers: {
        CREATE_VIRTUAL_MACHINE: async () => {
          await sleep(1_200);
          return { facts: { hypervisorId: "slow-1" } };
        },
      },
    });
    await waitFor(() => fake.streams.length > 0, "the stream");
    const job = fake.push();
    await waitFor(() => fake.finals(job.id).length === 1, "the final report", 5_000);

    const heartbeats = fake.reportsOf(job.id).filter((r) => r.state === JobReportState.JOB_REPORT_STATE_IN_PROGRESS);
    // 1.2 s under a 300 ms lease renewed every ~100 ms: about a dozen renewals, none refused.
    expect(heartbeats.length).toBeGreaterThanOrEqual(6);
    expect(heartbeats.length).toBeLessThanOrEqual(20);
    expect(heartbeats.every((r) => r.leaseToken === job.leaseToken && r.progressPercent === 0)).toBe(true);
    expect(fake.refusedReports).toEqual([]);
    expect(fake.finals(job.id)[0]!.state).toBe(JobReportState.JOB_REPORT_STATE_SUCCEEDED);
  });

  it("on LEASE_LOST aborts the handler's signal and reports nothing more for that job", async () => {
    const fake = await fakeServer();
    fake.leaseMs = 300;
    let reason: unknown;
    let returned = false;
    const agent = startAgent([fake.address], {
      handlers: {
        CREATE_VIRTUAL_MACHINE: async (_job, { signal }) => {
          await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
          reason = signal.reason;
          await sleep(50);
          returned = true;
          // A careless handler that "succeeds" anyway must still not be reported.
          return { facts: { hypervisorId: "too-late" } };
        },
      },
    });
    await waitFor(() => fake.streams.length > 0, "the stream");
    const job = fake.push();
    await waitFor(() => fake.reportsOf(job.id).length > 0, "a first renewal");
    fake.revoke(job.id);

    await waitFor(() => returned, "the handler to return");
    expect(reason).toBeInstanceOf(LeaseLostError);
    await sleep(400); // more than a lease: renewals would have come by now
    expect(fake.refusedReports.filter((r) => r.jobId === job.id)).toHaveLength(1);
    expect(fake.finals(job.id)).toEqual([]);
    expect(agent.stats()).toMatchObject({ inFlight: 0, completed: 1, failed: 0 });
  });

  it("does not run a redelivered job twice: a finished one is re-reported under the new token, a running one adopts it", async () => {
    const fake = await fakeServer();
    fake.leaseMs = 400;
    const runs = new Map<string, number>();
    let release: () => void = () => {};
    const agent = startAgent([fake.address], {
      handlers: {
        CREATE_VIRTUAL_MACHINE: async (job) => {
          runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
          if (job.payload.name === "slow") await new Promise<void>((resolve) => (release = resolve));
          return { facts: { hypervisorId: `hv-${job.id.slice(0, 4)}`, ipAddresses: ["10.9.8.7"] } };
        },
      },
    });
    await waitFor(() => fake.streams.length > 0, "the stream");

    // Finished, then delivered again (say its report was lost and the lease expired).
    const first = fake.push({ payload: { name: "fast" } });
    await waitFor(() => fake.finals(first.id).length === 1, "the first outcome");
    const again = fake.push({ id: first.id });
    expect(again.attempt).toBe(2);
    expect(again.leaseToken).not.toBe(first.leaseToken);
    await waitFor(() => fake.finals(first.id).length === 2, "the outcome again");
    const [original, repeated] = fake.finals(first.id);
    expect(repeated).toMatchObject({ leaseToken: again.leaseToken, state: original!.state, facts: original!.facts });
    expect(runs.get(first.id)).toBe(1);

    // Still running when delivered again: the new token is adopted, the handler is not re-run.
    const slow = fake.push({ payload: { name: "slow" } });
    await waitFor(() => runs.get(slow.id) === 1, "the slow handler");
    const slowAgain = fake.push({ id: slow.id });
    await sleep(250); // renewals go out under the new token (the old one is refused by now)
    release();
    await waitFor(() => fake.finals(slow.id).length === 1, "the slow outcome");
    expect(fake.finals(slow.id)[0]).toMatchObject({ leaseToken: slowAgain.leaseToken, state: JobReportState.JOB_REPORT_STATE_SUCCEEDED });
    expect(runs.get(slow.id)).toBe(1);
    expect(fake.refusedReports.filter((r) => r.jobId === slow.id && r.leaseToken !== slow.leaseToken)).toEqual([]);
    expect(agent.stats()).toMatchObject({ completed: 2, failed: 0, redeliveries: 2 });
  });

  it("retries a final report the server could not take, and answers a redelivery after a lost report from its outcomes", async () => {
    const fake = await fakeServer();
    const runs = new Map<string, number>();
    const gates = new Map<string, () => void>();
    const agent = startAgent([fake.address], {
      handlers: {
        CREATE_VIRTUAL_MACHINE: async (job) => {
          runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
          await new Promise<void>((resolve) => gates.set(job.id, resolve));
          return { facts: { hypervisorId: "hv-kept", ipAddresses: ["192.0.2.10"] } };
        },
      },
    });
    await waitFor(() => fake.streams.length > 0, "the stream");

    // Two UNAVAILABLE answers, then the report goes through: one outcome, retried with backoff.
    const flaky = fake.push();
    await waitFor(() => gates.has(flaky.id), "the handler");
    fake.failNextReports = 2;
    gates.get(flaky.id)!();
    await waitFor(() => fake.finals(flaky.id).length === 1, "the report after two failures");
    expect(fake.unavailableReports).toBe(2);
    expect(fake.finals(flaky.id)[0]).toMatchObject({ leaseToken: flaky.leaseToken, state: JobReportState.JOB_REPORT_STATE_SUCCEEDED });

    // The lease expires just before the work is done: the final report is LEASE_LOST and the job
    // is given up. The server hands it out again; the agent answers with what it did, under the
    // new token, without touching the VM again.
    const late = fake.push();
    await waitFor(() => gates.has(late.id), "the second handler");
    fake.revoke(late.id);
    gates.get(late.id)!();
    await waitFor(() => fake.refusedReports.some((r) => r.jobId === late.id), "the refused report");
    await waitFor(() => agent.stats().inFlight === 0, "the job given up");
    expect(fake.finals(late.id)).toEqual([]);
    const again = fake.push({ id: late.id });
    await waitFor(() => fake.finals(late.id).length === 1, "the outcome under the new lease");
    expect(fake.finals(late.id)[0]).toMatchObject({
      leaseToken: again.leaseToken,
      state: JobReportState.JOB_REPORT_STATE_SUCCEEDED,
      facts: { hypervisorId: "hv-kept", ipAddresses: ["192.0.2.10"] },
    });
    expect(runs.get(late.id)).toBe(1);
    expect(agent.stats()).toMatchObject({ completed: 2, redeliveries: 1 });
  });

  it("runs a job again when the server retries it after a transient failure", async () => {
    const fake = await fakeServer();
    let calls = 0;
    startAgent([fake.address], {
      handlers: {
        CREATE_VIRTUAL_MACHINE: async () => {
          if (++calls === 1) throw new JobError("host busy", { agentCode: "BUSY" });
          return { facts: { hypervisorId: "hv-retry" } };
        },
      },
    });
    await waitFor(() => fake.streams.length > 0, "the stream");
    const job = fake.push();
    await waitFor(() => fake.finals(job.id).length === 1, "the failure");
    fake.push({ id: job.id }); // attempt 2 of the same job
    await waitFor(() => fake.finals(job.id).length === 2, "the retry's outcome");
    expect(fake.finals(job.id).map((r) => r.state)).toEqual([
      JobReportState.JOB_REPORT_STATE_FAILED,
      JobReportState.JOB_REPORT_STATE_SUCCEEDED,
    ]);
    expect(calls).toBe(2);
  });

  it("reconnects when the stream ends, round-robin over the servers, with backoff", async () => {
    const a = await fakeServer();
    const b = await fakeServer();
    const agent = startAgent([a.address, b.address], {
      handlers: { CREATE_VIRTUAL_MACHINE: async () => ({ facts: { hypervisorId: "hv" } }) },
    });
    await waitFor(() => a.streams.length === 1, "a stream on A");
    expect(agent.stats()).toMatchObject({ server: a.address });

    a.endStreams(); // A shuts down its streams
    await waitFor(() => b.streams.length === 1, "a stream on B");
    await waitFor(() => agent.stats().connected, "connected to B");
    expect(agent.stats().server).toBe(b.address);
    // Jobs flow over the new stream, and reports go to the server the stream uses.
    const job = b.push();
    await waitFor(() => b.finals(job.id).length === 1, "the report on B");
    expect(a.reports).toEqual([]);

    b.endStreams();
    await waitFor(() => a.streams.length === 1, "back on A");
    expect(a.streamRequests).toHaveLength(2);

    // A replica that refuses every stream: reconnects are spaced by the backoff (base 20 ms, cap
    // 100 ms, full jitter) — a handful per half second, not a busy loop — and never stop.
    a.refuseStreams = grpc.status.UNAVAILABLE;
    b.refuseStreams = grpc.status.UNAVAILABLE;
    const before = a.streamOpenTimes.length + b.streamOpenTimes.length;
    a.endStreams();
    await sleep(600);
    const attempts = a.streamOpenTimes.length + b.streamOpenTimes.length - before;
    expect(attempts).toBeGreaterThanOrEqual(4);
    expect(attempts).toBeLessThanOrEqual(60);
    expect(agent.stats().connected).toBe(false);

    b.refuseStreams = undefined;
    a.refuseStreams = undefined;
    await waitFor(() => a.streams.length + b.streams.length === 1, "a stream once the servers accept again");
  });

  it("never runs more handlers at once than max_concurrent_jobs, even when the server pushes more", async () => {
    const fake = await fakeServer();
    let running = 0;
    let peak = 0;
    const agent = startAgent([fake.address], {
      maxConcurrentJobs: 3,
      handlers: {
        CREATE_VIRTUAL_MACHINE: async () => {
          peak = Math.max(peak, ++running);
          await sleep(40);
          running--;
          return {};
        },
      },
    });
    await waitFor(() => fake.streams.length > 0, "the stream");
    expect(fake.streamRequests[0]!.maxConcurrentJobs).toBe(3);
    const jobs = Array.from({ length: 12 }, () => fake.push());
    await waitFor(() => agent.stats().inFlight === 12, "all twelve held");
    await waitFor(() => fake.finals().length === 12, "twelve outcomes");
    expect(peak).toBe(3);
    expect(new Set(fake.finals().map((r) => r.jobId))).toEqual(new Set(jobs.map((j) => j.id)));
    // Queued jobs kept their leases while waiting.
    expect(fake.refusedReports).toEqual([]);
  });

  it("stop() lets running handlers finish and report, within the grace period", async () => {
    const fake = await fakeServer();
    let finished = false;
    const agent = new Agent({
      servers: [fake.address],
      token,
      agentId: "stopper",
      scope: {},
      maxConcurrentJobs: 2,
      handlers: {
        CREATE_VIRTUAL_MACHINE: async () => {
          await sleep(300);
          finished = true;
          return { facts: { hypervisorId: "done-in-time" } };
        },
      },
    });
    agent.start();
    await waitFor(() => fake.streams.length > 0, "the stream");
    const job = fake.push();
    await sleep(50);
    const started = Date.now();
    await agent.stop({ graceMs: 5_000 });
    expect(finished).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(fake.finals(job.id)).toMatchObject([
      { state: JobReportState.JOB_REPORT_STATE_SUCCEEDED, facts: { hypervisorId: "done-in-time" } },
    ]);
    expect(fake.streams).toEqual([]); // the stream was cancelled
    expect(agent.stats()).toMatchObject({ inFlight: 0, completed: 1 });
  });

  it("stop() aborts handlers still running after the grace period and reports nothing for them", async () => {
    const fake = await fakeServer();
    let reason: unknown;
    const agent = new Agent({
      servers: [fake.address],
      token,
      agentId: "stopper-2",
      scope: {},
      maxConcurrentJobs: 2,
      handlers: {
        CREATE_VIRTUAL_MACHINE: (_job, { signal }) =>
          new Promise((_resolve, reject) =>
            signal.addEventListener("abort", () => {
              reason = signal.reason;
              reject(signal.reason);
            }),
          ),
      },
    });
    agent.start();
    await waitFor(() => fake.streams.length > 0, "the stream");
    const job = fake.push();
    await sleep(50);
    const started = Date.now();
    await agent.stop({ graceMs: 150 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(reason).toBeInstanceOf(AgentStoppedError);
    expect(fake.finals(job.id)).toEqual([]);
    expect(agent.stats()).toMatchObject({ inFlight: 0, completed: 0, failed: 0 });
  });

  it("reports resource state", async () => {
    const fake = await fakeServer();
    const agent = startAgent([fake.address], { handlers: { CREATE_VIRTUAL_MACHINE: async () => ({}) } });
    const vmId = randomUUID();
    await expect(agent.reportResourceState(vmId, "CRASHED", "qemu exited with signal 11")).resolves.toBe("ERROR");
    expect(fake.resourceStates).toEqual([
      { virtualMachineId: vmId, state: ObservedState.OBSERVED_STATE_CRASHED, reason: "qemu exited with signal 11" },
    ]);
  });

  it("refuses bad options", () => {
    const handlers = { CREATE_VIRTUAL_MACHINE: (async () => ({})) as JobHandler };
    const base = { servers: ["127.0.0.1:1"], token, agentId: "a", scope: {}, maxConcurrentJobs: 1, handlers };
    expect(() => new Agent({ ...base, maxConcurrentJobs: 0 })).toThrow(RangeError);
    expect(() => new Agent({ ...base, maxConcurrentJobs: 257 })).toThrow(RangeError);
    expect(() => new Agent({ ...base, agentId: "-bad" })).toThrow(RangeError);
    expect(() => new Agent({ ...base, servers: [] })).toThrow(RangeError);
    expect(() => new Agent({ ...base, handlers: {} })).toThrow(RangeError);
  });
});

describe("agent SDK parts", () => {
  it("knows the job kinds the server issues", () => {
    expect([...jobKinds]).toEqual([...serverJobKinds]);
  });

  it("backs off exponentially with full jitter, up to the cap", () => {
    const backoff = { baseMs: 200, capMs: 10_000 };
    expect([0, 1, 2, 3, 10, 60, 2_000].map((attempt) => fullJitter(attempt, backoff, () => 0.999_999))).toEqual([
      199, 399, 799, 1599, 9999, 9999, 9999,
    ]);
    expect(fullJitter(5, backoff, () => 0)).toBe(0);
  });

  it("keeps the most recent outcomes only", () => {
    const cache = new OutcomeCache(3);
    for (const id of ["a", "b", "c", "d"]) cache.set(id, { state: "SUCCEEDED", message: id });
    expect([cache.get("a"), cache.get("b")?.message, cache.get("d")?.message, cache.size]).toEqual([undefined, "b", "d", 3]);
  });
});

describe("simulated agent", () => {
  it("creates, stops, starts, reboots and deletes VMs, idempotently and with stable facts", async () => {
    const fake = await fakeServer();
    const agent = createSimulatedAgent({
      servers: [fake.address],
      token,
      agentId: "sim-test",
      latencyMs: 20,
      failureRate: 0,
      concurrency: 4,
      random: () => 0.5,
      sdk: { backoff: { baseMs: 20, capMs: 100 } },
    });
    agent.start();
    cleanups.push(() => agent.stop({ graceMs: 200 }));
    await waitFor(() => fake.streams.length > 0, "the stream");
    expect(fake.streamRequests[0]!.scope!.jobKinds).toEqual([...jobKinds]);

    const vmId = "0190f0b4-1111-7000-8000-00000000abcd";
    const run = async (kind: string, payload: Record<string, unknown> = {}) => {
      const job = fake.push({ kind, payload: { virtualMachineId: vmId, name: "sim-vm", ...payload } });
      await waitFor(() => fake.finals(job.id).length === 1, `${kind} to finish`);
      return { progress: fake.reportsOf(job.id)[0]!, final: fake.finals(job.id)[0]! };
    };
    const created = await run("CREATE_VIRTUAL_MACHINE");
    expect(created.progress).toMatchObject({ state: JobReportState.JOB_REPORT_STATE_IN_PROGRESS, progressPercent: 50 });
    expect(created.final.state).toBe(JobReportState.JOB_REPORT_STATE_SUCCEEDED);
    expect(created.final.facts!.hypervisorId).toBe("sim-1");
    const [ip] = created.final.facts!.ipAddresses;
    expect(ip).toMatch(/^10\.\d+\.\d+\.\d+$/);
    // The same VM created again (a new job for it, e.g. after the agent lost its cache): same facts.
    expect((await run("CREATE_VIRTUAL_MACHINE")).final.facts).toEqual(created.final.facts);

    expect((await run("STOP_VIRTUAL_MACHINE", { force: true })).final.state).toBe(JobReportState.JOB_REPORT_STATE_SUCCEEDED);
    expect((await run("REBOOT_VIRTUAL_MACHINE")).final.error).toMatchObject({ agentCode: "SIM_VM_NOT_RUNNING", permanent: true });
    expect((await run("START_VIRTUAL_MACHINE")).final.state).toBe(JobReportState.JOB_REPORT_STATE_SUCCEEDED);
    expect((await run("REBOOT_VIRTUAL_MACHINE")).final.facts).toEqual(created.final.facts);
    expect((await run("DELETE_VIRTUAL_MACHINE", { keepDataDisk: true })).final).toMatchObject({
      state: JobReportState.JOB_REPORT_STATE_SUCCEEDED,
      message: "deleted; data disk kept",
    });
    // Deleting what is gone succeeds; starting it is a permanent failure.
    expect((await run("DELETE_VIRTUAL_MACHINE")).final).toMatchObject({
      state: JobReportState.JOB_REPORT_STATE_SUCCEEDED,
      message: "already gone",
    });
    expect((await run("START_VIRTUAL_MACHINE")).final.error).toMatchObject({ agentCode: "SIM_VM_NOT_FOUND", permanent: true });

    // A failure rate of 1: every job fails, transiently.
    const flaky = createSimulatedAgent({
      servers: [fake.address],
      token,
      agentId: "sim-flaky",
      latencyMs: 10,
      failureRate: 1,
      sdk: { backoff: { baseMs: 20, capMs: 100 } },
    });
    await agent.stop({ graceMs: 100 });
    flaky.start();
    cleanups.push(() => flaky.stop({ graceMs: 200 }));
    await waitFor(() => fake.streamRequests.some((r) => r.agentId === "sim-flaky") && fake.streams.length > 0, "the flaky agent's stream");
    const failed = await run("CREATE_VIRTUAL_MACHINE");
    expect(failed.final.error).toMatchObject({ agentCode: "SIM_TRANSIENT", permanent: false, capacity: false });
  });
});
