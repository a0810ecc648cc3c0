// The latest observation of each host and VM (issue 19), one row per resource, written by
// AgentService.ReportObservations with one batched upsert per call (app/agents/observations.ts).
// Keyed by kind and id rather than a foreign key, so one table and one statement serve both kinds.
import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type { HealthReason, PowerState } from "../../domain/observations.js";

export const Observation = defineEntity({
  name: "Observation",
  indexes: [
    // Only drifted resources are entered: the metrics count them on every scrape.
    {
      name: "observation_drifted_index",
      expression: "create index observation_drifted_index on observation (resource_type) where drifted",
    },
  ],
  properties: {
    resourceType: p.string().length(32).primary(),
    resourceId: p.uuid().primary(),
    /** The agent's clock: a report older than this one is ignored. */
    observeTime: p.datetime(),
    /** The server's clock when it was stored. */
    receiveTime: p.datetime(),
    powerState: p.string().length(8).$type<PowerState>(),
    /** "" for a VM. */
    health: p.string().length(16),
    reasons: p.json<HealthReason[]>(),
    cpuPercent: p.double().runtimeType("number").$type<number>(),
    memoryUsedMib: p.bigint("number"),
    storageUsedGib: p.bigint("number"),
    /** The observe time of the first report contradicting the recorded state; null while they agree. */
    driftSince: p.datetime().nullable(),
    /** The recorded state contradicted, "" while they agree. */
    driftRecordedState: p.string().length(16).default(""),
    /** Contradicting for longer than the grace period. */
    drifted: p.boolean().default(false),
    /** The principal that reported it. */
    reportedBy: p.string().length(128),
  },
});
export type Observation = InferEntity<typeof Observation>;

/** Every accepted observation's values, written by the same ingest statement as the latest state,
 * until the hourly roll-up (app/observations/history.ts) folds its completed hour into
 * `ObservationRollup` and deletes it: the table holds about the current hour. */
export const ObservationSample = defineEntity({
  name: "ObservationSample",
  properties: {
    resourceType: p.string().length(32).primary(),
    resourceId: p.uuid().primary(),
    observeTime: p.datetime().primary(),
    cpuPercent: p.double().runtimeType("number").$type<number>(),
    memoryUsedMib: p.bigint("number"),
    storageUsedGib: p.bigint("number"),
  },
});
export type ObservationSample = InferEntity<typeof ObservationSample>;

/** One resource's use over one hour (UTC), kept 30 days: min, max and the sum and count an average
 * is made of, so a late sample of an hour already rolled up merges into it. */
export const ObservationRollup = defineEntity({
  name: "ObservationRollup",
  indexes: [{ name: "observation_rollup_hour_index", properties: ["hourStart"] }],
  properties: {
    resourceType: p.string().length(32).primary(),
    resourceId: p.uuid().primary(),
    hourStart: p.datetime().primary(),
    sampleCount: p.integer(),
    cpuPercentMin: p.double().runtimeType("number").$type<number>(),
    cpuPercentSum: p.double().runtimeType("number").$type<number>(),
    cpuPercentMax: p.double().runtimeType("number").$type<number>(),
    memoryUsedMibMin: p.bigint("number"),
    memoryUsedMibSum: p.double().runtimeType("number").$type<number>(),
    memoryUsedMibMax: p.bigint("number"),
    storageUsedGibMin: p.bigint("number"),
    storageUsedGibSum: p.double().runtimeType("number").$type<number>(),
    storageUsedGibMax: p.bigint("number"),
  },
});
export type ObservationRollup = InferEntity<typeof ObservationRollup>;
