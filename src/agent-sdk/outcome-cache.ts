// Outcomes of finished jobs, by job id, so a redelivered job is answered instead of done twice.
// Delivery is at least once: a final report lost on the way (or a lease that expired just as the
// work finished) brings the same job back with a new lease token. Re-running a create would make a
// second VM; re-reporting the stored outcome under the new token is what the contract asks.
//
// Bounded: the oldest entries go first (a Map iterates in insertion order, and `set` re-inserts).
// A redelivery comes within a lease or two of the first delivery, so 10,000 entries cover hours of
// a busy agent; a restarted agent has none, which is why handlers must be idempotent too.
import type { Outcome } from "./types.js";

export class OutcomeCache {
  private readonly entries = new Map<string, Outcome>();

  constructor(readonly capacity = 10_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("outcome cache capacity must be a positive integer");
  }

  get(jobId: string): Outcome | undefined {
    return this.entries.get(jobId);
  }

  set(jobId: string, outcome: Outcome): void {
    this.entries.delete(jobId);
    this.entries.set(jobId, outcome);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Only outcomes that must not be redone are replayed: a success (the work is done) and a permanent
 * failure (redoing it fails the same way). A transient failure is not stored: when the same job id
 * comes back after one, it is the server retrying, and the work must be tried again. */
export function isReplayable(outcome: Outcome): boolean {
  return outcome.state === "SUCCEEDED" || outcome.error?.permanent === true;
}
