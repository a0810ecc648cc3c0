// Operations (what a caller follows) and jobs (what an agent does). A mutation that needs an agent
// writes both in its own transaction, so a decision never exists without its work, nor the reverse.
import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type { JobKind, JobState, OperationState } from "../../domain/operations.js";
import { resourceProperties } from "./common.js";

export const Operation = defineEntity({
  name: "Operation",
  indexes: [
    { properties: ["resourceType", "resourceId", "id"] },
    { properties: ["tenantId", "id"] },
    // Only unfinished operations are entered: /metrics counts them on every scrape, and finished
    // ones only accumulate.
    {
      name: "operation_open_index",
      expression: "create index operation_open_index on operation (state) where state in ('PENDING', 'RUNNING')",
    },
  ],
  properties: {
    id: resourceProperties().id,
    kind: p.string().length(64).$type<JobKind>(),
    resourceType: p.string().length(64),
    resourceId: p.uuid(),
    tenantId: p.uuid().nullable(),
    state: p.string().length(16).$type<OperationState>(),
    progressPercent: p.smallint().default(0),
    message: p.text().default(""),
    errorCode: p.string().length(32).default(""),
    errorReason: p.string().length(64).default(""),
    errorMessage: p.text().default(""),
    errorMetadata: p.json<Record<string, string>>().default("{}"),
    requestedBy: p.string().length(128),
    /** The resource's state before the operation, to return to when it is cancelled. */
    previousState: p.string().length(16).default(""),
    createTime: resourceProperties().createTime,
    updateTime: resourceProperties().updateTime,
    doneTime: p.datetime().nullable(),
  },
});
export type Operation = InferEntity<typeof Operation>;

/**
 * A unit of agent work. Agents claim QUEUED jobs in their scope (group, host, kinds) with
 * `FOR UPDATE SKIP LOCKED`, hold them under a lease, and report with the lease token. Jobs of one
 * resource run in id (= creation) order: a job is claimable only when no earlier job of its
 * resource is unfinished, and none while an operation it waits for is still under way.
 */
export const Job = defineEntity({
  name: "Job",
  indexes: [
    { name: "job_queued_index", expression: "create index job_queued_index on job (id) where state = 'QUEUED'" },
    { properties: ["resourceType", "resourceId", "id"] },
    { name: "job_lease_index", expression: "create index job_lease_index on job (lease_expire_time) where state = 'LEASED'" },
    // The few queued jobs that wait for other operations: what an ending operation looks up.
    {
      name: "job_waiting_index",
      expression: "create index job_waiting_index on job (id) where state = 'QUEUED' and cardinality(wait_for_operation_ids) > 0",
    },
  ],
  properties: {
    id: resourceProperties().id,
    operationId: () => p.manyToOne(Operation).mapToPk().fieldName("operation_id").index(),
    kind: p.string().length(64).$type<JobKind>(),
    resourceType: p.string().length(64),
    resourceId: p.uuid(),
    /** Scope an agent may serve: the host group and host the work happens on. */
    groupId: p.uuid().nullable(),
    baremetalId: p.uuid().nullable(),
    payload: p.json<Record<string, unknown>>(),
    state: p.string().length(16).$type<JobState>(),
    attempt: p.integer().default(0),
    maxAttempts: p.integer().default(3),
    agentId: p.string().length(128).default(""),
    leaseToken: p.string().length(64).default(""),
    leaseExpireTime: p.datetime().nullable(),
    /** Operations that must succeed before this job may be claimed (a cluster's bootstrap waits for
     * its node VMs' creations); if one fails or is cancelled, this job's operation fails with it. */
    waitForOperationIds: p.array().default([]),
    createTime: resourceProperties().createTime,
    updateTime: resourceProperties().updateTime,
  },
});
export type Job = InferEntity<typeof Job>;

/** A provision agent as last declared on its stream. `connected` and `replica` say which server
 * process holds its stream; `last_seen_time` is refreshed while it is open, so a replica that died
 * without saying so shows as stale. */
export const Agent = defineEntity({
  name: "Agent",
  properties: {
    id: p.string().length(128).primary(),
    principal: p.string().length(128),
    jobKinds: p.array().default([]),
    groupIds: p.array().default([]),
    baremetalIds: p.array().default([]),
    maxConcurrentJobs: p.integer(),
    description: p.string().length(256).default(""),
    connected: p.boolean().default(false),
    replica: p.string().length(128).default(""),
    connectTime: p.datetime(),
    lastSeenTime: p.datetime(),
  },
});
export type Agent = InferEntity<typeof Agent>;
