// Observation history (issue 19): hourly min / avg / max of each resource's use, kept 30 days.
// Ingest only appends raw samples (in its one upsert statement); a periodic roll-up, run by one
// replica at a time under an advisory lock, folds every completed hour's samples into one row per
// resource and hour and deletes them, then prunes roll-ups past the retention. docs/observations.md.
import type { EntityManager } from "@mikro-orm/postgresql";
import { decodePageToken, effectivePageSize, encodePageToken, type PageBinding } from "../../domain/page-token.js";
import { type ObservationHistoryPoint, type ObservedKind, observationHistoryDays } from "../../domain/observations.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { getVirtualMachine } from "../compute/vm-queries.js";
import { getBaremetal } from "../hosts/baremetals.js";

/** The advisory lock the roll-up runs under: any fixed number no other code takes. */
const rollupLock = 7245032;

export interface RollupResult {
  /** Samples folded into roll-ups (and deleted). */
  readonly samples: number;
  /** Roll-ups deleted as older than the retention. */
  readonly pruned: number;
}

/**
 * Folds every sample observed before the current hour (UTC) into its resource's hourly roll-up,
 * merging with a roll-up already there (a sample may arrive late, up to a day), deletes those
 * samples, and prunes roll-ups older than the retention; one transaction. Returns undefined when
 * another replica is doing it. `now` replaces the database's clock (tests, back-fills).
 */
export async function rollUpObservations(db: Database, now?: Date): Promise<RollupResult | undefined> {
  return db.em().transactional(async (tx) => {
    const [lock] = await tx.execute<{ locked: boolean }[]>("select pg_try_advisory_xact_lock(?) as locked", [rollupLock]);
    if (!lock?.locked) return undefined;
    const at = now?.toISOString() ?? null;
    const [folded] = await tx.execute<{ samples: string | number }[]>(
      `with moved as (
         delete from observation_sample
          where observe_time < date_trunc('hour', coalesce(?::timestamptz, now()), 'UTC')
         returning resource_type, resource_id, observe_time, cpu_percent, memory_used_mib, storage_used_gib
       ), hours as (
         insert into observation_rollup as r (resource_type, resource_id, hour_start, sample_count,
                                              cpu_percent_min, cpu_percent_sum, cpu_percent_max,
                                              memory_used_mib_min, memory_used_mib_sum, memory_used_mib_max,
                                              storage_used_gib_min, storage_used_gib_sum, storage_used_gib_max)
         select resource_type, resource_id, date_trunc('hour', observe_time, 'UTC'), count(*),
                min(cpu_percent), sum(cpu_percent), max(cpu_percent),
                min(memory_used_mib), sum(memory_used_mib), max(memory_used_mib),
                min(storage_used_gib), sum(storage_used_gib), max(storage_used_gib)
           from moved group by 1, 2, 3
         on conflict (resource_type, resource_id, hour_start) do update
            set sample_count = r.sample_count + excluded.sample_count,
                cpu_percent_min = least(r.cpu_percent_min, excluded.cpu_percent_min),
                cpu_percent_sum = r.cpu_percent_sum + excluded.cpu_percent_sum,
                cpu_percent_max = greatest(r.cpu_percent_max, excluded.cpu_percent_max),
                memory_used_mib_min = least(r.memory_used_mib_min, excluded.memory_used_mib_min),
                memory_used_mib_sum = r.memory_used_mib_sum + excluded.memory_used_mib_sum,
                memory_used_mib_max = greatest(r.memory_used_mib_max, excluded.memory_used_mib_max),
                storage_used_gib_min = least(r.storage_used_gib_min, excluded.storage_used_gib_min),
                storage_used_gib_sum = r.storage_used_gib_sum + excluded.storage_used_gib_sum,
                storage_used_gib_max = greatest(r.storage_used_gib_max, excluded.storage_used_gib_max)
       )
       select count(*) as samples from moved`,
      [at],
    );
    const [pruned] = await tx.execute<{ pruned: string | number }[]>(
      `with gone as (
         delete from observation_rollup where hour_start < coalesce(?::timestamptz, now()) - make_interval(days => ?) returning 1
       ) select count(*) as pruned from gone`,
      [at, observationHistoryDays],
    );
    return { samples: Number(folded?.samples ?? 0), pruned: Number(pruned?.pruned ?? 0) };
  });
}

export interface HistoryRequest {
  readonly kind: ObservedKind;
  readonly id: string;
  /** Hours starting at or after this; unset: the oldest kept. */
  readonly startTime: Date | undefined;
  /** Hours starting before this; unset: up to the current hour. */
  readonly endTime: Date | undefined;
  readonly pageSize: number;
  readonly pageToken: string;
}

const isoKeyPart = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * One host's or VM's hourly use, oldest hour first, keyset-paged on the hour. The caller must be
 * allowed to read the resource itself (GetBaremetal's and GetVirtualMachine's rules; a VM of another
 * tenant is NOT_FOUND). Rolled-up hours and the samples not rolled up yet (the current hour, and any
 * the periodic roll-up has not reached) read as one, so the answer does not depend on when the
 * roll-up last ran.
 */
export async function listObservationHistory(
  db: Database,
  ctx: CallContext,
  request: HistoryRequest,
): Promise<{ points: ObservationHistoryPoint[]; nextPageToken: string }> {
  const em = db.em();
  if (request.kind === "baremetal") await getBaremetal(db, ctx, request.id, em);
  else await getVirtualMachine(db, ctx, request.id, em);
  const pageSize = effectivePageSize(request.pageSize);
  const binding: PageBinding = {
    list: "observation_history",
    orderBy: "hour_start asc",
    filter: "",
    scope: [request.kind, request.id.toLowerCase(), request.startTime?.toISOString() ?? "", request.endTime?.toISOString() ?? ""].join("/"),
  };
  const after = decodePageToken(request.pageToken, binding, [isoKeyPart])?.[0] ?? null;
  const rows = await historyRows(em, request, after, pageSize + 1);
  const points = rows.slice(0, pageSize);
  const last = points.at(-1);
  return { points, nextPageToken: rows.length > pageSize && last ? encodePageToken(binding, [last.hourStart.toISOString()]) : "" };
}

async function historyRows(
  em: EntityManager,
  request: HistoryRequest,
  after: string | null,
  limit: number,
): Promise<ObservationHistoryPoint[]> {
  const start = request.startTime?.toISOString() ?? null;
  const end = request.endTime?.toISOString() ?? null;
  const rows = await em.execute<Record<string, string | number | Date>[]>(
    `select hour_start, sum(n) as n,
            min(cpu_min) as cpu_min, sum(cpu_sum) as cpu_sum, max(cpu_max) as cpu_max,
            min(mem_min) as mem_min, sum(mem_sum) as mem_sum, max(mem_max) as mem_max,
            min(sto_min) as sto_min, sum(sto_sum) as sto_sum, max(sto_max) as sto_max
       from (
         select hour_start, sample_count as n, cpu_percent_min as cpu_min, cpu_percent_sum as cpu_sum, cpu_percent_max as cpu_max,
                memory_used_mib_min as mem_min, memory_used_mib_sum as mem_sum, memory_used_mib_max as mem_max,
                storage_used_gib_min as sto_min, storage_used_gib_sum as sto_sum, storage_used_gib_max as sto_max
           from observation_rollup where resource_type = ? and resource_id = ?
         union all
         select date_trunc('hour', observe_time, 'UTC'), count(*), min(cpu_percent), sum(cpu_percent), max(cpu_percent),
                min(memory_used_mib), sum(memory_used_mib), max(memory_used_mib),
                min(storage_used_gib), sum(storage_used_gib), max(storage_used_gib)
           from observation_sample where resource_type = ? and resource_id = ?
          group by 1
       ) hours
      where (?::timestamptz is null or hour_start >= ?::timestamptz)
        and (?::timestamptz is null or hour_start < ?::timestamptz)
        and (?::timestamptz is null or hour_start > ?::timestamptz)
      group by hour_start
      order by hour_start
      limit ?`,
    [request.kind, request.id, request.kind, request.id, start, start, end, end, after, after, limit],
  );
  return rows.map((row) => {
    const n = Number(row.n);
    const range = (prefix: string) => ({
      min: Number(row[`${prefix}_min`]),
      avg: Number(row[`${prefix}_sum`]) / n,
      max: Number(row[`${prefix}_max`]),
    });
    return {
      hourStart: new Date(row.hour_start as string),
      sampleCount: n,
      cpuPercent: range("cpu"),
      memoryUsedMib: range("mem"),
      storageUsedGib: range("sto"),
    };
  });
}
