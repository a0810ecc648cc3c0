// Agents are confined (API-6), tested like the tenant isolation matrix: two agent tokens with
// disjoint scopes set by the admin — "east" confined to one datacenter, "west" to one host group and
// two job kinds. Each receives only its jobs; a report outside its scope is NOT_FOUND (exactly as for
// a job or VM that does not exist) and changes nothing; a stream may narrow its token's scope and is
// refused with PERMISSION_DENIED / AGENT_SCOPE_EXCEEDED when it asks for more.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { type AgentJob, type AgentScopeSchema, JobReportState, ObservedState } from "../../gen/es/rackplane/v1/agent_pb.js";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let east: Cloud;
let west: Cloud;
/** Agent tokens: confined to east's datacenter; to west's group and two kinds; the whole fleet. */
const secrets = { east: "", west: "", fleet: "" };
const streams: { close(): void }[] = [];

beforeAll(async () => {
  // A long lease: nothing is redelivered while a test looks.
  t = await startTestServer(undefined, { leaseMillis: 60_000 });
  east = await buildCloud(t, { name: "east", hosts: 2 });
  west = await buildCloud(t, { name: "west", hosts: 2 });
  const { identity } = t.clients();
  secrets.east = (
    await identity.createToken({ principal: "agent-east", role: Role.AGENT, agentScope: { datacenterIds: [east.datacenterId] } })
  ).secret;
  secrets.west = (
    await identity.createToken({
      principal: "agent-west",
      role: Role.AGENT,
      agentScope: { groupIds: [west.groupId], jobKinds: ["CREATE_VIRTUAL_MACHINE", "DELETE_VIRTUAL_MACHINE"] },
    })
  ).secret;
  secrets.fleet = await t.token(Role.AGENT, "agent-fleet");
});
afterAll(async () => {
  for (const stream of streams) stream.close();
  await t?.close();
});

interface OpenStream {
  readonly jobs: AgentJob[];
  /** Resolves once `count` jobs arrived; rejects with the stream's error. */
  waitFor(count: number): Promise<void>;
  /** The stream's error, once it ended with one. */
  readonly ended: Promise<ConnectError | undefined>;
  close(): void;
}

function open(who: keyof typeof secrets, agentId: string, scope: MessageInitShape<typeof AgentScopeSchema> = {}): OpenStream {
  const controller = new AbortController();
  const jobs: AgentJob[] = [];
  const waiters: (() => void)[] = [];
  let failed: ConnectError | undefined;
  const ended = (async () => {
    try {
      for await (const message of t
        .agents(secrets[who])
        .streamJobs({ agentId, maxConcurrentJobs: 8, scope }, { signal: controller.signal })) {
        jobs.push(message.job!);
        for (const wake of waiters.splice(0)) wake();
      }
    } catch (error) {
      if (!controller.signal.aborted) failed = ConnectError.from(error);
    }
    for (const wake of waiters.splice(0)) wake();
    return failed;
  })();
  const stream: OpenStream = {
    jobs,
    ended,
    async waitFor(count) {
      while (jobs.length < count) {
        if (failed) throw failed;
        await new Promise<void>((resolve) => waiters.push(resolve));
        if (failed) throw failed;
      }
    },
    close: () => controller.abort(),
  };
  streams.push(stream);
  return stream;
}

const createVm = async (cloud: Cloud) => {
  const { virtualMachine, operation } = await t.compute().createVirtualMachine({
    tenantId: cloud.tenantId,
    target: { case: "groupId", value: cloud.groupId },
    specificationId: cloud.specificationId,
    imageId: cloud.imageId,
  });
  return { vmId: virtualMachine!.id, operationId: operation!.id };
};

async function jobOf(operationId: string): Promise<{ id: string; kind: string; state: string; agent_id: string }> {
  const [row] = await t.server.db
    .em()
    .execute<{ id: string; kind: string; state: string; agent_id: string }[]>(
      "select id, kind, state, agent_id from job where operation_id = ?",
      [operationId],
    );
  return row!;
}

async function refusal(call: Promise<unknown>): Promise<{ code: string; reason: string; metadata: Record<string, string> }> {
  try {
    await call;
  } catch (e) {
    const error = ConnectError.from(e);
    const info = error.findDetails(ErrorInfoSchema)[0];
    return { code: Code[error.code], reason: info?.reason ?? "", metadata: { ...info?.metadata } };
  }
  throw new Error("expected the call to be refused, but it succeeded");
}

const vmState = async (id: string) => (await t.compute().getVirtualMachine({ id })).virtualMachine!.state;

describe("an agent token's scope", () => {
  it("is set by its issuer, shown on its view and to the agent, and only for agent tokens", async () => {
    const { identity } = t.clients();
    const { tokens } = await identity.listTokens({ filter: "role = ROLE_AGENT", pageSize: 100 });
    const byPrincipal = Object.fromEntries(tokens.map((token) => [token.principal, token.agentScope]));
    expect(byPrincipal["agent-east"]).toMatchObject({ datacenterIds: [east.datacenterId], groupIds: [], jobKinds: [] });
    expect(byPrincipal["agent-west"]).toMatchObject({
      datacenterIds: [],
      groupIds: [west.groupId],
      jobKinds: ["CREATE_VIRTUAL_MACHINE", "DELETE_VIRTUAL_MACHINE"],
    });
    expect(byPrincipal["agent-fleet"]).toBeUndefined();
    const me = await t.json("IdentityService/GetCallerIdentity", {}, secrets.west);
    expect(me.body.agentScope).toEqual({ groupIds: [west.groupId], jobKinds: ["CREATE_VIRTUAL_MACHINE", "DELETE_VIRTUAL_MACHINE"] });

    expect(
      await refusal(identity.createToken({ principal: "svc", role: Role.SERVICE, agentScope: { groupIds: [west.groupId] } })),
    ).toMatchObject({ code: "InvalidArgument", reason: "VALIDATION_FAILED" });
    const missing = "00000000-0000-7000-8000-00000000dc00";
    expect(
      await refusal(identity.createToken({ principal: "agent-x", role: Role.AGENT, agentScope: { datacenterIds: [missing] } })),
    ).toMatchObject({ code: "NotFound", reason: "RESOURCE_NOT_FOUND", metadata: { resource_type: "datacenter", resource_id: missing } });
  });
});

describe("agents with disjoint scopes", () => {
  let eastVm: { vmId: string; operationId: string };
  let westVm: { vmId: string; operationId: string };
  let eastStream: OpenStream;

  it("each receive only the jobs inside their token's scope", async () => {
    eastVm = await createVm(east);
    westVm = await createVm(west);
    // East looks first, with both jobs queued: one claim would take both if its scope leaked.
    eastStream = open("east", "kvm-east");
    await eastStream.waitFor(1);
    expect(eastStream.jobs.map((job) => job.resourceId)).toEqual([eastVm.vmId]);
    expect((await jobOf(westVm.operationId)).state).toBe("QUEUED");
    const westStream = open("west", "kvm-west");
    await westStream.waitFor(1);
    expect(westStream.jobs.map((job) => job.resourceId)).toEqual([westVm.vmId]);
    expect(eastStream.jobs).toHaveLength(1);

    for (const [who, job] of [
      ["east", eastStream.jobs[0]!],
      ["west", westStream.jobs[0]!],
    ] as const) {
      const done = await t.agents(secrets[who]).reportJob({ jobId: job.id, leaseToken: job.leaseToken, state: JobReportState.SUCCEEDED });
      expect(done.applied).toBe(true);
    }
    westStream.close();
    expect(await vmState(eastVm.vmId)).toBe(VirtualMachineState.RUNNING);
    expect(await vmState(westVm.vmId)).toBe(VirtualMachineState.RUNNING);
  });

  it("confines job kinds: a stop in west's group is not west's, while a later create is", async () => {
    const stop = await t.compute().stopVirtualMachine({ id: westVm.vmId });
    const create = await createVm(west);
    const westStream = open("west", "kvm-west-kinds");
    await westStream.waitFor(1);
    expect(westStream.jobs.map((job) => job.kind)).toEqual(["CREATE_VIRTUAL_MACHINE"]);
    // The claim took the create in the same statement that would have taken the earlier stop.
    expect(await jobOf(stop.operation!.id)).toMatchObject({ kind: "STOP_VIRTUAL_MACHINE", state: "QUEUED" });
    const job = westStream.jobs[0]!;
    expect(job.resourceId).toBe(create.vmId);
    // A fleet-wide agent takes the stop.
    const fleet = open("fleet", "kvm-fleet");
    await fleet.waitFor(1);
    expect(fleet.jobs.map((j) => j.operationId)).toEqual([stop.operation!.id]);
    await t
      .agents(secrets.fleet)
      .reportJob({ jobId: fleet.jobs[0]!.id, leaseToken: fleet.jobs[0]!.leaseToken, state: JobReportState.SUCCEEDED });
    await t.agents(secrets.west).reportJob({ jobId: job.id, leaseToken: job.leaseToken, state: JobReportState.SUCCEEDED });
    fleet.close();
    westStream.close();
    expect(await vmState(westVm.vmId)).toBe(VirtualMachineState.STOPPED);
  });

  it("refuse reports outside the scope as NOT_FOUND, like a job or VM that does not exist, and change nothing", async () => {
    const held = await createVm(east);
    await eastStream.waitFor(2);
    const job = eastStream.jobs[1]!;
    expect(job.resourceId).toBe(held.vmId);
    const nowhere = "00000000-0000-7000-8000-0000000000ff";
    const notFound = { code: "NotFound", reason: "RESOURCE_NOT_FOUND" };

    // West holds east's lease token (the worst case): still, the job is not west's to report.
    const westAgents = t.agents(secrets.west);
    for (const state of [JobReportState.IN_PROGRESS, JobReportState.SUCCEEDED, JobReportState.FAILED]) {
      expect(await refusal(westAgents.reportJob({ jobId: job.id, leaseToken: job.leaseToken, state }))).toMatchObject({
        ...notFound,
        metadata: { resource_type: "job", resource_id: job.id },
      });
    }
    expect(
      await refusal(westAgents.reportJob({ jobId: nowhere, leaseToken: job.leaseToken, state: JobReportState.SUCCEEDED })),
    ).toMatchObject(notFound);
    expect(await jobOf(held.operationId)).toMatchObject({ state: "LEASED", agent_id: "kvm-east" });
    const operation = (await t.operations().getOperation({ id: held.operationId })).operation!;
    expect(operation).toMatchObject({ state: OperationState.RUNNING, progressPercent: 0 });

    // Observed states: west may not speak for east's VM, nor east for west's.
    expect(
      await refusal(westAgents.reportResourceState({ virtualMachineId: eastVm.vmId, state: ObservedState.CRASHED, reason: "not mine" })),
    ).toMatchObject({ ...notFound, metadata: { resource_type: "virtual_machine", resource_id: eastVm.vmId } });
    expect(
      await refusal(
        t.agents(secrets.east).reportResourceState({ virtualMachineId: westVm.vmId, state: ObservedState.RUNNING, reason: "not mine" }),
      ),
    ).toMatchObject({ ...notFound, metadata: { resource_type: "virtual_machine", resource_id: westVm.vmId } });
    expect(
      await refusal(westAgents.reportResourceState({ virtualMachineId: nowhere, state: ObservedState.CRASHED, reason: "" })),
    ).toMatchObject(notFound);
    expect(await vmState(eastVm.vmId)).toBe(VirtualMachineState.RUNNING);
    expect(await vmState(westVm.vmId)).toBe(VirtualMachineState.STOPPED);

    // A job of west's group but of a kind outside its token: NOT_FOUND too, where a fleet-wide
    // token is told its lease is not valid.
    const start = await t.compute().startVirtualMachine({ id: westVm.vmId });
    const startJob = await jobOf(start.operation!.id);
    const fake = "not-a-lease";
    expect(await refusal(westAgents.reportJob({ jobId: startJob.id, leaseToken: fake, state: JobReportState.SUCCEEDED }))).toMatchObject(
      notFound,
    );
    expect(
      await refusal(t.agents(secrets.fleet).reportJob({ jobId: startJob.id, leaseToken: fake, state: JobReportState.SUCCEEDED })),
    ).toMatchObject({ code: "FailedPrecondition", reason: "LEASE_LOST" });

    // Every refusal is in the audit trail, as west's.
    const { auditEvents } = await t.clients().audit.listAuditEvents({ filter: 'principal = "agent-west"', pageSize: 100 });
    const refused = auditEvents.filter((event) => event.result === "NOT_FOUND").map((event) => event.method.split("/")[1]);
    expect(refused.filter((m) => m === "ReportJob")).toHaveLength(5);
    expect(refused.filter((m) => m === "ReportResourceState")).toHaveLength(2);

    // Inside its scope, east's reports count.
    const own = await t.agents(secrets.east).reportJob({ jobId: job.id, leaseToken: job.leaseToken, state: JobReportState.SUCCEEDED });
    expect(own.applied).toBe(true);
    expect(
      (await t.agents(secrets.east).reportResourceState({ virtualMachineId: eastVm.vmId, state: ObservedState.CRASHED, reason: "panic" }))
        .state,
    ).toBe("ERROR");
    // Leave no stream of east open: the next tests count on being the only ones serving east.
    eastStream.close();
  });
});

describe("a stream's scope", () => {
  it("may narrow its token's scope", async () => {
    const narrow = open("west", "kvm-west-narrow", { groupIds: [west.groupId], jobKinds: ["CREATE_VIRTUAL_MACHINE"] });
    const created = await createVm(west);
    await narrow.waitFor(1);
    expect(narrow.jobs[0]).toMatchObject({ resourceId: created.vmId, kind: "CREATE_VIRTUAL_MACHINE" });
    await t
      .agents(secrets.west)
      .reportJob({ jobId: narrow.jobs[0]!.id, leaseToken: narrow.jobs[0]!.leaseToken, state: JobReportState.SUCCEEDED });
    narrow.close();

    // East, confined to a datacenter, serving one host of it.
    const host = open("east", "kvm-east-host", { baremetalIds: [east.hostIds[0]!] });
    const onHost = await t.compute().createVirtualMachine({
      tenantId: east.tenantId,
      target: { case: "baremetalId", value: east.hostIds[0]! },
      specificationId: east.specificationId,
      imageId: east.imageId,
    });
    await host.waitFor(1);
    expect(host.jobs[0]).toMatchObject({ resourceId: onHost.virtualMachine!.id, baremetalId: east.hostIds[0] });
    host.close();
  });

  it("is refused with PERMISSION_DENIED naming what lies outside the token's scope, and the agent is not recorded", async () => {
    const cases: [keyof typeof secrets, string, MessageInitShape<typeof AgentScopeSchema>, Record<string, string>][] = [
      ["west", "wide-group", { groupIds: [west.groupId, east.groupId] }, { group_ids: east.groupId }],
      ["west", "wide-kind", { jobKinds: ["CREATE_VIRTUAL_MACHINE", "STOP_VIRTUAL_MACHINE"] }, { job_kinds: "STOP_VIRTUAL_MACHINE" }],
      ["west", "wide-host", { baremetalIds: [west.hostIds[0]!, east.hostIds[1]!] }, { baremetal_ids: east.hostIds[1]! }],
      ["east", "wide-host-east", { baremetalIds: [west.hostIds[0]!] }, { baremetal_ids: west.hostIds[0]! }],
    ];
    for (const [who, agentId, scope, metadata] of cases) {
      const error = await open(who, agentId, scope).ended;
      expect(error, agentId).toBeDefined();
      expect({
        code: Code[error!.code],
        reason: error!.findDetails(ErrorInfoSchema)[0]?.reason,
        metadata: error!.findDetails(ErrorInfoSchema)[0]?.metadata,
      }).toEqual({
        code: "PermissionDenied",
        reason: "AGENT_SCOPE_EXCEEDED",
        metadata,
      });
    }
    const { agents } = await t.agentsAdmin().listAgents({ pageSize: 100 });
    expect(agents.map((agent) => agent.id).filter((id) => id.startsWith("wide-"))).toEqual([]);
    const { auditEvents } = await t.clients().audit.listAuditEvents({ filter: 'reason = "AGENT_SCOPE_EXCEEDED"', pageSize: 100 });
    expect(auditEvents).toHaveLength(cases.length);
  });
});
