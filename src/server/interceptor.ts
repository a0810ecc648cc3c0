// Everything every RPC goes through, in one place so the order is plain to read: the request gate
// opens the call (request id, metrics) before the body is read; the interceptor authenticates,
// validates and calls the handler, maps errors at one boundary, audits refused or failed mutations
// after the fact, and writes one log line and metrics sample per call. A call that fails before the
// interceptor runs — a body that does not decode — is finished by the gate's abort listener.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { createValidator, type Violation } from "@bufbuild/protovalidate";
import { Code, ConnectError, type HandlerContext, type Interceptor, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";
import { codeName, completeInPlace, toConnectError } from "../api/errors.js";
import type { Authenticator } from "../app/identity.js";
import type { Database } from "../app/database.js";
import { recordFailedMutation, recordMutation } from "../app/mutation.js";
import { InvalidArgumentError } from "../domain/errors.js";
import { newId } from "../domain/ids.js";
import { callKey, type CallState } from "../api/call.js";
import { quickChecks } from "../api/quick-validation.js";
import { textViolations } from "./request-text.js";
import type { RequestTargets } from "../api/request-targets.js";
import { errorFields, log } from "../log.js";
import type { RateLimiter } from "../domain/rate-limit.js";
import type { RpcMetrics } from "./metrics.js";
import { withReplicaReads } from "../persistence/reads.js";

/** Services anyone may call without a token: load balancers and tooling must reach them. */
const publicServices = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

export interface CallDependencies {
  readonly db: Database;
  /** Opaque tokens, or those composed with OIDC (src/app/oidc.ts). */
  readonly authenticator: Pick<Authenticator, "authenticate">;
  readonly metrics: RpcMetrics;
  /** Audit writes the request gate started and nobody awaits: shutdown waits for them before the
   * database closes. */
  readonly pendingAudits: Set<Promise<void>>;
  /** What each method acts on, declared beside its handlers (api/request-targets.ts). */
  readonly targets: RequestTargets;
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
export function callGate({ db, metrics, pendingAudits, targets }: CallDependencies): (ctx: HandlerContext) => void {
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
        // The framework writes the error it raised: it is completed in place (api/errors.ts).
        const error = reason instanceof ConnectError ? completeInPlace(reason) : toConnectError(reason);
        const code = codeName(error.code);
        metrics.finished(method, code, (performance.now() - state.started) / 1000, reasonOf(error));
        log("info", "rpc", {
          method,
          code,
          duration_ms: Math.round((performance.now() - state.started) * 100) / 100,
          // Set when the interceptor authenticated the call before it ended (an agent's stream).
          principal: state.principal?.name ?? "",
          request_id: state.requestId,
          reason: error.rawMessage,
        });
        const mutating =
          !publicServices.has(ctx.service.typeName) && ctx.method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
        if (mutating) {
          Object.assign(state.audit, { resourceType: targets.of(ctx.method, undefined)?.type ?? "" });
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
    // A Connect GET's message is read from the query after the gate: base64 that does not decode
    // would fail there as a plain Error, which the framework answers INTERNAL.
    if (ctx.requestMethod === "GET" && !base64Message(new URL(ctx.url).searchParams)) {
      throw new ConnectError("the message query parameter is not base64", Code.InvalidArgument);
    }
  };
}

/** False when a Connect GET says its message is base64 (`base64=1`) and it is not. */
function base64Message(query: URLSearchParams): boolean {
  return query.get("base64") !== "1" || /^[A-Za-z0-9+/_-]*={0,2}$/.test(query.get("message") ?? "");
}

export function callInterceptor({ db, authenticator, metrics, targets, rateLimiter }: CallDependencies): Interceptor {
  const validator = createValidator();
  const validate = <Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void => {
    // The hottest messages have a hand-written check that can vouch for them (api/quick-validation.ts).
    if (quickChecks.get(schema)?.(message as never, Date.now())) return;
    const result = validator.validate(schema, message);
    if (result.kind === "error") throw result.error;
    const violations =
      result.kind === "invalid"
        ? result.error.violations.map((violation) => ({
            field: violationField(schema, violation),
            description: violation.message,
          }))
        : [];
    violations.push(...textViolations(schema, message));
    if (violations.length === 0) return;
    throw new InvalidArgumentError(
      "VALIDATION_FAILED",
      violations.map((violation) => `${violation.field}: ${violation.description}`).join("; "),
      violations,
    );
  };

  return (next) => async (req) => {
    const state = req.contextValues.get(callKey)!;
    const { started, method } = state;
    const target = targets.of(req.method, req.stream ? undefined : req.message);
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
      metrics.finished(method, code, durationMs / 1000, connectError ? reasonOf(connectError) : "");
      const fields: Record<string, unknown> = {
        method,
        code,
        duration_ms: Math.round(durationMs * 100) / 100,
        principal: state.principal?.name ?? "",
        request_id: state.requestId,
      };
      if (connectError && code === "INTERNAL") log("error", "rpc failed", { ...fields, ...errorFields(connectError.cause) });
      else log("info", "rpc", connectError ? { ...fields, reason: connectError.message } : fields);
      // No x-request-id in the error's metadata: the response header carries it from the gate on, and
      // the Connect protocol would append the metadata to that header (the id twice).
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
      // Get and List calls read nothing they wrote: their reads may go to a replica (read routing).
      response = staleReadsAllowed(req) ? await withReplicaReads(() => next(req)) : await next(req);
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

/** A unary call of a standard read method (Get…, List…, declared free of side effects): it may read
 * from a replica, a replication lag behind (docs/deployment.md, "Read routing"). */
function staleReadsAllowed(req: { stream: boolean; method: { name: string; idempotency: MethodOptions_IdempotencyLevel } }): boolean {
  return (
    !req.stream && req.method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS && /^(Get|List)[A-Z]/.test(req.method.name)
  );
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
