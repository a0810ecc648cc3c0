// Opaque keyset page tokens: the last id of the page served, bound to the filter it was served
// under, so a token cannot be replayed against a different query.
import { createHash } from "node:crypto";
import { InvalidArgumentError } from "./errors.js";

export const defaultPageSize = 50;
export const maxPageSize = 1000;

/** 0 means the default; larger than the maximum is clamped (AIP-158). Negative never gets here: the
 * request's validation refuses it. */
export function effectivePageSize(requested: number): number {
  return requested <= 0 ? defaultPageSize : Math.min(requested, maxPageSize);
}

export function encodePageToken(lastId: string, filter: string): string {
  return Buffer.from(JSON.stringify({ after: lastId, filter: filterDigest(filter) })).toString("base64url");
}

/** Returns the id to continue after, or undefined for the first page. */
export function decodePageToken(token: string, filter: string): string | undefined {
  if (token === "") return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidToken("it is not a token this server issued");
  }
  const { after, filter: digest } = (decoded ?? {}) as { after?: unknown; filter?: unknown };
  if (
    typeof after !== "string" ||
    !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(after) ||
    typeof digest !== "string"
  ) {
    throw invalidToken("it is not a token this server issued");
  }
  if (digest !== filterDigest(filter)) throw invalidToken("it was issued for a different filter");
  return after;
}

function filterDigest(filter: string): string {
  return createHash("sha256").update(filter.trim()).digest("base64url").slice(0, 16);
}

function invalidToken(why: string): InvalidArgumentError {
  return new InvalidArgumentError("INVALID_PAGE_TOKEN", `page_token is invalid: ${why}`, [{ field: "page_token", description: why }]);
}
