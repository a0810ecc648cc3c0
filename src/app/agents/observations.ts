// Observed state (issue 19): agents report what hosts and VMs actually do, in batches. One call is
// one transaction of two statements whatever its size: one read of where each named resource lives
// (for the agent's scope, and its recorded state), one upsert of every accepted observation that
// keeps the newer of the stored and the reported one (and keeps it as a sample for the hourly
// history); a drift statement only when a stored observation contradicts its record; and one audit
// record. docs/observations.md says why.
import type { EntityManager } from "@mikro-orm/postgresql";
import { placeInScope } from "../../domain/agent-scope.js";
import {
  type ObservationOutcome,
  type ObservationReport,
  type ObservedKind,
  observedKinds,
  powerContradictions,
} from "../../domain/observations.js";
import { requireRole } from "../../domain/principal.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { executeBound } from "../../persistence/bound.js";
import { auditInsertComputed, mutate, recordMutations } from "../mutation.js";

export interface ObservationsResult {
  /** One per report, in the order given. */
  readonly outcomes: readonly ObservationOutcome[];
  readonly acceptedCount: number;
}

/** Stores each observation inside the agent's scope that is newer than the stored one. A resource
 * outside the scope is NOT_FOUND, exactly like one that does not exist; an older (or equally old)
 * report is SUPERSEDED and changes nothing. */
export async function reportObservations(
  db: Database,
  ctx: CallContext,
  reports: readonly ObservationReport[],
  settings: { readonly driftGraceMillis: number },
): Promise<ObservationsResult> {
  requireRole(ctx.principal, ["AGENT"], "report observations");
  return ingestTurn(() =>
    mutate(db, ctx, async (em) => {
      ctx.audit.resourceType = "observation";
      ctx.audit.resourceId = "";
      const places = await placesOf(em, reports);
      const outcomes: ObservationOutcome[] = reports.map((report) => {
        const place = places.get(key(report.kind, report.id));
        return place && placeInScope(ctx.principal.agentScope, place) ? "SUPERSEDED" : "NOT_FOUND";
      });
      // A batch may name one resource twice: only its newest report can be stored (one statement may
      // not change a row twice), the others are superseded by it.
      const newest = new Map<string, number>();
      reports.forEach((report, index) => {
        if (outcomes[index] === "NOT_FOUND") return;
        const k = key(report.kind, report.id);
        const previous = newest.get(k);
        if (previous === undefined || reports[previous]!.observeTime < report.observeTime) newest.set(k, index);
      });
      const candidates = [...newest.values()].map((index) => reports[index]!);
      const notFound = outcomes.filter((outcome) => outcome === "NOT_FOUND").length;
      const stored = await upsertNewer(em, ctx, candidates, { total: reports.length, notFound });
      // Only a stored observation that contradicts its record, or one whose resource has a
      // contradiction on record, can begin, continue or end a drift: in steady state none, and then
      // drift costs no statement at all.
      const mayDrift: Record<ObservedKind, string[]> = { baremetal: [], virtual_machine: [] };
      for (const [k, index] of newest) {
        const driftOnRecord = stored.get(k);
        if (driftOnRecord === undefined) continue;
        outcomes[index] = "ACCEPTED";
        const report = reports[index]!;
        if (driftOnRecord || contradicts(report.kind, places.get(k)!.recorded, report.powerState)) mayDrift[report.kind].push(report.id);
      }
      for (const kind of observedKinds) await recordDrift(em, ctx, kind, mayDrift[kind], settings.driftGraceMillis);
      const acceptedCount = stored.size;
      // The upsert wrote the audit record with these counts; with nothing to store, mutate() writes it.
      ctx.audit.detail = auditMessage(reports.length, acceptedCount, notFound);
      return { outcomes, acceptedCount };
    }),
  );
}

/** Whether a resource of `kind` recorded as `recorded` contradicts being observed `power`
 * (domain/observations.ts powerContradictions). */
function contradicts(kind: ObservedKind, recorded: string, power: ObservationReport["powerState"]): boolean {
  const contradictions = powerContradictions[kind];
  return Object.hasOwn(contradictions, recorded) && contradictions[recorded] === power;
}

/**
 * Ingest transactions run at most `ingestTransactions` at a time in one process, the others waiting
 * their turn in arrival order. Each holds a thousand row locks and keeps a PostgreSQL backend busy
 * for its whole statement; four at once (four agents reporting together) take both cores of a small
 * machine from the reads, while one or two keep the same throughput (a batch is already large) and
 * leave a core to everything else. docs/observations.md, "Ingest speed", has the measurements.
 */
const ingestTransactions = 2;
const ingestTurn = turns(ingestTransactions);

/** A queue that runs at most `limit` pieces of work at once, in the order they arrived. */
function turns(limit: number): <T>(work: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (work) => {
    if (running < limit) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await work();
    } finally {
      // The turn passes straight to the next in line, so `running` stays counted for it.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

function auditMessage(total: number, accepted: number, notFound: number): string {
  return `${total} observations: ${accepted} accepted, ${total - accepted - notFound} superseded, ${notFound} not found`;
}

function key(kind: ObservedKind, id: string): string {
  return `${kind}/${id.toLowerCase()}`;
}

/** Where each named host and VM lives (its group and its host's datacenter) and its recorded state
 * (a host's status, a VM's state), in one statement with its two id lists bound as parameters; a
 * resource that does not exist is missing from the map. */
async function placesOf(em: EntityManager, reports: readonly ObservationReport[]): Promise<Map<string, ReportedPlace>> {
  const hosts = new Set<string>();
  const vms = new Set<string>();
  for (const report of reports) (report.kind === "baremetal" ? hosts : vms).add(report.id);
  const rows = await executeBound<{
    kind: ObservedKind;
    id: string;
    group_id: string | null;
    datacenter_id: string | null;
    recorded: string;
  }>(
    em,
    `select 'baremetal' as kind, b.id, b.group_id, b.datacenter_id, b.status as recorded
       from baremetal b where b.id = any(?::uuid[])
     union all
     select 'virtual_machine' as kind, v.id, v.group_id, b.datacenter_id, v.state as recorded
       from virtual_machine v join baremetal b on b.id = v.baremetal_id
      where v.id = any(?::uuid[])`,
    [[...hosts], [...vms]],
  );
  return new Map(
    rows.map((row) => [key(row.kind, row.id), { groupId: row.group_id, datacenterId: row.datacenter_id, recorded: row.recorded }]),
  );
}

interface ReportedPlace {
  readonly groupId: string | null;
  readonly datacenterId: string | null;
  /** The recorded state as read before the upsert: it says which resources may be drifting. */
  readonly recorded: string;
}

/** One statement for the whole batch, its ten arrays bound as parameters (persistence/bound.ts):
 * each row is written only when it is newer than the stored one, so a late report never regresses the state, and each row written is also kept as a sample
 * for the hourly roll-up (app/observations/history.ts), which runs off this path. Returns the keys
 * written, each with whether its resource has a power contradiction on record (the upsert leaves
 * the drift columns as they were; the row is locked from here to the commit). The same statement
 * writes the call's audit record, with the counts it can only know as it runs: one round trip less. */
async function upsertNewer(
  em: EntityManager,
  ctx: CallContext,
  reports: readonly ObservationReport[],
  counts: { readonly total: number; readonly notFound: number },
): Promise<Map<string, boolean>> {
  if (reports.length === 0) return new Map();
  const rows = await executeBound<{ resource_type: ObservedKind; resource_id: string; drift_on_record: boolean }>(
    em,
    `with stored as (
     insert into observation as o (resource_type, resource_id, observe_time, receive_time, power_state, health, reasons,
                                   cpu_percent, memory_used_mib, storage_used_gib, reported_by)
     select r.resource_type, r.resource_id, r.observe_time, now(), r.power_state, r.health, r.reasons::jsonb,
            r.cpu_percent, r.memory_used_mib, r.storage_used_gib, ?::text
       from unnest(?::text[], ?::uuid[], ?::timestamptz[], ?::text[], ?::text[], ?::text[], ?::float8[], ?::int8[], ?::int8[])
            as r(resource_type, resource_id, observe_time, power_state, health, reasons, cpu_percent, memory_used_mib, storage_used_gib)
     on conflict (resource_type, resource_id) do update
        set observe_time = excluded.observe_time, receive_time = excluded.receive_time, power_state = excluded.power_state,
            health = excluded.health, reasons = excluded.reasons, cpu_percent = excluded.cpu_percent,
            memory_used_mib = excluded.memory_used_mib, storage_used_gib = excluded.storage_used_gib, reported_by = excluded.reported_by
      where excluded.observe_time > o.observe_time
     returning o.resource_type, o.resource_id, o.observe_time, o.cpu_percent, o.memory_used_mib, o.storage_used_gib,
               o.drift_since is not null or o.drifted as drift_on_record
     ), sampled as (
       insert into observation_sample (resource_type, resource_id, observe_time, cpu_percent, memory_used_mib, storage_used_gib)
       select resource_type, resource_id, observe_time, cpu_percent, memory_used_mib, storage_used_gib from stored
       on conflict do nothing
     ), accepted as (select count(*)::int as n from stored),
     ${auditInsertComputed.cte("(select format('%s observations: %s accepted, %s superseded, %s not found', ?::int, n, ?::int - n, ?::int) from accepted)")}
     select resource_type, resource_id, drift_on_record from stored`,
    [
      ctx.principal.name,
      reports.map((report) => report.kind),
      reports.map((report) => report.id),
      reports.map((report) => report.observeTime.toISOString()),
      reports.map((report) => report.powerState),
      reports.map((report) => report.health ?? ""),
      reports.map((report) => JSON.stringify(report.reasons)),
      reports.map((report) => report.cpuPercent),
      reports.map((report) => report.memoryUsedMib),
      reports.map((report) => report.storageUsedGib),
      ...auditInsertComputed.params(ctx),
      counts.total,
      counts.total - counts.notFound,
      counts.notFound,
    ],
  );
  ctx.audit.written = true;
  return new Map(rows.map((row) => [key(row.resource_type, row.resource_id), row.drift_on_record]));
}

/** Where each kind's recorded state is kept. */
const recordedStates: Readonly<Record<ObservedKind, { readonly table: string; readonly column: string }>> = {
  virtual_machine: { table: "virtual_machine", column: "state" },
  baremetal: { table: "baremetal", column: "status" },
};

/**
 * Drift, evaluated in the ingest transaction for the resources of one kind whose observation was
 * just stored: one statement compares each with its recorded state (the kind's contradictions in
 * domain/observations.ts: a RUNNING VM or an ACTIVE host observed OFF, …; a state in transition never
 * drifts), keeps since when the contradiction lasts, and marks it drifted once that is longer than
 * the grace period. Its start and its end are each audited (reasons DRIFT_STARTED, DRIFT_ENDED); the
 * record itself is never changed. Set-based and on rows the upsert already locked, so it costs one
 * statement per kind reported in a call; doing it here rather than in a sweep means a drift is known
 * the moment the report proving it arrives.
 */
async function recordDrift(
  em: EntityManager,
  ctx: CallContext,
  kind: ObservedKind,
  ids: readonly string[],
  graceMillis: number,
): Promise<void> {
  if (ids.length === 0) return;
  const grace = graceMillis / 1000;
  const { table, column } = recordedStates[kind];
  const contradictions = Object.entries(powerContradictions[kind]);
  const changed = await executeBound<{ resource_id: string; drifted: boolean; was_drifted: boolean; recorded: string; observed: string }>(
    em,
    `with evaluated as (
       select o.resource_id, o.drifted as was_drifted, r.${column} as recorded, o.power_state as observed,
              case when exists (select 1 from unnest(?::text[], ?::text[]) c(recorded, observed)
                                 where c.recorded = r.${column} and c.observed = o.power_state)
                   then coalesce(o.drift_since, o.observe_time) end as since,
              o.observe_time
         from observation o join ${table} r on r.id = o.resource_id
        where o.resource_type = ? and o.resource_id = any(?::uuid[])
     ), decided as (
       select e.*, coalesce(e.since <= e.observe_time - make_interval(secs => ?::float8), false) as drifted from evaluated e
     )
     update observation o
        set drift_since = d.since, drift_recorded_state = case when d.since is null then '' else d.recorded end, drifted = d.drifted
       from decided d
      where o.resource_type = ?::text and o.resource_id = d.resource_id
        and (o.drift_since is distinct from d.since or o.drifted <> d.drifted)
      returning o.resource_id, d.drifted, d.was_drifted, d.recorded, d.observed`,
    [contradictions.map(([recorded]) => recorded), contradictions.map(([, observed]) => observed), kind, [...ids], grace, kind],
  );
  const transitions = changed.filter((row) => row.drifted !== row.was_drifted);
  if (transitions.length === 0) return;
  await recordMutations(
    em,
    ctx,
    transitions.map((row) => ({
      resourceType: kind,
      resourceId: row.resource_id,
      reason: row.drifted ? "DRIFT_STARTED" : "DRIFT_ENDED",
      message: row.drifted
        ? `recorded ${row.recorded}, observed power ${row.observed} for longer than ${grace} s; the record is left as it is`
        : `observed power ${row.observed} agrees with the recorded ${row.recorded} again`,
    })),
  );
}
