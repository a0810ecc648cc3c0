import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type { Role } from "../../domain/principal.js";
import { resourceProperties } from "./common.js";

/** An issued bearer token. Only the SHA-256 of the secret is kept: secrets are 256 random bits, so
 * a fast hash is as safe as a slow one and keeps every request's look-up cheap. Any change to a row
 * (a revocation) or its deletion is announced on `rackplane_token`, so every replica drops the
 * token from its cache at once (app/identity.ts), whichever statement made the change. */
export const ApiToken = defineEntity({
  name: "ApiToken",
  triggers: [
    {
      name: "api_token_changed",
      timing: "after",
      events: ["update", "delete"],
      forEach: "row",
      body: "perform pg_notify('rackplane_token', old.id::text); return null;",
    },
  ],
  properties: {
    id: resourceProperties().id,
    principal: p.string().length(128).index(),
    role: p.string().length(32).$type<Role>(),
    tenantId: p.uuid().nullable().index(),
    description: p.string().length(512).default(""),
    secretHash: p.string().length(64).unique(),
    secretPrefix: p.string().length(16),
    createdBy: p.string().length(128),
    createTime: resourceProperties().createTime,
    expireTime: p.datetime().nullable(),
    revokeTime: p.datetime().nullable(),
    /** An agent token's scope (domain/agent-scope.ts); all empty for the whole fleet. */
    scopeDatacenterIds: p.array().default([]),
    scopeGroupIds: p.array().default([]),
    scopeJobKinds: p.array().default([]),
  },
});
export type ApiToken = InferEntity<typeof ApiToken>;
