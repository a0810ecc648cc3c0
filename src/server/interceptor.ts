// Everything every RPC goes through, in one interceptor so the order is plain to read:
// request id → authentication → validation → handler, with errors mapped at one boundary, refused
// or failed mutations audited after the fact, and one log line and metrics sample per call.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { createValidator } from "@bufbuild/protovalidate";
import type { Interceptor, StreamResponse, UnaryResponse } from "@connectrpc/connect";
import { codeName, toConnectError } from "../api/errors.js";
import type { Authenticator } from "../app/identity.js";
import type { Database } from "../app/database.js";
import { recordFailedMutation, recordMutation } from "../app/mutation.js";
import { InvalidArgumentError } from "../domain/errors.js";
import { newId } from "../domain/ids.js";
import { callKey, type CallState } from "./call.js";
import { errorFields, log } from "./log.js";
import type { RpcMetrics } from "./metrics.js";

/** Services anyone may call without a token: load balancers and tooling must reach them. */
const publicServices = new Set(["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]);

export interface CallDependencies {
  readonly db: Database;
  readonly authenticator: Authenticator;
  readonly metrics: RpcMetrics;
}

export function callInterceptor({ db, authenticator, metrics }: CallDependencies): Interceptor {
  const validator = createValidator();
  const validate = <Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void => {
    const result = validator.validate(schema, message);
    if (result.kind === "valid") return;
    if (result.kind === "invalid") {
      throw new InvalidArgumentError(
        "VALIDATION_FAILED",
        result.error.violations.map((violation) => `${pathToString(violation.field)}: ${violation.message}`).join("; "),
        result.error.violations.map((violation) => ({ field: pathToString(violation.field), description: violation.message })),
      );
    }
    throw result.error;
  };

  return (next) => async (req) => {
    const started = performance.now();
    metrics.started();
    const method = `${req.service.typeName}/${req.method.name}`;
    const state: CallState = {
      requestId: requestIdFrom(req.header.get("x-request-id")),
      method,
      principal: undefined,
      audit: { resourceType: "", resourceId: "", written: false },
    };
    req.contextValues.set(callKey, state);
    const isPublic = publicServices.has(req.service.typeName);
    const mutating = !isPublic && req.method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;

    const finish = async (error: unknown): Promise<unknown> => {
      const connectError = error === undefined ? undefined : toConnectError(error);
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
      if (!req.stream) validate(req.method.input, req.message);
      response = await next(req);
    } catch (error) {
      throw await finish(error);
    }
    response.header.set("x-request-id", state.requestId);
    if (!response.stream) {
      await finish(undefined);
      return response;
    }
    // A stream's call lasts until its last message: finish (log, metrics) when it ends.
    const messages = response.message;
    return {
      ...response,
      message: (async function* () {
        try {
          yield* messages;
        } catch (error) {
          throw await finish(error);
        }
        await finish(undefined);
      })(),
    };
  };
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
