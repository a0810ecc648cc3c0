// The SDK's public types. They are plain TypeScript, not the generated messages, so a handler
// never sees lease tokens, timestamps or enum numbers: leases are the SDK's business.
import type { ChannelCredentials } from "@grpc/grpc-js";

/** The job kinds rackplane issues today (the server's list is src/domain/operations.ts; a unit test
 * keeps the two equal). The SDK depends on the contract only, and the contract says "a string". */
export const jobKinds = [
  "CREATE_VIRTUAL_MACHINE",
  "START_VIRTUAL_MACHINE",
  "STOP_VIRTUAL_MACHINE",
  "REBOOT_VIRTUAL_MACHINE",
  "DELETE_VIRTUAL_MACHINE",
  "CREATE_KUBERNETES_CLUSTER",
  "DELETE_KUBERNETES_CLUSTER",
  "CREATE_NODE_POOL",
  "SCALE_NODE_POOL",
  "DELETE_NODE_POOL",
  "UPGRADE_KUBERNETES_CLUSTER",
  "UPGRADE_KUBERNETES_NODES",
  "REMOVE_KUBERNETES_NODES",
  "INSTALL_KUBERNETES_PLUGIN",
  "UPGRADE_KUBERNETES_PLUGIN",
  "UNINSTALL_KUBERNETES_PLUGIN",
] as const;
export type JobKind = (typeof jobKinds)[number];

/** A job as a handler sees it. */
export interface Job {
  /** The job's id: redeliveries carry the same one. */
  readonly id: string;
  /** What to do, e.g. "CREATE_VIRTUAL_MACHINE" (a string: a newer server may send kinds this SDK
   * does not know; they are refused as UNSUPPORTED_JOB_KIND unless a handler is registered). */
  readonly kind: string;
  readonly resourceType: string;
  readonly resourceId: string;
  /** The host the work happens on; "" when none. */
  readonly baremetalId: string;
  readonly operationId: string;
  /** Everything the agent needs, e.g. { virtualMachineId, name, resources, image } for a create,
   * { force } for a stop, { keepDataDisk } for a delete. */
  readonly payload: Record<string, unknown>;
  /** Which attempt this is, from 1. */
  readonly attempt: number;
}

export interface JobContext {
  /** Records progress and renews the lease. Resolves once the server has it (or after a transient
   * failure, which the lease keeper retries on its own); rejects with the abort reason when the
   * job was abandoned (lease lost, or the agent stopped), so `await progress(…)` stops a handler. */
  progress(percent: number, message?: string): Promise<void>;
  /** Aborted when the lease is lost or the agent stops: stop working, nothing more is reported. */
  readonly signal: AbortSignal;
}

/** What an agent learned about the resource it worked on: a VM, or a cluster (its endpoint). */
export interface VirtualMachineFacts {
  readonly hypervisorId?: string;
  readonly ipAddresses?: readonly string[];
  /** For CREATE_KUBERNETES_CLUSTER: the API server's URL, e.g. "https://10.0.0.10:6443". */
  readonly endpoint?: string;
}

export interface JobResult {
  /** For creates: the hypervisor's id and the VM's addresses. */
  readonly facts?: VirtualMachineFacts;
  /** A short human-readable status for the final report. */
  readonly message?: string;
}

/** Does the work. Returning means SUCCEEDED; throwing means FAILED (throw a JobError to say whether
 * retrying can help and whether capacity was the cause). */
export type JobHandler = (job: Job, context: JobContext) => Promise<JobResult | undefined>;

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFn = (level: LogLevel, message: string, fields: Record<string, unknown>) => void;

export interface AgentScope {
  /** Job kinds served; empty or absent means every kind. */
  readonly jobKinds?: readonly string[];
  /** Host groups served; empty (with no hosts) means every group. */
  readonly groupIds?: readonly string[];
  /** Individual hosts served, for an agent running on one hypervisor. */
  readonly baremetalIds?: readonly string[];
}

export interface BackoffOptions {
  /** First reconnect delay bound, ms (default 200). */
  readonly baseMs?: number;
  /** Largest reconnect delay bound, ms (default 10,000). */
  readonly capMs?: number;
}

export interface AgentOptions {
  /** Server addresses, host:port; the agent connects to one at a time, round-robin on reconnect. */
  readonly servers: readonly string[];
  /** The agent token, sent as `authorization: Bearer <token>`. */
  readonly token: string;
  /** The agent's stable name, e.g. "kvm-fra1-042". */
  readonly agentId: string;
  readonly scope: AgentScope;
  /** How many jobs run at once, 1 to 256. */
  readonly maxConcurrentJobs: number;
  /** One handler per kind served; a job of another kind is failed as UNSUPPORTED_JOB_KIND. */
  readonly handlers: Partial<Record<JobKind, JobHandler>>;
  readonly log?: LogFn;
  /** Free text for ListAgents: software and version. */
  readonly description?: string;
  /** Channel credentials (default: insecure, for a cleartext port; `tlsCredentials(ca)` for TLS). */
  readonly credentials?: ChannelCredentials;
  /** Reconnect backoff (exponential, full jitter). */
  readonly backoff?: BackoffOptions;
  /** Deadline of each ReportJob / ReportResourceState call, ms (default 10,000). */
  readonly callTimeoutMs?: number;
  /** Final outcomes remembered for redeliveries (default 10,000). */
  readonly outcomeCacheSize?: number;
  /** The shortest delay between two lease renewals, ms (default 100): a guard against a clock so
   * far off the server's that every lease looks expired on arrival. */
  readonly minRenewIntervalMs?: number;
}

export interface AgentStats {
  /** Whether the job stream is open on an established connection. */
  readonly connected: boolean;
  /** The server the stream uses (or last tried). */
  readonly server: string;
  /** Jobs this agent holds: queued locally, running, or being reported. */
  readonly inFlight: number;
  /** Handler runs that succeeded. */
  readonly completed: number;
  /** Handler runs that failed (including unsupported kinds and invalid results). */
  readonly failed: number;
  /** Deliveries of a job id this agent already held or had finished. */
  readonly redeliveries: number;
}

/** A job's final report, without the lease token (which changes with every delivery). */
export interface Outcome {
  readonly state: "SUCCEEDED" | "FAILED";
  readonly message: string;
  readonly facts?: { readonly hypervisorId: string; readonly ipAddresses: readonly string[]; readonly endpoint: string };
  readonly error?: { readonly agentCode: string; readonly message: string; readonly permanent: boolean; readonly capacity: boolean };
}
