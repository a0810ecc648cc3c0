// Errors a handler throws, errors the SDK aborts handlers with, and how the SDK reads the server's
// gRPC errors (status code plus google.rpc.ErrorInfo from grpc-status-details-bin).
import { status as Status, type ServiceError } from "@grpc/grpc-js";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { ErrorInfo } from "../../gen/grpc-js/google/rpc/error_details.js";

export interface JobErrorOptions {
  /** The agent's own error code, e.g. "libvirt.VIR_ERR_NO_DOMAIN" (default "AGENT_ERROR"). */
  readonly agentCode?: string;
  /** True when retrying cannot help (bad image, unsupported request): the operation fails at once. */
  readonly permanent?: boolean;
  /** True when the host lacks capacity (the platform answers RESOURCE_EXHAUSTED). */
  readonly capacity?: boolean;
  readonly cause?: unknown;
}

/** Thrown by a handler to fail its job with a code and a retry hint. Any other error fails the job
 * as transient with agent code "HANDLER_ERROR". */
export class JobError extends Error {
  override readonly name = "JobError";
  readonly agentCode: string;
  readonly permanent: boolean;
  readonly capacity: boolean;

  constructor(message: string, options: JobErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.agentCode = options.agentCode ?? "AGENT_ERROR";
    this.permanent = options.permanent ?? false;
    this.capacity = options.capacity ?? false;
  }
}

/** The abort reason when the server says the lease is gone: another agent may own the job now. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
  constructor(readonly jobId: string) {
    super(`lease of job ${jobId} lost`);
  }
}

/** The abort reason when the agent stopped before the handler finished. */
export class AgentStoppedError extends Error {
  override readonly name = "AgentStoppedError";
  constructor() {
    super("agent stopped");
  }
}

/** google.rpc.ErrorInfo of a gRPC error, if the server attached one. gen/grpc-js has ErrorInfo but
 * not google.rpc.Status, so the status envelope is read by hand (three fields). */
export function errorInfoOf(error: unknown): ErrorInfo | undefined {
  const metadata = (error as Partial<ServiceError> | undefined)?.metadata;
  const [bin] = metadata?.get("grpc-status-details-bin") ?? [];
  if (!(bin instanceof Uint8Array)) return undefined;
  try {
    for (const detail of decodeStatusDetails(bin)) {
      if (detail.typeUrl.endsWith("/google.rpc.ErrorInfo")) return ErrorInfo.decode(detail.value);
    }
  } catch {
    // Undecodable details are no reason to lose the error itself.
  }
  return undefined;
}

export function codeOf(error: unknown): Status | undefined {
  const code = (error as Partial<ServiceError> | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

/** FAILED_PRECONDITION / LEASE_LOST: the job is no longer this lease's; abandon it. */
export function isLeaseLost(error: unknown): boolean {
  return codeOf(error) === Status.FAILED_PRECONDITION && errorInfoOf(error)?.reason === "LEASE_LOST";
}

/** Errors worth trying again: the server or the network had a moment, the request was fine.
 * Everything else (INVALID_ARGUMENT, UNAUTHENTICATED, FAILED_PRECONDITION…) would fail the same way. */
export function isTransient(error: unknown): boolean {
  switch (codeOf(error)) {
    case Status.UNAVAILABLE:
    case Status.DEADLINE_EXCEEDED:
    case Status.RESOURCE_EXHAUSTED:
    case Status.ABORTED:
    case Status.INTERNAL:
    case Status.UNKNOWN:
    case Status.CANCELLED:
      return true;
    default:
      return codeOf(error) === undefined; // not a gRPC error at all (e.g. the client was closed)
  }
}

/** Short fields for a log line. */
export function describeError(error: unknown): Record<string, unknown> {
  const code = codeOf(error);
  const reason = errorInfoOf(error)?.reason;
  return {
    error: error instanceof Error ? ((error as Partial<ServiceError>).details ?? error.message) : String(error),
    ...(code !== undefined ? { code: Status[code] } : {}),
    ...(reason ? { reason } : {}),
  };
}

function decodeStatusDetails(bytes: Uint8Array): { typeUrl: string; value: Uint8Array }[] {
  const details: { typeUrl: string; value: Uint8Array }[] = [];
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== 3) {
      reader.skip(wireType); // 1: code, 2: message
      continue;
    }
    const any = new BinaryReader(reader.bytes());
    const detail: { typeUrl: string; value: Uint8Array } = { typeUrl: "", value: new Uint8Array() };
    while (any.pos < any.len) {
      const [anyField, anyWireType] = any.tag();
      if (anyField === 1) detail.typeUrl = any.string();
      else if (anyField === 2) detail.value = any.bytes();
      else any.skip(anyWireType);
    }
    details.push(detail);
  }
  return details;
}
