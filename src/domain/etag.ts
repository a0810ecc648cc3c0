import { AbortedError } from "./errors.js";

/** A resource's etag is its optimistic-lock version, opaque to clients. */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/** An empty etag means "whatever the current version is" (AIP-154); any other must match. */
export function requireEtag(current: number, given: string, resourceType: string, id: string): void {
  if (given !== "" && given !== etagOf(current)) {
    throw new AbortedError("ETAG_MISMATCH", `${resourceType} ${id} has changed since etag ${given} was read; read it again and retry`, {
      resource_type: resourceType,
      resource_id: id,
      current_etag: etagOf(current),
    });
  }
}
