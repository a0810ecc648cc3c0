// The agent protocol through a real server with a plain connect client: jobs stream to an agent
// under a lease, reports move the operation and the VM, stale leases are refused, repeats are
// no-ops, expired leases are redelivered with the attempt raised, and failures are translated.
import { ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { JobReportState, ObservedState, type AgentJob } from "../../gen/es/rackplane/v1/agent_pb.js";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let cloud: Cloud;
let agentToken = "";
beforeAll(async () => {
  t = await startTestServer(undefined, { leaseMillis: 2_000 });
  cloud = await buildCloud(t, { name: "ag", hosts: 2 });
  agentToken = await t.token(Role.AGENT, "agent-1");
});
afterAll(() => t.close());

/** Opens a stream (kept open until `close`) and waits until `count` jobs arrived (or the timeout). */
/** Opens a stream as `agentId` and waits until `count` jobs arrived (or `timeoutMs` passed). Its
 * close() returns once the server has seen the stream end: a stream the server still counts could
 * take the next test's job. */
async function take(agentId: string, count: number, timeoutMs = 10_000): Promise<{ jobs: AgentJob[]; close(): Promise<void> }> {
  const controller = new AbortController();
  const jobs: AgentJob[] = [];
  let enough: () => void = () => {};
  const arrived = new Promise<void>((resolve) => (enough = resolve));
  const stream = t
    .agents(agentToken)
    .streamJobs({ agentId, maxConcurrentJobs: 8, scope: { groupIds: [cloud.groupId] } }, { signal: controller.signal });
  void (async () => {
    try {
      for await (const message of stream) {
        jobs.push(message.job!);
        if (jobs.length >= count) enough();
      }
    } catch {
      // closed by the test
    }
  })();
  await Promise.race([arrived, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  return {
    jobs,
    close: async () => {
      controller.abort();
      await vi.waitFor(
        async () => {
          const { agents } = await t.agentsAdmin().listAgents({});
          expect(agents.filter((agent) => agent.id === agentId && agent.connected)).toEqual([]);
        },
        { timeout: 10_000, interval: 20 },
      );
    },
  };
}

const createVm = () =>
  t.compute().createVirtualMachine({
    tenantId: cloud.tenantId,
    target: { case: "groupId", value: cloud.groupId },
    specificationId: cloud.specificationId,
    imageId: cloud.imageId,
  });

async function reason(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error).findDetails(ErrorInfoSchema)[0]?.reason;
  }
  return "OK";
}

describe("the agent protocol", () => {
  it("streams a job under a lease; progress renews it; success moves the operation and the VM", async () => {
    const { virtualMachine, operation } = await createVm();
    const stream = await take("kvm-a", 1);
    const job = stream.jobs[0]!;
    expect(job).toMatchObject({ kind: "CREATE_VIRTUAL_MACHINE", resourceId: virtualMachine!.id, operationId: operation!.id, attempt: 1 });
    expect(job.payload).toMatchObject({ name: virtualMachine!.name });
    expect((await t.compute().getVirtualMachine({ id: virtualMachine!.id })).virtualMachine?.state).toBe(VirtualMachineState.PROVISIONING);
    const agents = t.agents(agentToken);
    const progress = await agents.reportJob({
      jobId: job.id,
      leaseToken: job.leaseToken,
      state: JobReportState.IN_PROGRESS,
      progressPercent: 40,
      message: "copying image",
    });
    expect(progress.leaseExpireTime).toBeDefined();
    expect((await t.operations().getOperation({ id: operation!.id })).operation).toMatchObject({
      state: OperationState.RUNNING,
      progressPercent: 40,
      message: "copying image",
    });
    const done = await agents.reportJob({
      jobId: job.id,
      leaseToken: job.leaseToken,
      state: JobReportState.SUCCEEDED,
      facts: { hypervisorId: "kvm-7", ipAddresses: ["10.1.2.3"] },
    });
    expect(done.applied).toBe(true);
    const again = await agents.reportJob({ jobId: job.id, leaseToken: job.leaseToken, state: JobReportState.SUCCEEDED });
    expect(again.applied).toBe(false);
    await stream.close();
    expect((await t.compute().getVirtualMachine({ id: virtualMachine!.id })).virtualMachine).toMatchObject({
      state: VirtualMachineState.RUNNING,
      hypervisorId: "kvm-7",
    });
    expect((await t.operations().getOperation({ id: operation!.id })).operation?.state).toBe(OperationState.SUCCEEDED);
  });

  it("takes back an expired lease: the job goes to another agent with the attempt raised, and the old lease is refused", async () => {
    const { operation } = await createVm();
    const first = await take("kvm-b", 1);
    const job = first.jobs[0]!;
    await first.close();
    // kvm-b goes silent; after the 2 s lease the job is handed out again.
    const second = await take("kvm-c", 1, 8_000);
    const again = second.jobs[0]!;
    expect(again).toMatchObject({ id: job.id, attempt: 2 });
    expect(again.leaseToken).not.toBe(job.leaseToken);
    expect(
      await reason(t.agents(agentToken).reportJob({ jobId: job.id, leaseToken: job.leaseToken, state: JobReportState.SUCCEEDED })),
    ).toBe("LEASE_LOST");
    await t.agents(agentToken).reportJob({ jobId: again.id, leaseToken: again.leaseToken, state: JobReportState.SUCCEEDED });
    await second.close();
    expect((await t.operations().getOperation({ id: operation!.id })).operation?.state).toBe(OperationState.SUCCEEDED);
  });

  it("retries a failed job while attempts remain, then fails the operation with the agent's error in the platform's format", async () => {
    const { virtualMachine, operation } = await createVm();
    for (let attempt = 1; attempt <= 3; attempt++) {
      const stream = await take("kvm-d", 1);
      const job = stream.jobs[0]!;
      expect(job.attempt).toBe(attempt);
      // Leave before reporting, so the retry goes to the next stream, not back to this one.
      await stream.close();
      await t.agents(agentToken).reportJob({
        jobId: job.id,
        leaseToken: job.leaseToken,
        state: JobReportState.FAILED,
        error: { agentCode: "VIR_ERR_INTERNAL", message: "qemu crashed" },
      });
    }
    const failed = (await t.operations().getOperation({ id: operation!.id })).operation!;
    expect(failed).toMatchObject({
      state: OperationState.FAILED,
      error: { code: "UNAVAILABLE", reason: "AGENT_FAILED", metadata: { agent_code: "VIR_ERR_INTERNAL", agent_id: "kvm-d", attempt: "3" } },
    });
    expect(failed.error?.message).toContain("qemu crashed");
    expect((await t.compute().getVirtualMachine({ id: virtualMachine!.id })).virtualMachine?.state).toBe(VirtualMachineState.ERROR);
  });

  it("lets an agent report what it observes, and lists agents with their jobs in flight", async () => {
    const { virtualMachine } = await createVm();
    const stream = await take("kvm-e", 1);
    const job = stream.jobs[0]!;
    const { agents } = await t.agentsAdmin().listAgents({});
    const listed = agents.find((agent) => agent.id === "kvm-e");
    expect(listed).toMatchObject({ connected: true, jobsInFlight: 1, principal: "agent-1" });
    await t.agents(agentToken).reportJob({ jobId: job.id, leaseToken: job.leaseToken, state: JobReportState.SUCCEEDED });
    await stream.close();
    const observed = await t
      .agents(agentToken)
      .reportResourceState({ virtualMachineId: virtualMachine!.id, state: ObservedState.CRASHED, reason: "kernel panic" });
    expect(observed.state).toBe("ERROR");
    expect((await t.compute().getVirtualMachine({ id: virtualMachine!.id })).virtualMachine?.state).toBe(VirtualMachineState.ERROR);
  });
});

describe("ordering", () => {
  it("never hands out a resource's later job while an earlier one is unfinished", async () => {
    // Two queued jobs of one VM, written directly: the API itself never lets a second verb start
    // while one is under way, so this checks the dispatcher's own guard beneath it.
    const { virtualMachine, operation } = await createVm();
    const em = t.server.db.em();
    const [first] = await em.execute<{ id: string }[]>("select id from job where operation_id = ?", [operation!.id]);
    const later = "ffffffff-ffff-7fff-bfff-ffffffffffff";
    const laterOperation = "ffffffff-ffff-7fff-bfff-fffffffffffe";
    await em.execute(
      `insert into operation (id, kind, resource_type, resource_id, state, requested_by, create_time, update_time)
       values (?, 'STOP_VIRTUAL_MACHINE', 'virtual_machine', ?, 'PENDING', 'test', now(), now())`,
      [laterOperation, virtualMachine!.id],
    );
    await em.execute(
      `insert into job (id, operation_id, kind, resource_type, resource_id, group_id, payload, state, create_time, update_time)
       values (?, ?, 'STOP_VIRTUAL_MACHINE', 'virtual_machine', ?, ?, '{}', 'QUEUED', now(), now())`,
      [later, laterOperation, virtualMachine!.id, cloud.groupId],
    );
    // Shorter than the 2 s lease, so the first job is not redelivered meanwhile.
    const stream = await take("kvm-order", 2, 1_200);
    expect(stream.jobs.map((job) => `${job.id} ${job.kind} ${job.resourceId}`)).toEqual([
      `${first!.id} CREATE_VIRTUAL_MACHINE ${virtualMachine!.id}`,
    ]);
    await t.agents(agentToken).reportJob({ jobId: first!.id, leaseToken: stream.jobs[0]!.leaseToken, state: JobReportState.SUCCEEDED });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(stream.jobs.map((job) => job.id)).toEqual([first!.id, later]);
    await stream.close();
  });
});

describe("stream requests", () => {
  it("are validated like any other: max_concurrent_jobs 0 is INVALID_ARGUMENT", async () => {
    const stream = t.agents(agentToken).streamJobs({ agentId: "kvm-bad", maxConcurrentJobs: 0, scope: {} });
    let code: string | undefined;
    try {
      for await (const _ of stream) break;
    } catch (error) {
      code = ConnectError.from(error).findDetails(ErrorInfoSchema)[0]?.reason;
    }
    expect(code).toBe("VALIDATION_FAILED");
    const { agents } = await t.agentsAdmin().listAgents({});
    expect(agents.find((agent) => agent.id === "kvm-bad")).toBeUndefined();
  });
});
