// What /metrics exposes, through prom-client on a registry of this server's own (tests run several
// servers in one process): the process and Node.js runtime, every RPC by method and code, the
// database pool, the job queue and agents, placement refusals, operations in flight and readiness.
// Gauges read from the database are refreshed once per scrape with a short deadline; a database
// that does not answer leaves them out rather than failing the scrape (readiness says why).
// docs/deployment.md lists the alerts worth having on them.
import client from "prom-client";
import type { CreationBatchStats } from "../app/compute/creation-batch.js";
import type { PoolState } from "../app/database.js";
import type { FleetState } from "../app/fleet-state.js";

/** Where the gauges read from; installed once the server has them (`RpcMetrics.observe`). */
export interface MetricSources {
  creationBatches(): CreationBatchStats;
  /** The pool's counts: checked out, idle, callers waiting, and the guard's counters. */
  pool(): Promise<PoolState>;
  dispatcher(): { leaseExpiries: number; redeliveries: number };
  fleet(): Promise<FleetState>;
  ready(): boolean;
}

/** Reasons of a refused placement (app/compute/placement.ts). */
const placementReasons = new Set(["INSUFFICIENT_CAPACITY", "QUOTA_EXCEEDED"]);
const databaseDeadlineMs = 2_000;

export class RpcMetrics {
  readonly registry = new client.Registry();
  private inFlight = 0;
  private readonly requests = new client.Counter({
    name: "rackplane_rpc_requests_total",
    help: "RPCs handled, by method and status code.",
    labelNames: ["method", "code"] as const,
    registers: [this.registry],
  });
  private readonly durations = new client.Histogram({
    name: "rackplane_rpc_duration_seconds",
    help: "RPC latency, by method and status code.",
    labelNames: ["method", "code"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly refusals = new client.Counter({
    name: "rackplane_placement_refusals_total",
    help: "Placements refused, by reason (no host with the capacity, or the tenant's quota).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  private sources: MetricSources | undefined;

  constructor() {
    client.collectDefaultMetrics({ register: this.registry });
    const inFlight = () => this.inFlight;
    new client.Gauge({
      name: "rackplane_rpc_in_flight",
      help: "RPCs being handled now.",
      registers: [this.registry],
      collect() {
        this.set(inFlight());
      },
    });
  }

  started(): void {
    this.inFlight++;
  }

  finished(method: string, code: string, seconds: number, reason = ""): void {
    this.inFlight--;
    this.requests.inc({ method, code });
    this.durations.observe({ method, code }, seconds);
    if (code === "RESOURCE_EXHAUSTED" && placementReasons.has(reason)) this.refusals.inc({ reason });
  }

  inFlightCount(): number {
    return this.inFlight;
  }

  /** Registers the families read from the rest of the server. Called once. */
  observe(sources: MetricSources): void {
    this.sources = sources;
    const registers = [this.registry];
    const counter = (name: string, help: string, read: () => number) =>
      new client.Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counter(
      "rackplane_vm_creation_batches_total",
      "Transactions that held more than one VM creation.",
      () => sources.creationBatches().batches,
    );
    counter(
      "rackplane_vm_creations_batched_total",
      "VM creations committed in those transactions.",
      () => sources.creationBatches().batched,
    );
    counter(
      "rackplane_vm_creations_handed_on_total",
      "VM creations a batch handed on to run in a transaction of their own.",
      () => sources.creationBatches().handedOn,
    );
    counter(
      "rackplane_vm_creation_batches_failed_total",
      "Batches that failed as a whole and were retried creation by creation.",
      () => sources.creationBatches().failedBatches,
    );
    counter(
      "rackplane_job_lease_expiries_total",
      "Job leases this replica took back because their agent stopped renewing them (the job was queued again).",
      () => sources.dispatcher().leaseExpiries,
    );
    counter(
      "rackplane_job_redeliveries_total",
      "Jobs this replica handed to an agent again after an earlier attempt.",
      () => sources.dispatcher().redeliveries,
    );
    new client.Gauge({
      name: "rackplane_ready",
      help: "1 while this replica is ready (it reaches a writable database), 0 otherwise.",
      registers,
      collect() {
        this.set(sources.ready() ? 1 : 0);
      },
    });

    const poolConnections = new client.Gauge({
      name: "rackplane_db_pool_connections",
      help: "Connections of this replica's database pool, by state (in_use, idle).",
      labelNames: ["state"] as const,
      registers,
    });
    const poolWaiting = new client.Gauge({
      name: "rackplane_db_pool_waiting",
      help: "Callers waiting for a connection of the pool (a pool too small, or a database too slow).",
      registers,
    });
    const poolErrors = new client.Counter({
      name: "rackplane_db_pool_errors_total",
      help: "Pool connections lost, by cause: idle_error (the server went away), read_only (reached a standby; destroyed), timed_out (a query got no answer in time; destroyed) or lost_in_use (died while checked out; destroyed).",
      labelNames: ["cause"] as const,
      registers,
    });
    const jobs = new client.Gauge({
      name: "rackplane_jobs",
      help: "Jobs waiting for an agent (QUEUED) or held by one (LEASED), by kind.",
      labelNames: ["kind", "state"] as const,
      registers,
    });
    const oldestQueued = new client.Gauge({
      name: "rackplane_jobs_oldest_queued_age_seconds",
      help: "How long the oldest queued job has waited for an agent (0 with none queued).",
      registers,
    });
    const agents = new client.Gauge({
      name: "rackplane_agents_connected",
      help: 'Agents connected (to any replica) per job kind they take; "*" for agents that take every kind.',
      labelNames: ["job_kind"] as const,
      registers,
    });
    const operations = new client.Gauge({
      name: "rackplane_operations",
      help: "Operations not finished yet, by state (PENDING, RUNNING).",
      labelNames: ["state"] as const,
      registers,
    });
    const drifted = new client.Gauge({
      name: "rackplane_drifted_resources",
      help: "Resources whose observed power state has contradicted their recorded state past the grace period, by type.",
      labelNames: ["resource_type"] as const,
      registers,
    });
    // One refresh per scrape sets every database-read family before the registry renders.
    this.refresh = async () => {
      const pool = await sources.pool();
      poolConnections.set({ state: "in_use" }, pool.total - pool.idle);
      poolConnections.set({ state: "idle" }, pool.idle);
      poolWaiting.set(pool.waiting);
      poolErrors.reset();
      poolErrors.inc({ cause: "idle_error" }, pool.idleErrors);
      poolErrors.inc({ cause: "read_only" }, pool.droppedReadOnly);
      poolErrors.inc({ cause: "timed_out" }, pool.timedOut);
      poolErrors.inc({ cause: "lost_in_use" }, pool.lostInUse);
      for (const gauge of [jobs, oldestQueued, agents, operations, drifted]) gauge.reset();
      const fleet = await withDeadline(sources.fleet(), databaseDeadlineMs).catch(() => undefined);
      if (!fleet) return;
      for (const row of fleet.jobs) jobs.set({ kind: row.kind, state: row.state }, row.count);
      oldestQueued.set(fleet.oldestQueuedSeconds);
      for (const row of fleet.agents) agents.set({ job_kind: row.jobKind }, row.count);
      for (const row of fleet.operations) operations.set({ state: row.state }, row.count);
      for (const row of fleet.drifted) drifted.set({ resource_type: row.resourceType }, row.count);
    };
  }

  private refresh: () => Promise<void> = async () => undefined;

  /** The exposition in Prometheus text format. */
  async render(): Promise<string> {
    if (this.sources) await this.refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
