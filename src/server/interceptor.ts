// Everything every RPC goes through, in one place so the order is plain to read: the request gate
// opens the call (request id, metrics) before the body is read; the interceptor authenticates,
// validates and calls the handler, maps errors at one boundary, audits refused or failed mutations
// after the fact, and writes one log line and metrics sample per call. A call that fails before the
// interceptor runs — a body that does not decode — is finished by the gate's abort listener.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { createValidator, type Violation } from "@bufbuild/protovalidate";
import { ConnectError, type HandlerContext, type Interceptor, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";
import { codeName, errorDomain, toConnectError } from "../api/errors.js";
import { create } from "@bufbuild/protobuf";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import type { Authenticator } from "../app/identity.js";
import type { Database } from "../app/database.js";
import { recordFailedMutation, recordMutation } from "../app/mutation.js";
import { InvalidArgumentError } from "../domain/errors.js";
import { newId } from "../domain/ids.js";
import type { RateLimiter } from "../domain/rate-limit.js";
import { callKey, type CallState } from "./call.js";
import { errorFields, log } from "./log.js";
import type { RpcMetrics } from "./metrics.js";

/** Services anyone may call without a token: load balancers and tooling must reach them. */
const publicServices = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

export interface CallDependencies {
  readonly db: Database;
  readonly authenticator: Authenticator;
  readonly metrics: RpcMetrics;
  /** Audit writes the request gate started and nobody awaits: shutdown waits for them before the
   * database closes. */
  readonly pendingAudits: Set<Promise<void>>;
  /** Mutations per principal on this process (docs/security.md); absent for no limit. */
  readonly rateLimiter?: RateLimiter;
}

/** Agents' reports and job streams are never rate-limited: holding them back would cost leases. */
const notRateLimited = new Set([
  "rackplane.v1.AgentService/StreamJobs",
  "rackplane.v1.AgentService/ReportJob",
  "rackplane.v1.AgentService/ReportResourceState",
]);

/**
 * Opens every call before its body is read: request id, start time, metrics. If the call ends with
 * an error the interceptor never saw (a body that does not decode), the abort that ends the call
 * carries that error: it gets its ErrorInfo and request id here, in place, before it is written
 * out, and the call is logged, counted and — for a mutation — audited.
 */
export function callGate({ db, metrics, pendingAudits }: CallDependencies): (ctx: HandlerContext) => void {
  return (ctx) => {
    const method = `${ctx.service.typeName}/${ctx.method.name}`;
    const state: CallState = {
      requestId: requestIdFrom(ctx.requestHeader.get("x-request-id")),
      method,
      started: performance.now(),
      finished: false,
      principal: undefined,
      audit: { resourceType: "", resourceId: "", written: false },
    };
    ctx.values.set(callKey, state);
    ctx.responseHeader.set("x-request-id", state.requestId);
    metrics.started();
    ctx.signal.addEventListener(
      "abort",
      () => {
        if (state.finished) return;
        state.finished = true;
        const reason: unknown = ctx.signal.reason;
        const error = reason instanceof ConnectError ? reason : toConnectError(reason);
        if (reason instanceof ConnectError && error.details.length === 0) {
          error.details.push({
            desc: ErrorInfoSchema,
            value: create(ErrorInfoSchema, { reason: error.code === 3 ? "MALFORMED_REQUEST" : codeName(error.code), domain: errorDomain }),
          });
        }
        error.metadata.set("x-request-id", state.requestId);
        const code = codeName(error.code);
        metrics.finished(method, code, (performance.now() - state.started) / 1000);
        log("info", "rpc", {
          method,
          code,
          duration_ms: Math.round((performance.now() - state.started) * 100) / 100,
          principal: "",
          request_id: state.requestId,
          reason: error.rawMessage,
        });
        const mutating =
          !publicServices.has(ctx.service.typeName) && ctx.method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
        if (mutating) {
          Object.assign(state.audit, { resourceType: auditTypeOf(ctx.method.name) });
          const write: Promise<void> = recordFailedMutation(db, state, code, reasonOf(error), error.rawMessage)
            .catch((auditError: unknown) =>
              log("error", "could not write the audit record", { method, request_id: state.requestId, ...errorFields(auditError) }),
            )
            .finally(() => pendingAudits.delete(write));
          pendingAudits.add(write);
        }
      },
      { once: true },
    );
  };
}

export function callInterceptor({ db, authenticator, metrics, rateLimiter }: CallDependencies): Interceptor {
  const validator = createValidator();
  const validate = <Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void => {
    const result = validator.validate(schema, message);
    if (result.kind === "valid") return;
    if (result.kind === "invalid") {
      const violations = result.error.violations.map((violation) => ({
        field: violationField(schema, violation),
        description: violation.message,
      }));
      throw new InvalidArgumentError(
        "VALIDATION_FAILED",
        violations.map((violation) => `${violation.field}: ${violation.description}`).join("; "),
        violations,
      );
    }
    throw result.error;
  };

  return (next) => async (req) => {
    const state = req.contextValues.get(callKey)!;
    const { started, method } = state;
    const target = req.stream ? undefined : requestTarget(req.method.name, req.message);
    if (target) Object.assign(state.audit, { resourceType: target.type, resourceId: target.id });
    const isPublic = publicServices.has(req.service.typeName);
    const mutating = !isPublic && req.method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;

    const finish = async (error: unknown): Promise<unknown> => {
      const connectError = error === undefined ? undefined : toConnectError(error);
      // A call aborted under it (the client cancelled a stream) was logged, counted and audited by
      // the call gate when the abort came: once is enough.
      if (state.finished) return connectError;
      state.finished = true;
      const code = codeName(connectError?.code);
      if (mutating) await audit(state, code, connectError);
      const durationMs = performance.now() - started;
      metrics.finished(method, code, durationMs / 1000);
      const fields: Record<string, unknown> = {
        method,
        code,
        duration_ms: Math.round(durationMs * 100) / 100,
        principal: state.principal?.name ?? "",
        request_id: state.requestId,
      };
      if (connectError && code === "INTERNAL") log("error", "rpc failed", { ...fields, ...errorFields(connectError.cause) });
      else log("info", "rpc", connectError ? { ...fields, reason: connectError.message } : fields);
      connectError?.metadata.set("x-request-id", state.requestId);
      return connectError;
    };

    const audit = async (call: CallState, code: string, error: ReturnType<typeof toConnectError> | undefined): Promise<void> => {
      try {
        // A refused Create made nothing: the id its use case picked for the new resource names none.
        if (error && target?.creates) call.audit.resourceId = "";
        if (error) await recordFailedMutation(db, call, code, reasonOf(error), error.rawMessage);
        else if (!call.audit.written) {
          log("warn", "mutation finished without an audit record in its transaction; recording it now", { method });
          await recordMutation(db, call);
        }
      } catch (auditError) {
        log("error", "could not write the audit record", { method, request_id: call.requestId, ...errorFields(auditError) });
      }
    };

    let response: UnaryResponse | StreamResponse;
    try {
      if (!isPublic) state.principal = await authenticator.authenticate(bearerToken(req.header.get("authorization")));
      if (mutating && rateLimiter && state.principal && !notRateLimited.has(method)) {
        rateLimiter.admit(`${state.principal.tenantId ?? ""}/${state.principal.name}`, performance.now());
      }
      // A server stream's one request arrives as an iterable: each message is checked as it is read.
      if (!req.stream) validate(req.method.input, req.message);
      else req = { ...req, message: validated(req.message, (message) => validate(req.method.input, message as never)) } as typeof req;
      response = await next(req);
    } catch (error) {
      throw await finish(error);
    }
    if (!response.stream) {
      await finish(undefined);
      return response;
    }
    // A stream's call lasts until its last message: finish (log, metrics) when it ends.
    return { ...response, message: finishing(response.message, finish) };
  };
}

/** The messages of a request stream, each checked before the handler sees it. */
async function* validated<T>(messages: AsyncIterable<T>, check: (message: T) => void): AsyncGenerator<T> {
  for await (const message of messages) {
    check(message);
    yield message;
  }
}

/** A stream's messages, then `finish` when they end. Declared once, not per call: a generator
 * function made per call costs every open stream its own function, prototype and object shape. */
async function* finishing<T>(messages: AsyncIterable<T>, finish: (error: unknown) => Promise<unknown>): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (error) {
    throw await finish(error);
  }
  await finish(undefined);
}

/**
 * The path of the offending field. A custom (CEL) rule set on a message-typed field, or on a message
 * itself, is reported by protovalidate at that message ("rack", or "" for the request), though it
 * checks one of its fields; the contract's rule ids name that field first ("name.required",
 * "tenant_id.matches_role"), so the path is completed with it when the message has such a field.
 */
function violationField(schema: DescMessage, violation: Violation): string {
  const path = pathToString(violation.field);
  const first = violation.rule[0];
  // A message's own CEL rules come with no rule path; a field's with `cel[i]`.
  const celRule = (first?.kind === "field" && first.name === "cel") || violation.rule.length === 0;
  const named = /^([a-z][a-z0-9_]*)\.[a-z0-9_]+$/.exec(violation.ruleId)?.[1];
  if (!celRule || named === undefined) return path;
  const last = violation.field.at(-1);
  const message = last === undefined ? schema : last.kind === "field" && last.fieldKind === "message" ? last.message : undefined;
  if (!message?.fields.some((field) => field.name === named)) return path;
  return path === "" ? named : `${path}.${named}`;
}

/** The resource type a method acts on, when nothing of its request could be read. */
function auditTypeOf(methodName: string): string {
  return requestTarget(methodName, {})?.type ?? "";
}

/** The resource a mutation acts on, as its request names it: the type, the id (for a resource that
 * exists) and whether the call creates it. Filled in before authentication and validation, so that
 * a call refused before its use case names the target (bad input, no token, a role that may not)
 * is still audited against it; use cases overwrite it with what they learn. */
function requestTarget(methodName: string, message: object): { type: string; id: string; creates: boolean } | undefined {
  const fields = message as Record<string, unknown>;
  const uuid = (value: unknown): string => (typeof value === "string" && uuidPattern.test(value) ? value : "");
  const idOf = (value: unknown): string => uuid((value as { id?: unknown } | undefined)?.id);
  switch (methodName) {
    case "UpdateRackUnit":
      return { type: "rack", id: uuid((fields.unit as { rackId?: unknown } | undefined)?.rackId), creates: false };
    case "SetRackUnitsFaulty":
      return { type: "rack", id: uuid(fields.rackId), creates: false };
    case "ReserveRackUnits":
      return { type: "rack_reservation", id: "", creates: true };
    case "ReleaseRackUnits":
      return { type: "rack_reservation", id: uuid(fields.reservationId), creates: false };
    case "BatchCreateBaremetals":
      return { type: "baremetal", id: "", creates: true };
    case "SetBaremetalStatus":
      return { type: "baremetal", id: uuid(fields.id), creates: false };
    case "DisableTenant":
    case "EnableTenant":
      return { type: "tenant", id: uuid(fields.id), creates: false };
    case "AddGroupMember":
    case "RemoveGroupMember":
      return { type: "maintainer_group", id: uuid(fields.groupId), creates: false };
  }
  const match = /^(Create|Update|Delete|Revoke)([A-Z]\w*)$/.exec(methodName);
  if (!match) return undefined;
  const [, verb, noun] = match as unknown as [string, string, string];
  const type = noun === "Token" ? "api_token" : noun.replace(/(?<=[a-z0-9])([A-Z])/g, "_$1").toLowerCase();
  if (verb === "Create") return { type, id: "", creates: true };
  // An Update carries the resource as its message field, whatever that field is called (`group`,
  // `specification`, `quota` …).
  const resource = Object.values(fields).find((value) => typeof value === "object" && value !== null && "id" in value);
  return { type, id: verb === "Update" ? idOf(resource) : uuid(fields.id), creates: false };
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function reasonOf(error: ReturnType<typeof toConnectError>): string {
  for (const detail of error.details) if ("value" in detail && "reason" in detail.value) return String(detail.value.reason);
  return "";
}

function bearerToken(header: string | null): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

/** A caller's own request id is kept when it is sane; otherwise the server makes one. */
function requestIdFrom(header: string | null): string {
  return header && /^[\w.:-]{1,128}$/.test(header) ? header : newId();
}
