// Typed business errors. Domain and use-case code throws these; one boundary (src/api/errors.ts)
// turns them into wire errors with a stable ErrorInfo.reason, so the same failure reads the same
// over gRPC, gRPC-Web and JSON.

/** The status a domain error maps to, by its gRPC code name. */
export type ErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "PERMISSION_DENIED"
  | "UNAUTHENTICATED"
  | "RESOURCE_EXHAUSTED"
  | "UNAVAILABLE";

/** One offending input field, named by its path in the request (`rack.height_units`). */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

export abstract class DomainError extends Error {
  abstract readonly code: ErrorCode;

  constructor(
    /** Stable UPPER_SNAKE reason; never changes once shipped. */
    readonly reason: string,
    message: string,
    /** Facts that name the resource and the conflict; string values only, as ErrorInfo wants. */
    readonly metadata: Readonly<Record<string, string>> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidArgumentError extends DomainError {
  readonly code = "INVALID_ARGUMENT";
  constructor(
    reason: string,
    message: string,
    readonly violations: readonly FieldViolation[] = [],
    metadata: Readonly<Record<string, string>> = {},
  ) {
    super(reason, message, metadata);
  }
}

export class NotFoundError extends DomainError {
  readonly code = "NOT_FOUND";
  constructor(resourceType: string, id: string) {
    super("RESOURCE_NOT_FOUND", `${resourceType} ${JSON.stringify(id)} not found`, {
      resource_type: resourceType,
      resource_id: id,
    });
  }
}

export class AlreadyExistsError extends DomainError {
  readonly code = "ALREADY_EXISTS";
}

export class FailedPreconditionError extends DomainError {
  readonly code = "FAILED_PRECONDITION";
}

/** A batch refused whole: each rejected item is named by its index in `violations`
 * (`requests[3]`), with its own reason. */
export class BatchRejectedError extends FailedPreconditionError {
  constructor(
    message: string,
    readonly violations: readonly FieldViolation[],
  ) {
    super("BATCH_REJECTED", message, { rejected_items: String(violations.length) });
  }
}

export class AbortedError extends DomainError {
  readonly code = "ABORTED";
}

export class PermissionDeniedError extends DomainError {
  readonly code = "PERMISSION_DENIED";
}

export class UnauthenticatedError extends DomainError {
  readonly code = "UNAUTHENTICATED";
}

export class ResourceExhaustedError extends DomainError {
  readonly code = "RESOURCE_EXHAUSTED";
}

/** Something the server depends on is out of reach for now (an identity provider's keys); retrying
 * later can help. */
export class UnavailableError extends DomainError {
  readonly code = "UNAVAILABLE";
}

/** Too many calls too fast: retry after `retryAfterMillis` (sent as google.rpc.RetryInfo). */
export class RateLimitedError extends ResourceExhaustedError {
  constructor(
    message: string,
    readonly retryAfterMillis: number,
    metadata: Readonly<Record<string, string>> = {},
  ) {
    super("RATE_LIMITED", message, metadata);
  }
}
