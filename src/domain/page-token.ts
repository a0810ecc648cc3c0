// The one page-token format of every List (AIP-158): the keyset position — the key of the last row
// served — and what the token belongs to: the list, its order, its filter and the caller's scope. A
// token is honoured only by the same list under the same binding; anything else, and anything edited
// by hand, is INVALID_ARGUMENT / INVALID_PAGE_TOKEN on page_token. Why a checksum and no secret:
// docs/api-conventions.md.
import { createHash } from "node:crypto";
import { InvalidArgumentError } from "./errors.js";

export const defaultPageSize = 50;
export const maxPageSize = 1000;

/** 0 means the default; larger than the maximum is clamped (AIP-158). Negative never gets here: the
 * request's validation refuses it. */
export function effectivePageSize(requested: number): number {
  return requested <= 0 ? defaultPageSize : Math.min(requested, maxPageSize);
}

/** What a token belongs to. Two requests with equal bindings page through the same rows. */
export interface PageBinding {
  /** What is listed: an entity's table ("rack") or a look-up's name ("resource_maintainers"). */
  readonly list: string;
  /** The keyset order, e.g. "id asc". */
  readonly orderBy: string;
  /** The request's AIP-160 filter (compared trimmed). */
  readonly filter: string;
  /** Whatever else narrows the rows: the caller's tenant scope, a parent. "" for none. */
  readonly scope: string;
}

/** A key part that is one of our ids. */
export const uuidKeyPart = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const listName = /^[a-z][a-z0-9_]{0,63}$/;

interface TokenBody {
  /** Format version. */
  readonly v: 1;
  /** The list, in clear, so a token used on another list can say which it came from. */
  readonly l: string;
  /** The key of the last row served. */
  readonly k: readonly string[];
  /** Digest of the rest of the binding: order, filter, scope. */
  readonly b: string;
  /** Checksum of the whole token: a hand-edited one does not match. */
  readonly c: string;
}

export function encodePageToken(binding: PageBinding, key: readonly string[]): string {
  const b = bindingDigest(binding);
  const body: TokenBody = { v: 1, l: binding.list, k: key, b, c: checksum(binding.list, key, b) };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

/**
 * The key to continue after (one part per pattern in `keyParts`), or undefined for the first page.
 * INVALID_PAGE_TOKEN when the token is not one this server issued, was edited, or belongs to another
 * list, filter, order or scope.
 */
export function decodePageToken(token: string, binding: PageBinding, keyParts: readonly RegExp[] = [uuidKeyPart]): string[] | undefined {
  if (token === "") return undefined;
  const body = parse(token);
  if (
    body?.v !== 1 ||
    typeof body.l !== "string" ||
    !listName.test(body.l) ||
    typeof body.b !== "string" ||
    typeof body.c !== "string" ||
    !Array.isArray(body.k) ||
    body.k.length !== keyParts.length ||
    !body.k.every((part, i) => typeof part === "string" && keyParts[i]!.test(part))
  ) {
    throw invalidToken("it is not a token this server issued");
  }
  const key = body.k as string[];
  if (body.c !== checksum(body.l, key, body.b)) throw invalidToken("it was altered after this server issued it");
  if (body.l !== binding.list) throw invalidToken(`it belongs to another list (${body.l})`);
  if (body.b !== bindingDigest(binding)) throw invalidToken("it was issued for a different filter, order or scope");
  return key;
}

function parse(token: string): Partial<Record<keyof TokenBody, unknown>> | undefined {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    return decoded !== null && typeof decoded === "object" ? (decoded as Partial<Record<keyof TokenBody, unknown>>) : undefined;
  } catch {
    return undefined;
  }
}

function bindingDigest(binding: PageBinding): string {
  return digest(["binding", binding.orderBy, binding.filter.trim(), binding.scope]);
}

function checksum(list: string, key: readonly string[], bindingDigest: string): string {
  return digest(["token", list, ...key, bindingDigest]);
}

function digest(parts: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 22);
}

function invalidToken(why: string): InvalidArgumentError {
  return new InvalidArgumentError("INVALID_PAGE_TOKEN", `page_token is invalid: ${why}`, [{ field: "page_token", description: why }]);
}
