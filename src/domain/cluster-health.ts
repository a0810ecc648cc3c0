// A cluster's health as its agent sees it (K8S-11): the figures of one report, and the rules a
// report must keep. docs/kubernetes-health.md.
import { InvalidArgumentError, type FieldViolation } from "./errors.js";

/** Ingress traffic; figures the agent does not measure are zero. */
export interface ClusterTraffic {
  readonly requestsPerSecond: number;
  readonly ingressBytesPerSecond: number;
  readonly egressBytesPerSecond: number;
}

/** A pool's node running no workload pods, since a time (the agent's clock). */
export interface EmptyNode {
  readonly virtualMachineId: string;
  readonly emptySince: Date;
}

/** What the autoscaler reads of a pool: pods that fit no node, and nodes with nothing to run. */
export interface NodePoolHealth {
  readonly nodePoolId: string;
  readonly unschedulablePodCount: number;
  readonly emptyNodes: readonly EmptyNode[];
}

/** One report's figures. */
export interface ClusterHealthReport {
  readonly observeTime: Date;
  readonly readyNodeCount: number;
  readonly notReadyNodeCount: number;
  readonly runningPodCount: number;
  readonly pendingPodCount: number;
  readonly failedPodCount: number;
  readonly traffic: ClusterTraffic | null;
  readonly nodePools: readonly NodePoolHealth[];
}

/** The stored report as a view shows it. */
export interface ClusterHealth extends ClusterHealthReport {
  readonly receiveTime: Date;
  /** Older than the staleness period when read: the agent stopped reporting. */
  readonly stale: boolean;
}

/** How far an agent's clock may be from the server's, either way, as for observations. */
export const observeTimeToleranceMillis = 86_400_000;

/** Refuses a report whose time is more than a day from `now`, or a node empty since after the
 * report's own time. */
export function requirePlausibleReport(report: ClusterHealthReport, now: Date): void {
  const violations: FieldViolation[] = [];
  if (Math.abs(report.observeTime.getTime() - now.getTime()) > observeTimeToleranceMillis) {
    violations.push({ field: "health.observe_time", description: "must be within a day of the server's clock" });
  }
  for (const [p, pool] of report.nodePools.entries()) {
    for (const [n, node] of pool.emptyNodes.entries()) {
      if (node.emptySince.getTime() > report.observeTime.getTime()) {
        violations.push({
          field: `health.node_pools[${p}].empty_nodes[${n}].empty_since_time`,
          description: "must not be after observe_time",
        });
      }
    }
  }
  if (violations.length > 0) {
    throw new InvalidArgumentError(
      "INVALID_HEALTH_REPORT",
      `the health report is not plausible: ${violations[0]!.description}`,
      violations,
    );
  }
}
