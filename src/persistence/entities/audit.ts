import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import { resourceProperties } from "./common.js";

/** One audited mutation. Ids are time-ordered, so "newest first" is a descending id scan and every
 * filter index ends in id for keyset pagination. */
export const AuditEvent = defineEntity({
  name: "AuditEvent",
  indexes: [
    { properties: ["principal", "id"] },
    { properties: ["resourceType", "resourceId", "id"] },
    { properties: ["method", "id"] },
    { properties: ["tenantId", "id"] },
  ],
  properties: {
    id: resourceProperties().id,
    time: p.datetime().index(),
    principal: p.string().length(128),
    role: p.string().length(32).default(""),
    tenantId: p.uuid().nullable(),
    method: p.string().length(160),
    resourceType: p.string().length(64).default(""),
    resourceId: p.string().length(64).default(""),
    requestId: p.string().length(128).default(""),
    result: p.string().length(32),
    reason: p.string().length(64).default(""),
    message: p.text().default(""),
  },
});
export type AuditEvent = InferEntity<typeof AuditEvent>;

/** Remembers the outcome of a Create that carried a request_id (AIP-155), so a retry returns the
 * first result instead of creating twice. Scoped by principal: one caller's key never reveals
 * another's resource. */
export const IdempotencyKey = defineEntity({
  name: "IdempotencyKey",
  uniques: [{ properties: ["principal", "method", "requestId"] }],
  properties: {
    id: resourceProperties().id,
    principal: p.string().length(128),
    method: p.string().length(160),
    requestId: p.string().length(128),
    requestHash: p.string().length(64),
    resourceType: p.string().length(64),
    resourceId: p.uuid(),
    createTime: resourceProperties().createTime,
  },
});
export type IdempotencyKey = InferEntity<typeof IdempotencyKey>;
