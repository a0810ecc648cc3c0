// rackplane agent SDK: write a provision agent by writing one handler per job kind.
//
//   const agent = new Agent({ servers: ["10.0.0.1:8080"], token, agentId: "kvm-fra1-042",
//     scope: { groupIds: [group] }, maxConcurrentJobs: 8,
//     handlers: { CREATE_VIRTUAL_MACHINE: async (job, { progress, signal }) => { …; return { facts } } } });
//   agent.start();  …  await agent.stop({ graceMs: 10_000 });
//
// See docs/agents.md for the protocol underneath.
export { Agent, type ClusterHealthReport, type ObservedVmState, type StopOptions } from "./agent.js";
export { tlsCredentials } from "./connection.js";
export { AgentStoppedError, JobError, LeaseLostError, type JobErrorOptions } from "./errors.js";
export {
  jobKinds,
  type AgentOptions,
  type AgentScope,
  type AgentStats,
  type BackoffOptions,
  type Job,
  type JobContext,
  type JobHandler,
  type JobKind,
  type JobResult,
  type LogFn,
  type LogLevel,
  type VirtualMachineFacts,
} from "./types.js";
