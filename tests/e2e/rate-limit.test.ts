// Rate limits on mutations, per principal (RACKPLANE_RATE_LIMIT): past its burst a principal's
// change is refused with RESOURCE_EXHAUSTED, ErrorInfo RATE_LIMITED and a RetryInfo delay, audited
// as refused, and nothing is written; reads, other principals and agents' reports and job streams
// are not held back. The rate here is one change per 100 s, so nothing refills while the test runs.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { JobReportState, ObservedState } from "../../gen/es/rackplane/v1/agent_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
const secrets = { a: "", agent: "" };
beforeAll(async () => {
  t = await startTestServer(undefined, { rateLimit: { ratePerSecond: 0.01, burst: 3 } });
  // Two of the admin's three.
  secrets.a = await t.token(Role.SERVICE, "svc-a");
  secrets.agent = await t.token(Role.AGENT, "agent-busy");
});
afterAll(() => t?.close());

it("refuses a principal's changes past its burst with RATE_LIMITED and a retry delay, audited, writing nothing", async () => {
  const { inventory } = t.clients(secrets.a);
  for (const name of ["rl-1", "rl-2", "rl-3"]) await inventory.createRegion({ region: { name } });
  let refused: ConnectError | undefined;
  try {
    await inventory.createRegion({ region: { name: "rl-4" } });
  } catch (error) {
    refused = ConnectError.from(error);
  }
  expect(refused && Code[refused.code]).toBe("ResourceExhausted");
  expect(refused!.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: "RATE_LIMITED", domain: "rackplane.dev" });
  const delay = refused!.findDetails(RetryInfoSchema)[0]?.retryDelay;
  expect(Number(delay?.seconds ?? 0) * 1000 + (delay?.nanos ?? 0) / 1e6).toBeGreaterThan(90_000);

  // Reads go on, and show that the refused change made nothing.
  for (let i = 0; i < 5; i++) {
    const { regions } = await inventory.listRegions({ pageSize: 100 });
    expect(regions.map((region) => region.name).sort()).toEqual(["rl-1", "rl-2", "rl-3"]);
  }
  const { auditEvents } = await t.clients().audit.listAuditEvents({ filter: 'principal = "svc-a" AND result != "OK"', pageSize: 100 });
  expect(auditEvents.map((event) => [event.method, event.result, event.reason])).toEqual([
    ["rackplane.v1.InventoryService/CreateRegion", "RESOURCE_EXHAUSTED", "RATE_LIMITED"],
  ]);

  // Another principal has its own bucket (the admin's third change).
  const b = await t.token(Role.SERVICE, "svc-b");
  await t.clients(b).inventory.createRegion({ region: { name: "rl-b" } });
});

it("never holds back agents' reports and job streams", async () => {
  const agents = t.agents(secrets.agent);
  const nowhere = "00000000-0000-7000-8000-0000000000ee";
  for (let i = 0; i < 6; i++) {
    for (const call of [
      () => agents.reportJob({ jobId: nowhere, leaseToken: "lease", state: JobReportState.IN_PROGRESS }),
      () => agents.reportResourceState({ virtualMachineId: nowhere, state: ObservedState.RUNNING }),
    ]) {
      const code = await call().then(
        () => "OK",
        (error) => Code[ConnectError.from(error).code],
      );
      expect(code).toBe("NotFound");
    }
  }
  const controller = new AbortController();
  const ids = Array.from({ length: 6 }, (_, i) => `busy-${i}`);
  const ended = ids.map((agentId) =>
    (async () => {
      try {
        for await (const _ of agents.streamJobs({ agentId, maxConcurrentJobs: 1, scope: {} }, { signal: controller.signal }));
        return "ended";
      } catch (error) {
        return controller.signal.aborted ? "closed" : Code[ConnectError.from(error).code];
      }
    })(),
  );
  try {
    // Every stream connects (a refused one would end at once and never show up).
    for (;;) {
      const { agents: listed } = await t.agentsAdmin().listAgents({ pageSize: 100 });
      if (ids.every((id) => listed.some((agent) => agent.id === id && agent.connected))) break;
      const early = await Promise.race([Promise.race(ended), new Promise((resolve) => setTimeout(() => resolve(undefined), 50))]);
      expect(early).toBeUndefined();
    }
  } finally {
    controller.abort();
  }
  expect(await Promise.all(ended)).toEqual(ids.map(() => "closed"));
});
