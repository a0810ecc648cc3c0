// Reconnect and retry delays: exponential with full jitter (a random delay between 0 and
// min(cap, base·2^attempt)). Full jitter spreads a fleet of agents that lost the same replica over
// the whole window instead of having them all knock again at the same instant.

export interface Backoff {
  readonly baseMs: number;
  readonly capMs: number;
}

export const defaultBackoff: Backoff = { baseMs: 200, capMs: 10_000 };

/** The delay before retry number `attempt` (0 for the first retry). */
export function fullJitter(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  // 2^attempt overflows to Infinity long after it passed any cap; min() still gives the cap.
  const bound = Math.min(backoff.capMs, backoff.baseMs * 2 ** attempt);
  return Math.floor(random() * bound);
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects: callers check the signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
