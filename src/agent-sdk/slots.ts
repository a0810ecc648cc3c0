// At most N handlers at once. The server already never pushes more than max_concurrent_jobs minus
// the jobs the agent holds, but its count and ours can differ for a moment: a job whose lease was
// lost is no longer the agent's for the server while its aborted handler may still be unwinding.
// Waiting here keeps the promise to the hypervisor ("never more than N at once") unconditional.

export class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {}

  /** Resolves true once a slot is held, or false if `signal` aborted first (no slot held then). */
  acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const grant = () => {
        signal.removeEventListener("abort", cancel);
        this.used++;
        resolve(true);
      };
      const cancel = () => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve(false);
      };
      this.waiting.push(grant);
      signal.addEventListener("abort", cancel, { once: true });
    });
  }

  release(): void {
    this.used--;
    const next = this.waiting.shift();
    next?.();
  }

  get inUse(): number {
    return this.used;
  }
}
