// Prometheus text exposition of RPC counts and latency histograms, by method and code. Kept in
// process (no client library): two maps and a fixed bucket ladder are all it takes.
import type { CreationBatchStats } from "../app/compute/creation-batch.js";
const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Series {
  readonly method: string;
  readonly code: string;
  count: number;
  sum: number;
  readonly bucketCounts: number[];
}

export class RpcMetrics {
  private readonly series = new Map<string, Series>();
  private inFlight = 0;

  started(): void {
    this.inFlight++;
  }

  finished(method: string, code: string, seconds: number): void {
    this.inFlight--;
    const key = `${method}\u0000${code}`;
    let series = this.series.get(key);
    if (!series) {
      series = { method, code, count: 0, sum: 0, bucketCounts: buckets.map(() => 0) };
      this.series.set(key, series);
    }
    series.count++;
    series.sum += seconds;
    for (let i = 0; i < buckets.length; i++) if (seconds <= buckets[i]!) series.bucketCounts[i]!++;
  }

  inFlightCount(): number {
    return this.inFlight;
  }

  render(): string {
    const lines = [
      "# HELP rackplane_rpc_requests_total RPCs handled, by method and status code.",
      "# TYPE rackplane_rpc_requests_total counter",
    ];
    for (const s of this.series.values()) lines.push(`rackplane_rpc_requests_total{${labels(s)}} ${s.count}`);
    lines.push(
      "# HELP rackplane_rpc_duration_seconds RPC latency, by method and status code.",
      "# TYPE rackplane_rpc_duration_seconds histogram",
    );
    for (const s of this.series.values()) {
      for (const [i, le] of buckets.entries())
        lines.push(`rackplane_rpc_duration_seconds_bucket{${labels(s)},le="${le}"} ${s.bucketCounts[i]}`);
      lines.push(`rackplane_rpc_duration_seconds_bucket{${labels(s)},le="+Inf"} ${s.count}`);
      lines.push(`rackplane_rpc_duration_seconds_sum{${labels(s)}} ${s.sum}`);
      lines.push(`rackplane_rpc_duration_seconds_count{${labels(s)}} ${s.count}`);
    }
    lines.push(
      "# HELP rackplane_rpc_in_flight RPCs being handled now.",
      "# TYPE rackplane_rpc_in_flight gauge",
      `rackplane_rpc_in_flight ${this.inFlight}`,
    );
    return `${lines.join("\n")}\n`;
  }
}

function labels(series: Series): string {
  return `method="${series.method}",code="${series.code}"`;
}

/** The VM-creation batcher's counters (app/compute/creation-batch.ts). */
export function renderCreationBatches(stats: CreationBatchStats): string {
  const counters: Array<[string, string, number]> = [
    ["rackplane_vm_creation_batches_total", "Transactions that held more than one VM creation.", stats.batches],
    ["rackplane_vm_creations_batched_total", "VM creations committed in those transactions.", stats.batched],
    ["rackplane_vm_creations_handed_on_total", "VM creations a batch handed on to run in a transaction of their own.", stats.handedOn],
    [
      "rackplane_vm_creation_batches_failed_total",
      "Batches that failed as a whole and were retried creation by creation.",
      stats.failedBatches,
    ],
  ];
  return counters.map(([name, help, value]) => `# HELP ${name} ${help}\n# TYPE ${name} counter\n${name} ${value}\n`).join("");
}
