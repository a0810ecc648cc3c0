// Keyset page tokens for the look-ups whose order is not a single id: the token carries the whole
// key of the last row served (e.g. assignment id + maintainer id) and a digest of the query it was
// served for (the owner or resource being looked up, and the filter), so it cannot be replayed
// against another one. Same shape and same error as src/domain/page-token.ts.
import { createHash } from "node:crypto";
import { InvalidArgumentError } from "../../domain/errors.js";

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeKeysetToken(key: readonly string[], query: string): string {
  return Buffer.from(JSON.stringify({ after: key, query: digest(query) })).toString("base64url");
}

/** The key to continue after (`arity` ids), or undefined for the first page. */
export function decodeKeysetToken(token: string, query: string, arity: number): string[] | undefined {
  if (token === "") return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidToken("it is not a token this server issued");
  }
  const { after, query: queryDigest } = (decoded ?? {}) as { after?: unknown; query?: unknown };
  if (
    !Array.isArray(after) ||
    after.length !== arity ||
    !after.every((part) => typeof part === "string" && uuid.test(part)) ||
    typeof queryDigest !== "string"
  ) {
    throw invalidToken("it is not a token this server issued");
  }
  if (queryDigest !== digest(query)) throw invalidToken("it was issued for a different query or filter");
  return after as string[];
}

function digest(query: string): string {
  return createHash("sha256").update(query).digest("base64url").slice(0, 16);
}

function invalidToken(why: string): InvalidArgumentError {
  return new InvalidArgumentError("INVALID_PAGE_TOKEN", `page_token is invalid: ${why}`, [{ field: "page_token", description: why }]);
}
