// What rackctl says and which exit code it returns when something fails (docs/cli.md#exit-codes):
// 2 usage, 3 not found, 4 refused by the server's rules, 5 server unavailable, 1 anything else.
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, BadRequestSchema } from "../../gen/es/google/rpc/error_details_pb.js";

export const exitCodes = { other: 1, usage: 2, notFound: 3, refused: 4, unavailable: 5 } as const;

/** A mistake on the command line, found before any call. */
export class UsageError extends Error {}

/** A name that matches nothing in its scope (the server's NOT_FOUND has the same exit code). */
export class NotFoundError extends Error {
  readonly reason = "NOT_FOUND";
}

/** Something the command itself refuses (e.g. rejected rows of an import). */
export class RefusedError extends Error {}

const refusedCodes = new Set([
  Code.InvalidArgument,
  Code.FailedPrecondition,
  Code.PermissionDenied,
  Code.AlreadyExists,
  Code.ResourceExhausted,
  Code.Unauthenticated,
  Code.Aborted,
  Code.OutOfRange,
]);

export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return exitCodes.usage;
  if (error instanceof NotFoundError) return exitCodes.notFound;
  if (error instanceof RefusedError) return exitCodes.refused;
  if (error instanceof ConnectError) {
    if (error.code === Code.NotFound) return exitCodes.notFound;
    if (refusedCodes.has(error.code)) return exitCodes.refused;
    if (error.code === Code.Unavailable || error.code === Code.DeadlineExceeded) return exitCodes.unavailable;
  }
  return exitCodes.other;
}

/** `error: REASON: message`, then each offending field of a BadRequest on its own line. */
export function describeError(error: unknown): string {
  if (error instanceof ConnectError) {
    const info = error.findDetails(ErrorInfoSchema)[0];
    const lines = [`error: ${info?.reason ?? Code[error.code]}: ${error.rawMessage}`];
    for (const request of error.findDetails(BadRequestSchema)) {
      for (const violation of request.fieldViolations) lines.push(`  ${violation.field}: ${violation.description}`);
    }
    return lines.join("\n");
  }
  if (error instanceof NotFoundError) return `error: NOT_FOUND: ${error.message}`;
  if (error instanceof UsageError) return `error: ${error.message} (see --help)`;
  return `error: ${error instanceof Error ? error.message : String(error)}`;
}
