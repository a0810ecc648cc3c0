// A retryable database error in a claim (a deadlock, a serialization failure) never ends an agent's
// stream: the claim is rolled back whole, and the stream runs it again. PostgreSQL itself raises the
// errors here: a trigger on this test's own database fails the claim's first two operation updates
// with 40P01 and 40001.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { AgentJob } from "../../gen/es/rackplane/v1/agent_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let cloud: Cloud;
let agentToken = "";
beforeAll(async () => {
  t = await startTestServer();
  cloud = await buildCloud(t, { name: "conflicts", hosts: 2 });
  agentToken = await t.token(Role.AGENT, "agent-conflicts");
  const em = t.server.db.em();
  await em.execute("create sequence injected_conflicts");
  await em.execute(`create function inject_conflict() returns trigger language plpgsql as $$
    begin
      if old.state = 'PENDING' and new.state = 'RUNNING' then
        case nextval('injected_conflicts')
          when 1 then raise exception 'injected deadlock' using errcode = '40P01';
          when 2 then raise exception 'injected serialization failure' using errcode = '40001';
          else null;
        end case;
      end if;
      return new;
    end $$`);
  await em.execute("create trigger inject_conflict before update on operation for each row execute function inject_conflict()");
});
afterAll(() => t.close());

it("runs a claim that hit a deadlock or serialization failure again, and the stream stays open", async () => {
  const controller = new AbortController();
  const jobs: AgentJob[] = [];
  let ended: string | undefined;
  const stream = t
    .agents(agentToken)
    .streamJobs({ agentId: "conflicted", maxConcurrentJobs: 4, scope: { groupIds: [cloud.groupId] } }, { signal: controller.signal });
  const reading = (async () => {
    try {
      for await (const message of stream) jobs.push(message.job!);
      ended = "the server ended the stream";
    } catch (error) {
      if (!controller.signal.aborted) ended = String(error);
    }
  })();
  const { operation } = await t.compute().createVirtualMachine({
    tenantId: cloud.tenantId,
    target: { case: "groupId", value: cloud.groupId },
    specificationId: cloud.specificationId,
    imageId: cloud.imageId,
  });
  const deadline = Date.now() + 15_000;
  while (jobs.length === 0 && ended === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const [injected] = await t.server.db
    .em()
    .execute<{ last_value: number; is_called: boolean }[]>("select last_value::int from injected_conflicts");
  controller.abort();
  await reading;
  expect(ended).toBeUndefined();
  expect(injected!.last_value).toBeGreaterThanOrEqual(3);
  expect(jobs.map((job) => ({ operationId: job.operationId, attempt: job.attempt }))).toEqual([{ operationId: operation!.id, attempt: 1 }]);
}, 30_000);
