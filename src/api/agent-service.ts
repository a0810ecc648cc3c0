// rackplane.v1.AgentService.
import { create, type JsonObject } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AgentJobSchema, AgentSchema, JobReportState, ObservedState, type AgentService } from "../../gen/es/rackplane/v1/agent_pb.js";
import { listAgents } from "../app/agents/agents.js";
import { reportObservations } from "../app/agents/observations.js";
import type { ObservationSettings } from "../app/observations/latest.js";
import { observationOutcome, observationReport } from "./observation-mapping.js";
import { reportJob, reportResourceState, type JobReport } from "../app/agents/reports.js";
import type { Database } from "../app/database.js";
import type { Dispatcher } from "../agents/dispatcher.js";
import { callContext, listRequest, timestamp } from "./convert.js";
import { at, reads, type TargetRules } from "./request-targets.js";

export function agentService(
  db: Database,
  dispatcher: Dispatcher,
  leaseMillis: number,
  observations: ObservationSettings,
): ServiceImpl<typeof AgentService> {
  return {
    async *streamJobs(req, ctx) {
      const declaration = {
        agentId: req.agentId,
        scope: { jobKinds: req.scope?.jobKinds ?? [], groupIds: req.scope?.groupIds ?? [], baremetalIds: req.scope?.baremetalIds ?? [] },
        maxConcurrentJobs: req.maxConcurrentJobs,
        description: req.description,
      };
      for await (const job of dispatcher.stream(callContext(ctx), declaration, ctx.signal)) {
        yield {
          job: create(AgentJobSchema, {
            id: job.id,
            kind: job.kind,
            resourceType: job.resourceType,
            resourceId: job.resourceId,
            baremetalId: job.baremetalId,
            operationId: job.operationId,
            payload: job.payload as JsonObject,
            attempt: job.attempt,
            leaseToken: job.leaseToken,
            leaseExpireTime: timestamp(job.leaseExpireTime),
          }),
        };
      }
    },
    async reportJob(req, ctx) {
      const result = await reportJob(db, callContext(ctx), req.jobId, req.leaseToken, jobReport(req), leaseMillis);
      return { leaseExpireTime: timestamp(result.leaseExpireTime), applied: result.applied };
    },
    async reportResourceState(req, ctx) {
      const observed = req.state === ObservedState.RUNNING ? "RUNNING" : req.state === ObservedState.STOPPED ? "STOPPED" : "CRASHED";
      return {
        state: await reportResourceState(db, callContext(ctx), { type: "virtual_machine", id: req.virtualMachineId }, observed, req.reason),
      };
    },
    async reportObservations(req, ctx) {
      const result = await reportObservations(db, callContext(ctx), req.observations.map(observationReport), observations);
      return { outcomes: result.outcomes.map(observationOutcome), acceptedCount: result.acceptedCount };
    },
    async listAgents(req, ctx) {
      const page = await listAgents(db, callContext(ctx), listRequest({ ...req, filter: "" }));
      return {
        agents: page.items.map((agent) =>
          create(AgentSchema, {
            id: agent.agentId,
            principal: agent.principal,
            scope: {
              jobKinds: [...agent.scope.jobKinds],
              groupIds: [...agent.scope.groupIds],
              baremetalIds: [...agent.scope.baremetalIds],
            },
            maxConcurrentJobs: agent.maxConcurrentJobs,
            connected: agent.connected,
            replica: agent.replica,
            jobsInFlight: agent.jobsInFlight,
            description: agent.description,
            connectTime: timestamp(agent.connectTime),
            lastSeenTime: timestamp(agent.lastSeenTime),
          }),
        ),
        nextPageToken: page.nextPageToken,
      };
    },
  };
}

function jobReport(req: {
  state: JobReportState;
  progressPercent: number;
  message: string;
  facts?: { hypervisorId: string; ipAddresses: string[]; endpoint: string };
  error?: { agentCode: string; message: string; permanent: boolean; capacity: boolean };
}): JobReport {
  switch (req.state) {
    case JobReportState.IN_PROGRESS:
      return { state: "IN_PROGRESS", progressPercent: req.progressPercent, message: req.message };
    case JobReportState.SUCCEEDED:
      return {
        state: "SUCCEEDED",
        message: req.message,
        facts: {
          ...(req.facts?.hypervisorId ? { hypervisorId: req.facts.hypervisorId } : {}),
          ...(req.facts ? { ipAddresses: req.facts.ipAddresses } : {}),
          ...(req.facts?.endpoint ? { endpoint: req.facts.endpoint } : {}),
        },
      };
    default:
      return {
        state: "FAILED",
        message: req.message,
        error: {
          agentCode: req.error?.agentCode ?? "",
          message: req.error?.message || req.message || "the agent reported a failure",
          permanent: req.error?.permanent ?? false,
          capacity: req.error?.capacity ?? false,
        },
      };
  }
}

export const agentTargets: TargetRules<typeof AgentService> = {
  streamJobs: at("agent", () => ""),
  reportJob: at("job", (request) => request.jobId),
  reportResourceState: at("virtual_machine", (request) => request.virtualMachineId),
  reportObservations: at("observation", () => ""),
  listAgents: reads,
};
