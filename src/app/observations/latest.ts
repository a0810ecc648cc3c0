// Reading the latest observations (issue 19) for the views of hosts and VMs. Staleness is decided
// when read (domain/observations.ts viewObservation), never stored: a silent agent cannot leave a
// row that still claims "healthy" after the limit.
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Database } from "../database.js";
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
  const rows = await em.execute<
    {
      now: Date;
      resource_id: string;
      observe_time: Date;
      power_state: StoredObservation["powerState"];
      health: string;
      reasons: StoredObservation["reasons"];
      cpu_percent: number;
      memory_used_mib: string | number;
      storage_used_gib: string | number;
      drift_since: Date | null;
      drift_recorded_state: string;
      drifted: boolean;
    }[]
  >(
    `select now() as now, resource_id, observe_time, power_state, health, reasons, cpu_percent, memory_used_mib, storage_used_gib, drift_since, drift_recorded_state, drifted
         from observation where resource_type = ? and resource_id = any(array[?]::uuid[])`,
    [kind, [...ids]],
  );
  // The database's clock, the one every replica shares, measures the age.
  return new Map(
    rows.map((row) => [
      row.resource_id,
      viewObservation(
        {
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
        },
        new Date(row.now),
        settings.staleMillis,
      ),
    ]),
  );
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
