import { randomFillSync } from "node:crypto";

// Random bytes are drawn in bulk: one system call per 256 ids instead of one per id (ids are made
// on every request, for its request id).
const pool = Buffer.alloc(16 * 256);
let offset = pool.length;

// RFC 9562 §6.2 method 1: a 12-bit counter in rand_a, started at a random value below 2^11 each
// millisecond, keeps ids made by one process in the same millisecond in creation order.
let lastMillis = 0;
let counter = 0;

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, a per-process counter, then random bits. Ids
 * that sort by creation time keep B-tree inserts local and let keyset pagination order by id alone.
 */
export function newId(now: number = Date.now()): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + 16);
  offset += 16;
  if (now > lastMillis) {
    lastMillis = now;
    counter = ((bytes[6]! & 0x07) << 8) | bytes[7]!;
  } else if (++counter > 0xfff) {
    // The counter ran out within one millisecond: borrow the next one, as the RFC allows.
    lastMillis++;
    counter = 0;
  }
  bytes.writeUIntBE(lastMillis, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
