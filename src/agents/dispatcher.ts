// Job dispatch on one replica: the agents' streams held here, woken by LISTEN/NOTIFY when work
// appears anywhere (no polling on the hot path), and a slow sweep that takes back expired leases and
// gives every stream a second look. Any agent may connect to any replica; the database decides who
// gets which job (claims use FOR UPDATE SKIP LOCKED), so replicas need no coordination of their own.
import { hostname } from "node:os";
import { connectAgent, disconnectAgent, touchAgents, type AgentDeclaration } from "../app/agents/agents.js";
import { claimJobs, expireLeases, lookForJobs, type ClaimedJob } from "../app/agents/leases.js";
import type { CallContext } from "../app/context.js";
import type { Database } from "../app/database.js";
import type { AgentTokenScope } from "../domain/principal.js";
import { isRetryableConflict } from "../app/database-errors.js";
import type { OpenSecrets } from "../app/operations/lifecycle.js";
import type { Notifications } from "../persistence/notifications.js";

export interface DispatcherOptions {
  /** How long a lease lasts without a report. */
  readonly leaseMillis: number;
  /** How often expired leases are taken back and every stream looks for work it may have missed. */
  readonly sweepMillis: number;
  readonly onError: (error: unknown) => void;
  /** Streams doing database work (connect, look for jobs, disconnect) at once: a share of the pool,
   * which requests need too. More at once would only wait for the pool, each holding its forked
   * EntityManager and query state while it waits. */
  readonly bookkeepingConcurrency: number;
  /** Opens the secrets some jobs receive only on delivery (a cluster's CA key). */
  readonly secrets?: OpenSecrets;
}

/** A stream as the wake-up choice sees it. */
export interface WakeCandidate {
  readonly declaration: Pick<AgentDeclaration, "scope">;
  /** What limits the jobs it can take beyond a notice's group (`scopeKey`): streams with the same
   * key can take the same jobs. */
  readonly scopeKey: string;
  /** Free slots after its last look, to wake streams that can take work first. */
  readonly free: number;
}

interface Session extends WakeCandidate {
  readonly declaration: AgentDeclaration;
  free: number;
  wake(): void;
}

/** Streams woken per new job, at most: one for each different scope among the streams with room
 * (`scopeKey`), so that the job reaches a stream that can take it without every idle agent
 * querying for it (each woken stream looks, and all but one would find it taken). A fleet of alike
 * agents wakes one stream a job. The sweep wakes the rest. */
const wakePerJob = 4;

/** Runs at most `limit` tasks at once; the others wait in line, holding nothing but their turn. */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly drained: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      // The slot passes straight to the next in line, or is given back.
      const next = this.waiting.shift();
      if (next) next();
      else if (--this.active === 0) for (const resolve of this.drained.splice(0)) resolve();
    }
  }

  /** Resolves once no task runs or waits. */
  async idle(): Promise<void> {
    while (this.active > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
  }
}

export class Dispatcher {
  /** This process, as ListAgents shows it. */
  readonly replica = `${hostname()}:${process.pid}`;
  /** Since start, for metrics: leases this replica's sweeps took back (the job requeued), and jobs
   * its streams handed out again after an earlier attempt. */
  readonly stats = { leaseExpiries: 0, redeliveries: 0 };
  private readonly sessions = new Set<Session>();
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The sweep under way, if any (one at a time; stop waits for it). */
  private sweepRun: Promise<void> | undefined;
  private stopped = false;
  private rotation = 0;
  /** The database work of the streams (connect, look for jobs, disconnect), a few at a time: a
   * fleet reconnecting at once would otherwise queue a thousand transactions for the pool, each
   * holding its forked EntityManager and query state while it waits. */
  private readonly bookkeeping: Gate;

  constructor(
    private readonly db: Database,
    private readonly notifications: Notifications,
    private readonly options: DispatcherOptions,
  ) {
    this.bookkeeping = new Gate(options.bookkeepingConcurrency);
  }

  start(): void {
    this.unsubscribe = this.notifications.subscribe("rackplane_job", (payload) => this.notice(payload));
    this.timer = setInterval(() => void this.sweep(), this.options.sweepMillis);
    this.timer.unref();
  }

  /** Stops sweeping and marks every agent whose stream this replica held as disconnected, in one
   * statement, while the database is still open (their streams end with the server). Returns once
   * no work of its own uses the database any more. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.timer);
    await this.sweepRun;
    await this.bookkeeping.idle();
    await this.db
      .em()
      .execute("update agent set connected = false, last_seen_time = now() where replica = ? and connected", [this.replica]);
  }

  /** The jobs for one agent's stream, until `signal` aborts (the agent left or the server stops). */
  async *stream(ctx: CallContext, declaration: AgentDeclaration, signal: AbortSignal): AsyncGenerator<ClaimedJob> {
    // A stream that ended while it waited its turn (the agent gave up, the server is stopping) never
    // connects: the call gate has logged and audited how it ended.
    const connected = await this.retryConflicts(signal, () =>
      this.bookkeeping.run(async () => {
        if (signal.aborted || this.stopped) return false;
        await connectAgent(this.db, ctx, declaration, this.replica);
        return true;
      }),
    );
    if (!connected) return;
    let pending = true;
    let resume: (() => void) | undefined;
    const session: Session = {
      declaration,
      free: declaration.maxConcurrentJobs,
      scopeKey: scopeKey(declaration.scope, ctx.principal.agentScope),
      wake() {
        pending = true;
        resume?.();
      },
    };
    this.sessions.add(session);
    const onAbort = () => resume?.();
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (!pending) {
          await new Promise<void>((resolve) => (resume = resolve));
          resume = undefined;
          continue;
        }
        pending = false;
        const look = await this.retryConflicts(signal, () =>
          this.bookkeeping.run(async () => {
            // A stream that ended while it waited its turn must not take jobs it could not deliver.
            if (signal.aborted || this.stopped) return undefined;
            const { held, ready } = await lookForJobs(this.db, declaration.agentId, declaration.scope, ctx.principal.agentScope);
            const free = declaration.maxConcurrentJobs - held;
            if (!ready) return { free, jobs: [] };
            const jobs = await claimJobs(
              this.db,
              declaration.agentId,
              declaration.scope,
              free,
              this.options.leaseMillis,
              ctx.principal.agentScope,
              this.options.secrets,
            );
            return { free, jobs };
          }),
        );
        if (!look) break;
        const { free, jobs } = look;
        session.free = free - jobs.length;
        for (const job of jobs) if (job.attempt > 1) this.stats.redeliveries++;
        // A full batch may mean more is ready: look again at once.
        if (jobs.length > 0 && jobs.length === free) pending = true;
        for (const job of jobs) yield job;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.sessions.delete(session);
      // Once the dispatcher stopped, its one statement marked every stream here disconnected.
      await this.bookkeeping
        .run(async () => (this.stopped ? undefined : disconnectAgent(this.db, declaration.agentId, this.replica)))
        .catch(this.options.onError);
    }
  }

  /**
   * Runs a stream's database work again while it fails with a retryable conflict (a deadlock, a
   * serialization failure, a lock timeout: the transaction was rolled back whole, so nothing was
   * claimed). Such an error must never end an agent's stream. Undefined once the stream ended.
   */
  private async retryConflicts<T>(signal: AbortSignal, task: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await task();
      } catch (error) {
        if (!isRetryableConflict(error)) throw error;
        this.options.onError(error);
        // Jittered and growing a little, so the two sides of a conflict do not meet again at once.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(1_000, 25 * 2 ** attempt)));
        if (signal.aborted || this.stopped) return undefined;
      }
    }
  }

  /** A job became ready in a group ("" = anywhere), or one of an agent's jobs ended ("agent:<id>"). */
  private notice(payload: string): void {
    if (payload.startsWith("agent:")) {
      const agentId = payload.slice("agent:".length);
      for (const session of this.sessions) if (session.declaration.agentId === agentId) session.wake();
      return;
    }
    for (const session of streamsToWake([...this.sessions], payload, this.rotation++)) session.wake();
  }

  private async anyJobQueued(): Promise<boolean> {
    const [row] = await this.db.em().execute<{ queued: boolean }[]>("select exists (select 1 from job where state = 'QUEUED') as queued");
    return row?.queued ?? true;
  }

  private sweep(): Promise<void> {
    this.sweepRun ??= this.sweepOnce().finally(() => (this.sweepRun = undefined));
    return this.sweepRun;
  }

  private async sweepOnce(): Promise<void> {
    try {
      this.stats.leaseExpiries += await expireLeases(this.db);
      if (this.sessions.size === 0) return;
      await touchAgents(this.db, [...new Set([...this.sessions].map((session) => session.declaration.agentId))]);
      // The second look is for work a stream may have missed (a notice lost while the listening
      // connection was down). With nothing queued anywhere there is none: waking every idle stream
      // would only make each of them ask the database, all at once, every sweep.
      if (await this.anyJobQueued()) for (const session of this.sessions) session.wake();
    } catch (error) {
      this.options.onError(error);
    }
  }
}

/**
 * The streams to wake for a job announced in a group ("" = anywhere): those whose scope may hold it,
 * taken round-robin from `rotation` so work spreads over agents, streams with room first, one per
 * different scope (`scopeKey`), at most `wakePerJob`.
 */
export function streamsToWake<S extends WakeCandidate>(sessions: readonly S[], group: string, rotation: number): S[] {
  const serving = sessions.filter((session) => {
    const { groupIds, baremetalIds } = session.declaration.scope;
    return group === "" || (groupIds.length === 0 && baremetalIds.length === 0) || groupIds.includes(group) || baremetalIds.length > 0;
  });
  if (serving.length === 0) return [];
  const start = rotation % serving.length;
  const ordered = [...serving.slice(start), ...serving.slice(0, start)].sort((a, b) => Number(b.free > 0) - Number(a.free > 0));
  const scopes = new Set<string>();
  const chosen: S[] = [];
  for (const session of ordered) {
    if (scopes.has(session.scopeKey)) continue;
    scopes.add(session.scopeKey);
    chosen.push(session);
    if (chosen.length === wakePerJob) break;
  }
  return chosen;
}

/** What limits the jobs a stream can take beyond a notice's group, as one string: the job kinds and
 * hosts it declared, and the job kinds, groups and datacenters of its token. */
export function scopeKey(declared: AgentDeclaration["scope"], token: AgentTokenScope | undefined): string {
  return [declared.jobKinds, declared.baremetalIds, token?.jobKinds ?? [], token?.groupIds ?? [], token?.datacenterIds ?? []]
    .map((list) => [...list].sort().join(","))
    .join("|");
}
