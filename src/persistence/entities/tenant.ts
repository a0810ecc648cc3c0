import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type { TenantKind } from "../../domain/tenant.js";
import { resourceProperties } from "./common.js";

export const Tenant = defineEntity({
  name: "Tenant",
  properties: {
    ...resourceProperties(),
    name: p.string().length(63).unique(),
    description: p.text().default(""),
    kind: p.string().length(32).$type<TenantKind>(),
    contactName: p.string().length(128).default(""),
    contactEmail: p.string().length(256).default(""),
    contactPhone: p.string().length(64).default(""),
    disabled: p.boolean().default(false),
    disabledReason: p.string().length(512).default(""),
    stateChangeTime: p.datetime().nullable(),
    namingTemplate: p.string().length(128).default(""),
    namingPattern: p.string().length(256).default(""),
  },
});
export type Tenant = InferEntity<typeof Tenant>;
