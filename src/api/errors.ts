// The one boundary where errors become wire errors (API-5): every failure reaches clients as a
// ConnectError carrying a google.rpc.ErrorInfo with a stable reason and, for bad input, a
// google.rpc.BadRequest listing the offending fields. gRPC, gRPC-Web and Connect JSON all carry the
// same details.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { isDatabaseUnavailable } from "../app/database-errors.js";
import { asDomainError } from "../app/mutation.js";
import { BatchRejectedError, DomainError, InvalidArgumentError, RateLimitedError } from "../domain/errors.js";

export const errorDomain = "rackplane.dev";

export function toConnectError(error: unknown): ConnectError {
  if (error instanceof DomainError) return fromDomainError(error);
  if (error instanceof ConnectError) {
    if (error.details.length > 0) return error;
    if (isUndecodableRequest(error)) return completeInPlace(error);
    return withInfo(error.rawMessage, error.code, codeName(error.code), {}, error);
  }
  if (clientWentAway(error)) return withInfo("the client closed the call", Code.Canceled, "CANCELED", {}, error);
  // A database conflict that escaped its use case's mapping is still only a conflict.
  const domain = asDomainError(error);
  if (domain instanceof DomainError) return fromDomainError(domain);
  if (isDatabaseUnavailable(error)) {
    const unavailable = withInfo(
      "the database is unavailable right now; retry shortly",
      Code.Unavailable,
      "DATABASE_UNAVAILABLE",
      {},
      error,
    );
    unavailable.details.push({ desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: { seconds: 1n, nanos: 0 } }) });
    return unavailable;
  }
  return withInfo("internal error; the server logged the details under this request's id", Code.Internal, "INTERNAL", {}, error);
}

/**
 * Gives a ConnectError the framework raised (it carries no details) its ErrorInfo, in place: the
 * framework writes the very object it raised, so the request gate can only amend it. A request
 * that does not decode is the caller's mistake whatever the protocol: connect reports JSON that
 * does not parse, a truncated envelope or a bad length as INVALID_ARGUMENT, but a binary body that
 * does not parse (bad bytes, invalid UTF-8, a Struct nested too deep) as INTERNAL, the code a client
 * uses for a server's bad answer. Both become INVALID_ARGUMENT / MALFORMED_REQUEST here, once.
 */
export function completeInPlace(error: ConnectError): ConnectError {
  if (error.details.length > 0) return error;
  const malformed = isUndecodableRequest(error);
  if (malformed && error.code !== Code.InvalidArgument) {
    Object.assign(error as { code: Code; message: string }, {
      code: Code.InvalidArgument,
      message: `[invalid_argument] ${error.rawMessage}`,
    });
  }
  error.details.push({
    desc: ErrorInfoSchema,
    value: create(ErrorInfoSchema, { reason: malformed ? "MALFORMED_REQUEST" : codeName(error.code), domain: errorDomain }),
  });
  return error;
}

/** connect's own decoding failures: INVALID_ARGUMENT (JSON, envelopes, lengths) or its binary parser's
 * "parse binary: …" INTERNAL. */
function isUndecodableRequest(error: ConnectError): boolean {
  return error.code === Code.InvalidArgument || (error.code === Code.Internal && error.rawMessage.startsWith("parse binary:"));
}

function clientWentAway(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ERR_STREAM_PREMATURE_CLOSE" || code === "ABORT_ERR" || (error instanceof Error && error.name === "AbortError");
}

/** Code.InvalidArgument → "INVALID_ARGUMENT", the gRPC spelling used in logs, metrics and audit. */
export function codeName(code: Code | undefined): string {
  return code === undefined ? "OK" : Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

function fromDomainError(error: DomainError): ConnectError {
  const code = Code[codeNames[error.code]];
  const connectError = withInfo(error.message, code, error.reason, error.metadata, error);
  if ((error instanceof InvalidArgumentError || error instanceof BatchRejectedError) && error.violations.length > 0) {
    connectError.details.push({
      desc: BadRequestSchema,
      value: create(BadRequestSchema, {
        fieldViolations: error.violations.map((violation) => ({ field: violation.field, description: violation.description })),
      }),
    });
  }
  if (error instanceof RateLimitedError) {
    const millis = Math.max(0, error.retryAfterMillis);
    connectError.details.push({
      desc: RetryInfoSchema,
      value: create(RetryInfoSchema, { retryDelay: { seconds: BigInt(Math.floor(millis / 1000)), nanos: (millis % 1000) * 1_000_000 } }),
    });
  }
  return connectError;
}

function withInfo(message: string, code: Code, reason: string, metadata: Readonly<Record<string, string>>, cause: unknown): ConnectError {
  return new ConnectError(
    message,
    code,
    undefined,
    [{ desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain: errorDomain, metadata: { ...metadata } }) }],
    cause,
  );
}

const codeNames = {
  INVALID_ARGUMENT: "InvalidArgument",
  NOT_FOUND: "NotFound",
  ALREADY_EXISTS: "AlreadyExists",
  FAILED_PRECONDITION: "FailedPrecondition",
  ABORTED: "Aborted",
  PERMISSION_DENIED: "PermissionDenied",
  UNAUTHENTICATED: "Unauthenticated",
  RESOURCE_EXHAUSTED: "ResourceExhausted",
  UNAVAILABLE: "Unavailable",
} as const satisfies Record<DomainError["code"], keyof typeof Code>;
