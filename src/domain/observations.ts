// Observed state (issue 19): what agents see of hosts and VMs, beside what rackplane recorded. The
// rules here are pure: which kinds of resource are observed, and how an observation reads at a
// given moment (stale → UNKNOWN). Ingest and storage are in app/agents/observations.ts.
import type { FilterSchema } from "./filter.js";
import { field } from "./filter-schema.js";

/** The kinds of resource an agent reports on, as audit records and scopes name them. */
export const observedKinds = ["baremetal", "virtual_machine"] as const;
export type ObservedKind = (typeof observedKinds)[number];

export const healths = ["OK", "WARNING", "CRITICAL", "UNKNOWN"] as const;
export type Health = (typeof healths)[number];

export const powerStates = ["ON", "OFF"] as const;
export type PowerState = (typeof powerStates)[number];

export const healthReasonKinds = ["DISK_FAILED", "BMC_UNREACHABLE", "INLET_TEMPERATURE_HIGH", "OTHER"] as const;
export type HealthReasonKind = (typeof healthReasonKinds)[number];

export interface HealthReason {
  readonly kind: HealthReasonKind;
  readonly message: string;
}

/** What an agent saw of one resource at one moment: the values a report carries and the stored
 * observation keeps. `health` is null for a VM. */
export interface ObservedValues {
  readonly powerState: PowerState;
  readonly health: Exclude<Health, "UNKNOWN"> | null;
  readonly reasons: readonly HealthReason[];
  readonly cpuPercent: number;
  readonly memoryUsedMib: number;
  readonly storageUsedGib: number;
}

/** One observation as an agent reports it. */
export interface ObservationReport extends ObservedValues {
  readonly kind: ObservedKind;
  readonly id: string;
  readonly observeTime: Date;
}

/**
 * When observed power contradicts a resource's recorded state: for each kind, the recorded states
 * that claim a power, and the observed power that contradicts each. A state not listed is in
 * transition (a VM being created or stopped, a host under maintenance) and never drifts.
 */
export const powerContradictions: Readonly<Record<ObservedKind, Readonly<Record<string, PowerState>>>> = {
  // RUNNING claims on, STOPPED off.
  virtual_machine: { RUNNING: "OFF", STOPPED: "ON" },
  // ACTIVE claims a host in service (on); OFFLINE and DECOMMISSIONED claim it is off or gone.
  baremetal: { ACTIVE: "OFF", OFFLINE: "ON", DECOMMISSIONED: "ON" },
};

/** What became of one reported observation. */
export type ObservationOutcome = "ACCEPTED" | "SUPERSEDED" | "NOT_FOUND";

/** The stored latest observation of one resource. */
export interface StoredObservation extends ObservedValues {
  readonly observeTime: Date;
  /** A VM's observed power contradicts its recorded state: since when, and which state; null and
   * "" while they agree. `drifted` once that lasted longer than the grace period. */
  readonly driftSince: Date | null;
  readonly driftRecordedState: string;
  readonly drifted: boolean;
}

/** An observation as a view shows it at `now`. */
export interface ObservationView extends StoredObservation {
  readonly ageMillis: number;
  readonly stale: boolean;
  /** What counts: UNKNOWN once stale, else the reported health (OK for a VM, which has none). */
  readonly effectiveHealth: Health;
}

/** How `stored` reads at `now` when observations older than `staleMillis` no longer count. A
 * report from an agent whose clock runs ahead reads as age 0, never negative. */
export function viewObservation(stored: StoredObservation, now: Date, staleMillis: number): ObservationView {
  const ageMillis = Math.max(0, now.getTime() - stored.observeTime.getTime());
  const stale = ageMillis > staleMillis;
  return { ...stored, ageMillis, stale, effectiveHealth: stale ? "UNKNOWN" : (stored.health ?? "OK") };
}

/** The observed use of a set of hosts (a rack's): summed over those whose observation is fresh, a
 * stale or missing one counting for nothing rather than for its last values. */
export function observedUse(hosts: readonly { readonly cpuCores: number; readonly observation: ObservationView | undefined }[]): {
  observedHostCount: number;
  cpuCoresUsed: number;
  memoryMibUsed: number;
  storageGibUsed: number;
} {
  const fresh = hosts.filter((host) => host.observation && !host.observation.stale);
  const sum = (pick: (host: (typeof fresh)[number]) => number) => fresh.reduce((total, host) => total + pick(host), 0);
  return {
    observedHostCount: fresh.length,
    cpuCoresUsed: sum((host) => (host.cpuCores * host.observation!.cpuPercent) / 100),
    memoryMibUsed: sum((host) => host.observation!.memoryUsedMib),
    storageGibUsed: sum((host) => host.observation!.storageUsedGib),
  };
}

/** What List filters may say of a host's or VM's latest observation (persistence/entities/
 * observed-columns.ts): `health` is the effective one, UNKNOWN when stale or never reported. */
export const observedFilter: FilterSchema = {
  health: field.enum("HEALTH_", healths, "observedHealth"),
  "observed.power_state": field.enum("POWER_STATE_", powerStates, "observedPowerState"),
  "observed.cpu_percent": { type: { kind: "number" }, property: "observedCpuPercent" },
  "observed.memory_used_mib": field.integer("observedMemoryUsedMib"),
  "observed.storage_used_gib": field.integer("observedStorageUsedGib"),
  drifted: field.boolean("observedDrifted"),
};

/** How long hourly roll-ups are kept. */
export const observationHistoryDays = 30;

/** The lowest, mean and highest of one value over an hour. */
export interface UsageRange {
  readonly min: number;
  readonly avg: number;
  readonly max: number;
}

/** One resource's use over one hour (UTC) of its history. */
export interface ObservationHistoryPoint {
  readonly hourStart: Date;
  /** How many observations the hour holds. */
  readonly sampleCount: number;
  readonly cpuPercent: UsageRange;
  readonly memoryUsedMib: UsageRange;
  readonly storageUsedGib: UsageRange;
}
