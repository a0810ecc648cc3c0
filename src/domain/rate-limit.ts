// Rate limits on mutations, per principal (a token bucket each): `ratePerSecond` tokens flow in,
// up to `burst`; a call takes one or is refused with how long until one is there. Pure: the caller
// passes the time. Kept in memory, so the limit holds per server process (docs/security.md).
import { RateLimitedError } from "./errors.js";

export interface RateLimit {
  readonly ratePerSecond: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, in milliseconds. */
  time: number;
}

/** Buckets kept before full ones (principals idle long enough to have refilled) are dropped. */
const maxBuckets = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(readonly limit: RateLimit) {}

  /** Takes one token of `key`'s bucket, or throws RATE_LIMITED with the wait until one is there. */
  admit(key: string, nowMillis: number): void {
    const wait = this.take(key, nowMillis);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 100) / 10;
      throw new RateLimitedError(
        `too many changes by this principal: at most ${this.limit.ratePerSecond}/s (bursts of ${this.limit.burst}); retry in ${seconds} s`,
        wait,
        { rate_per_second: String(this.limit.ratePerSecond), burst: String(this.limit.burst) },
      );
    }
  }

  /** 0 when a token was taken; otherwise the milliseconds until one will be there. */
  take(key: string, nowMillis: number): number {
    const { ratePerSecond, burst } = this.limit;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= maxBuckets) this.dropFull(nowMillis);
      bucket = { tokens: burst, time: nowMillis };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, nowMillis - bucket.time) * ratePerSecond) / 1000);
    bucket.time = nowMillis;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) * 1000) / ratePerSecond);
  }

  private dropFull(nowMillis: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((nowMillis - bucket.time) * this.limit.ratePerSecond) / 1000 >= this.limit.burst) this.buckets.delete(key);
    }
  }
}

/**
 * The setting `RACKPLANE_RATE_LIMIT` (`<rate>/s`, e.g. `20/s` or `0.5/s`; empty or `off` for none)
 * and `RACKPLANE_RATE_LIMIT_BURST` (a whole number ≥ 1; default: one second's worth, at least 1).
 * Throws a message naming the bad value.
 */
export function parseRateLimit(rate: string | undefined, burst: string | undefined): RateLimit | undefined {
  if (rate === undefined || rate.trim() === "" || rate.trim() === "off") return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*\/\s*s\s*$/.exec(rate);
  const ratePerSecond = match ? Number(match[1]) : Number.NaN;
  if (!(ratePerSecond > 0)) throw new Error(`RACKPLANE_RATE_LIMIT=${rate}: want <rate>/s with a rate above 0, e.g. 20/s, or off`);
  if (burst === undefined || burst.trim() === "") return { ratePerSecond, burst: Math.max(1, Math.ceil(ratePerSecond)) };
  const burstValue = Number(burst);
  if (!Number.isInteger(burstValue) || burstValue < 1)
    throw new Error(`RACKPLANE_RATE_LIMIT_BURST=${burst}: want a whole number of at least 1`);
  return { ratePerSecond, burst: burstValue };
}
