// Reading the latest observations (issue 19) for the views of hosts and VMs. Staleness is decided
// when read (domain/observations.ts viewObservation), never stored: a silent agent cannot leave a
// row that still claims "healthy" after the limit.
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Database } from "../database.js";
import { readBound } from "../../persistence/reads.js";
import {
  type Health,
  type ObservationView,
  type ObservedKind,
  type StoredObservation,
  viewObservation,
} from "../../domain/observations.js";

/** How observations read: older than `staleMillis`, health is UNKNOWN. */
export interface ObservationSettings {
  readonly staleMillis: number;
  /** How long observed power may contradict the recorded state before the VM is drifted. */
  readonly driftGraceMillis: number;
}

export const defaultObservationSettings: ObservationSettings = { staleMillis: 300_000, driftGraceMillis: 120_000 };

/** The latest observation of each of `ids` (of one kind) that has one, as it reads now. */
export async function observationsOf(
  em: EntityManager,
  kind: ObservedKind,
  ids: readonly string[],
  settings: ObservationSettings,
): Promise<Map<string, ObservationView>> {
  if (ids.length === 0) return new Map();
  // One statement text whatever the number of ids (the ids bound as one array): prepared once per
  // connection outside a transaction (persistence/reads.ts).
  const rows = await readBound<ObservationRow & { now: Date; resource_id: string }>(em, latestObservationsSql, [kind, ids]);
  // The database's clock, the one every replica shares, measures the age.
  return new Map(rows.map((row) => [row.resource_id, viewObservation(storedObservation(row), new Date(row.now), settings.staleMillis)]));
}

const latestObservationsSql = `select now() as now, resource_id, ${observationColumns("")}
  from observation where resource_type = ? and resource_id = any(?::uuid[])`;

/** An observation's columns as `ObservationRow` reads them, from the table aliased `alias` (with
 * its dot, or "" for none); each column of a left join is null where there is no observation. */
export function observationColumns(alias: string): string {
  return [
    "observe_time",
    "power_state",
    "health",
    "reasons",
    "cpu_percent",
    "memory_used_mib",
    "storage_used_gib",
    "drift_since",
    "drift_recorded_state",
    "drifted",
  ]
    .map((column) => `${alias}${column}`)
    .join(", ");
}

/** A stored observation as read by `observationColumns`. */
export interface ObservationRow {
  readonly observe_time: Date | string;
  readonly power_state: StoredObservation["powerState"];
  readonly health: string;
  readonly reasons: StoredObservation["reasons"];
  readonly cpu_percent: number;
  readonly memory_used_mib: string | number;
  readonly storage_used_gib: string | number;
  readonly drift_since: Date | string | null;
  readonly drift_recorded_state: string;
  readonly drifted: boolean;
}

export function storedObservation(row: ObservationRow): StoredObservation {
  return {
    observeTime: new Date(row.observe_time),
    powerState: row.power_state,
    health: row.health === "" ? null : (row.health as Exclude<Health, "UNKNOWN">),
    reasons: row.reasons,
    cpuPercent: Number(row.cpu_percent),
    memoryUsedMib: Number(row.memory_used_mib),
    storageUsedGib: Number(row.storage_used_gib),
    driftSince: row.drift_since === null ? null : new Date(row.drift_since),
    driftRecordedState: row.drift_recorded_state,
    drifted: row.drifted,
  };
}

/** `observationsOf` for a view: call it only with ids the caller was allowed to read. */
export function readObservations(
  db: Database,
  kind: ObservedKind,
  ids: readonly string[],
  settings: ObservationSettings,
): Promise<Map<string, ObservationView>> {
  return observationsOf(db.em(), kind, ids, settings);
}
