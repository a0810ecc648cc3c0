// Small conversions every service shares between proto messages and use-case inputs.
import { timestampFromDate, type FieldMask, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import type { CallContext } from "../app/context.js";
import type { ListRequest } from "../app/list.js";
import { InvalidArgumentError, UnauthenticatedError } from "../domain/errors.js";
import { etagOf } from "../domain/etag.js";
import { callState } from "./call.js";

export function timestamp(date: Date | null | undefined): Timestamp | undefined {
  return date ? timestampFromDate(date) : undefined;
}

export function listRequest(req: { pageSize: number; pageToken: string; filter: string }): ListRequest {
  return { pageSize: req.pageSize, pageToken: req.pageToken, filter: req.filter };
}

/** The use-case view of the call; every rackplane RPC has an authenticated principal by now. */
export function callContext(ctx: HandlerContext): CallContext {
  const state = callState(ctx);
  const principal = state.principal;
  if (!principal) throw new UnauthenticatedError("TOKEN_MISSING", "send a bearer token: authorization: Bearer <token>");
  return { principal, requestId: state.requestId, method: state.method, audit: state.audit };
}

/**
 * Turns an update_mask into a patch holding only the named fields (AIP-134). `updatable` maps each
 * field path a client may name to the part of the patch it sets; "*" names them all. Unknown,
 * output-only and immutable paths are refused, naming the ones that are allowed.
 */
export function maskedPatch<P extends object>(mask: FieldMask | undefined, updatable: Record<string, () => Partial<P>>): Partial<P> {
  const paths = mask?.paths ?? [];
  if (paths.length === 0) {
    throw new InvalidArgumentError("INVALID_UPDATE_MASK", "update_mask must name at least one field", [
      { field: "update_mask", description: `name one or more of: ${Object.keys(updatable).join(", ")}` },
    ]);
  }
  const named = paths.includes("*") ? Object.keys(updatable) : paths;
  const patch: Partial<P> = {};
  for (const path of named) {
    const part = updatable[path];
    if (!part) {
      throw new InvalidArgumentError("INVALID_UPDATE_MASK", `update_mask names "${path}", which cannot be updated`, [
        {
          field: "update_mask",
          description: `"${path}" is unknown, output only or immutable; updatable: ${Object.keys(updatable).join(", ")}`,
        },
      ]);
    }
    Object.assign(patch, part());
  }
  return patch;
}

/** A field that may be changed but not cleared (names, parents, sizes). */
export function required<T extends string | number>(field: string, value: T): T {
  if (value === "" || value === 0) {
    throw new InvalidArgumentError("VALIDATION_FAILED", `${field}: value is required`, [{ field, description: "value is required" }]);
  }
  return value;
}

/** The fields every resource message carries beside its own: the etag and the two times. */
export function resourceFields(row: { version: number; createTime: Date; updateTime: Date }) {
  return { etag: etagOf(row.version), createTime: timestamp(row.createTime), updateTime: timestamp(row.updateTime) };
}

/** Create and Update of a resource whose own writable fields are a name (required) and a
 * description, as a standard resource's mapping (standard-handlers.ts). `path` is the resource's
 * proto field, for the violation's field path. */
export function nameAndDescription(path: string) {
  return {
    fields: (message: { name: string; description: string }) => ({ name: message.name, description: message.description }),
    updatable: (message: { name: string; description: string }) => ({
      name: () => ({ name: required(`${path}.name`, message.name) }),
      description: () => ({ description: message.description }),
    }),
  };
}
