import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
  type HealthCheckResponse,
} from "../../gen/es/grpc/health/v1/health_pb.js";

export { ServingStatus };

/** Name under which the overall health of the server is reported. */
export const OVERALL = "";

/**
 * grpc-go caps List at this many entries; clients written against it expect
 * RESOURCE_EXHAUSTED rather than an arbitrarily large response.
 */
const MAX_LISTED_SERVICES = 100;

/**
 * One Watch subscription. Only the latest undelivered status is kept: a
 * watcher cares about the current state, and a slow client must not make the
 * server buffer an unbounded history of flips (grpc-go does the same).
 */
class Subscription implements AsyncIterableIterator<ServingStatus, undefined> {
  #pending: ServingStatus | undefined;
  #ended = false;
  #waiters: (() => void)[] = [];
  readonly #detach: () => void;

  constructor(initial: ServingStatus, detach: () => void) {
    this.#pending = initial;
    this.#detach = detach;
  }

  deliver(status: ServingStatus): void {
    if (this.#ended) return;
    this.#pending = status;
    this.#wake();
  }

  /** Ends after the pending status (if any) has been consumed. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#detach();
    this.#wake();
  }

  /** Ends immediately; nobody is left to read a pending status. */
  cancel(): void {
    this.#pending = undefined;
    this.end();
  }

  async next(): Promise<IteratorResult<ServingStatus, undefined>> {
    for (;;) {
      const pending = this.#pending;
      if (pending !== undefined) {
        this.#pending = undefined;
        return { done: false, value: pending };
      }
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  async return(): Promise<IteratorResult<ServingStatus, undefined>> {
    this.cancel();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/**
 * Serving status per service name, with OVERALL ("") standing for the whole
 * server. Shared by the Health service and whoever decides readiness
 * (startup, dependency probes, graceful shutdown).
 */
export class HealthStatus {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #watchers = new Map<string, Set<Subscription>>();
  #shutdown = false;

  constructor(initial: Iterable<readonly [string, ServingStatus]> = [[OVERALL, ServingStatus.SERVING]]) {
    for (const [service, status] of initial) {
      assertSettable(status);
      this.#statuses.set(service, status);
    }
  }

  get isShutdown(): boolean {
    return this.#shutdown;
  }

  /** Undefined when the service is unknown. */
  get(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** A snapshot; later changes do not show up in it. */
  list(): ReadonlyMap<string, ServingStatus> {
    return new Map(this.#statuses);
  }

  /** Number of open Watch subscriptions; lets tests and metrics spot leaks. */
  get watcherCount(): number {
    let n = 0;
    for (const set of this.#watchers.values()) n += set.size;
    return n;
  }

  /**
   * Ignored after shutdown(), so a component that reports itself healthy late
   * cannot flip the server back to SERVING while it drains (as in grpc-go).
   */
  set(service: string, status: ServingStatus): void {
    assertSettable(status);
    if (this.#shutdown) return;
    this.#update(service, status);
  }

  /**
   * Marks every service NOT_SERVING, lets watchers see that, then ends all
   * Watch streams so clients go looking for another backend.
   */
  shutdown(): void {
    if (this.#shutdown) return;
    this.#shutdown = true;
    for (const service of [...this.#statuses.keys()]) {
      this.#update(service, ServingStatus.NOT_SERVING);
    }
    for (const set of [...this.#watchers.values()]) {
      for (const sub of [...set]) sub.end();
    }
  }

  /**
   * Yields the current status at once (SERVICE_UNKNOWN for an unknown
   * service), then every change. Ends when `signal` aborts or on shutdown().
   */
  subscribe(service: string, signal?: AbortSignal): AsyncIterableIterator<ServingStatus, undefined> {
    let set = this.#watchers.get(service);
    if (set === undefined) {
      set = new Set();
      this.#watchers.set(service, set);
    }
    const watchers = set;
    const onAbort = (): void => sub.cancel();
    const sub: Subscription = new Subscription(this.get(service) ?? ServingStatus.SERVICE_UNKNOWN, () => {
      signal?.removeEventListener("abort", onAbort);
      watchers.delete(sub);
      if (watchers.size === 0 && this.#watchers.get(service) === watchers) {
        this.#watchers.delete(service);
      }
    });
    watchers.add(sub);
    if (signal?.aborted) {
      sub.cancel();
    } else if (this.#shutdown) {
      // Still report the status once so the caller learns why the stream ends.
      sub.end();
    } else {
      signal?.addEventListener("abort", onAbort, { once: true });
    }
    return sub;
  }

  #update(service: string, status: ServingStatus): void {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    const set = this.#watchers.get(service);
    if (set === undefined) return;
    for (const sub of set) sub.deliver(status);
  }
}

function assertSettable(status: ServingStatus): void {
  // The spec reserves SERVICE_UNKNOWN for Watch; storing it would make Check
  // report a status clients do not expect from it.
  if (status === ServingStatus.SERVICE_UNKNOWN || ServingStatus[status] === undefined) {
    throw new RangeError(`invalid serving status ${status}`);
  }
}

function response(status: ServingStatus): HealthCheckResponse {
  return create(HealthCheckResponseSchema, { status });
}

/** Implements grpc.health.v1.Health on top of `status`. */
export function registerHealth(router: ConnectRouter, status: HealthStatus): void {
  router.service(Health, {
    check(req) {
      const s = status.get(req.service);
      if (s === undefined) {
        throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      }
      return response(s);
    },

    async *watch(req, ctx) {
      for await (const s of status.subscribe(req.service, ctx.signal)) {
        yield response(s);
      }
    },

    list() {
      const all = status.list();
      if (all.size > MAX_LISTED_SERVICES) {
        throw new ConnectError(`${all.size} services exceed the limit of ${MAX_LISTED_SERVICES}`, Code.ResourceExhausted);
      }
      // fromEntries defines own properties, so a service named "__proto__" stays a plain key.
      const statuses = Object.fromEntries([...all].map(([service, s]) => [service, response(s)]));
      return { statuses };
    },
  });
}
