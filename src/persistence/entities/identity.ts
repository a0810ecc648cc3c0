import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type { Role } from "../../domain/principal.js";
import { resourceProperties } from "./common.js";

/** An issued bearer token. Only the SHA-256 of the secret is kept: secrets are 256 random bits, so
 * a fast hash is as safe as a slow one and keeps every request's look-up cheap. */
export const ApiToken = defineEntity({
  name: "ApiToken",
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
  },
});
export type ApiToken = InferEntity<typeof ApiToken>;
