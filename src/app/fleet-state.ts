// What the fleet looks like from the database, for the metrics an operator alerts on: the job
// queue by kind, how long the oldest queued job has waited, the agents connected per job kind, the
// operations still in flight and the resources drifted from their record. The same numbers on every
// replica (they read shared rows).
import type { Database } from "./database.js";

export interface FleetState {
  readonly jobs: readonly { kind: string; state: "QUEUED" | "LEASED"; count: number }[];
  /** Seconds the oldest QUEUED job has waited; 0 with none queued. */
  readonly oldestQueuedSeconds: number;
  /** Connected agents per job kind they take; "*" for agents that take every kind. */
  readonly agents: readonly { jobKind: string; count: number }[];
  /** Operations not finished yet (PENDING, RUNNING): finished ones only grow and are not gauged. */
  readonly operations: readonly { state: string; count: number }[];
  /** Resources whose observed power contradicts their record past the grace period, by type. */
  readonly drifted: readonly { resourceType: string; count: number }[];
}

/** Unfinished operations by state, for the operations gauge. */
export const openOperationsSql = "select state, count(*)::int as count from operation where state in ('PENDING', 'RUNNING') group by state";

export async function readFleetState(db: Database): Promise<FleetState> {
  const em = db.em();
  // Both job queries use the partial indexes on QUEUED and LEASED rows.
  const jobs = await em.execute<{ kind: string; state: "QUEUED" | "LEASED"; count: number }[]>(
    "select kind, state, count(*)::int as count from job where state in ('QUEUED', 'LEASED') group by kind, state",
  );
  const [oldest] = await em.execute<{ seconds: number | null }[]>(
    "select extract(epoch from now() - min(create_time))::float8 as seconds from job where state = 'QUEUED'",
  );
  const agents = await em.execute<{ job_kind: string; count: number }[]>(
    `select kind as job_kind, count(*)::int as count
       from agent, unnest(case when cardinality(job_kinds) = 0 then array['*'] else job_kinds end) as kind
      where connected group by kind`,
  );
  // The partial index holds unfinished operations only (operation_open_index).
  const operations = await em.execute<{ state: string; count: number }[]>(openOperationsSql);
  // The partial index holds drifted rows only.
  const drifted = await em.execute<{ resource_type: string; count: number }[]>(
    "select resource_type, count(*)::int as count from observation where drifted group by resource_type",
  );
  return {
    jobs,
    oldestQueuedSeconds: Math.max(0, oldest?.seconds ?? 0),
    agents: agents.map((row) => ({ jobKind: row.job_kind, count: row.count })),
    operations,
    drifted: drifted.map((row) => ({ resourceType: row.resource_type, count: row.count })),
  };
}
