// A Kubernetes cluster's latest health report (K8S-11), as GetKubernetesCluster carries it, and a
// node pool's autoscaler decisions (K8S-5, ListNodePoolScalingEvents) a page at a time.
import { useInfiniteQuery } from "@connectrpc/connect-query";
import {
  type KubernetesClusterHealth,
  KubernetesAddonService,
  NodePoolScalingOutcome,
  NodePoolScalingReason,
  type NodePoolScalingEvent,
} from "../../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import type { NodePool } from "../../../gen/es/rackplane/v1/kubernetes_pb.js";
import { ErrorNotice } from "../errors";
import { enumName, perSecond, quote, shortId, time } from "../format";

/** Scaling events read per page (and per click on "More"). */
export const scalingEventsPageSize = 20;

export function ClusterHealth({ health, pools }: { health: KubernetesClusterHealth | undefined; pools: readonly NodePool[] }) {
  const poolName = new Map(pools.map((p) => [p.id, p.name]));
  return (
    <section aria-labelledby="cluster-health">
      <h2 id="cluster-health">Health</h2>
      {!health ? (
        <p className="hint" data-testid="health-absent">
          No health report yet: the cluster's agent has not reported on it.
        </p>
      ) : (
        <>
          {health.stale && (
            <p className="stale" data-testid="health-stale">
              <strong>Stale</strong>: the last report was observed {time(health.observeTime)} UTC; its agent stopped reporting, so these
              figures may no longer hold.
            </p>
          )}
          <dl>
            <dt>Nodes</dt>
            <dd data-testid="health-nodes">
              {health.readyNodeCount} ready, {health.notReadyNodeCount} not ready
            </dd>
            <dt>Pods</dt>
            <dd data-testid="health-pods">
              {health.runningPodCount} running, {health.pendingPodCount} pending, {health.failedPodCount} failed
            </dd>
            {health.traffic && (
              <>
                <dt>Ingress traffic</dt>
                <dd data-testid="health-traffic">
                  {health.traffic.requestsPerSecond.toLocaleString("en-US", { maximumFractionDigits: 1 })} requests/s,{" "}
                  {perSecond(health.traffic.ingressBytesPerSecond)} in, {perSecond(health.traffic.egressBytesPerSecond)} out
                </dd>
              </>
            )}
            <dt>Observed</dt>
            <dd data-testid="health-observed">
              {time(health.observeTime)} UTC{health.stale ? " (stale)" : ""}, received {time(health.receiveTime)} UTC
            </dd>
          </dl>
          {health.nodePools.length > 0 && (
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">Health per node pool</caption>
                <thead>
                  <tr>
                    <th scope="col">Pool</th>
                    <th scope="col">Unschedulable pods</th>
                    <th scope="col">Empty nodes</th>
                    <th scope="col">Empty since (longest)</th>
                  </tr>
                </thead>
                <tbody>
                  {health.nodePools.map((p) => {
                    const since = p.emptyNodes
                      .map((n) => n.emptySinceTime)
                      .filter((t) => t !== undefined)
                      .sort((a, b) => Number(a.seconds - b.seconds) || a.nanos - b.nanos)[0];
                    return (
                      <tr key={p.nodePoolId}>
                        <th scope="row">{poolName.get(p.nodePoolId) ?? p.nodePoolId}</th>
                        <td>{p.unschedulablePodCount}</td>
                        <td>{p.emptyNodes.length}</td>
                        <td>{since ? `${time(since)} UTC` : "none"}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}

const reasonName = (reason: NodePoolScalingReason) => enumName(NodePoolScalingReason, reason, "NODE_POOL_SCALING_REASON_");
const outcomeName = (outcome: NodePoolScalingOutcome) => enumName(NodePoolScalingOutcome, outcome, "NODE_POOL_SCALING_OUTCOME_");

/** "up 2 → 3", "down 4 → 2": the direction and the counts of a decision. */
export function scalingChange(event: Pick<NodePoolScalingEvent, "fromNodeCount" | "toNodeCount">): string {
  const direction = event.toNodeCount > event.fromNodeCount ? "up" : event.toNodeCount < event.fromNodeCount ? "down" : "none";
  return `${direction} ${event.fromNodeCount} → ${event.toNodeCount}`;
}

/** What the report showed that led to the decision. */
function figures(event: NodePoolScalingEvent): string {
  if (event.reason === NodePoolScalingReason.EMPTY_NODES) return `${event.removedNodeIds.length} empty nodes removed`;
  return `${event.unschedulablePodCount} unschedulable pods`;
}

/**
 * A pool's scaling events, newest first (order_by `create_time desc`), 20 a page; "More events"
 * reads older ones while there are.
 */
export function ScalingEvents({ pool }: { pool: NodePool }) {
  const events = useInfiniteQuery(
    KubernetesAddonService.method.listNodePoolScalingEvents,
    { pageSize: scalingEventsPageSize, filter: `node_pool_id = ${quote(pool.id)}`, orderBy: "create_time desc", pageToken: "" },
    { pageParamKey: "pageToken", getNextPageParam: (page) => page.nextPageToken || undefined },
  );
  const rows = events.data?.pages.flatMap((page) => page.events) ?? [];
  const headingId = `scaling-events-${pool.id}`;
  return (
    <section aria-labelledby={headingId}>
      <h3 id={headingId}>Pool {pool.name}</h3>
      <ErrorNotice error={events.error} />
      {events.isPending ? (
        <p aria-busy="true">Loading…</p>
      ) : rows.length === 0 ? (
        <p className="hint">No scaling events: the autoscaler has not acted on this pool.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Scaling events of pool {pool.name}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Decided</th>
                <th scope="col">Nodes</th>
                <th scope="col">Reason</th>
                <th scope="col">Report</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <tr key={e.id}>
                  <td>{time(e.createTime)}</td>
                  <td>{scalingChange(e)}</td>
                  <td>{reasonName(e.reason)}</td>
                  <td>
                    {figures(e)}, observed {time(e.observeTime)}
                  </td>
                  <td className="wrap">
                    {e.outcome === NodePoolScalingOutcome.REFUSED ? (
                      <>
                        <span className="badge">REFUSED</span> {e.refusedReason}
                        {e.message ? `: ${e.message}` : ""}
                      </>
                    ) : e.operationId ? (
                      <>
                        {outcomeName(e.outcome)} <span title={e.operationId}>(operation {shortId(e.operationId)})</span>
                      </>
                    ) : (
                      outcomeName(e.outcome)
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {events.hasNextPage && (
        <button type="button" onClick={() => void events.fetchNextPage()} disabled={events.isFetchingNextPage}>
          More events of {pool.name}
        </button>
      )}
    </section>
  );
}
