// Maintainers, their groups and what they maintain (MNT-1..4).
import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type { MaintainerRole, MaintainerStatus } from "../../domain/maintainer.js";
import { resourceProperties } from "./common.js";

export const Maintainer = defineEntity({
  name: "Maintainer",
  properties: {
    ...resourceProperties(),
    name: p.string().length(128),
    account: p.string().length(64).unique(),
    email: p.string().length(256).default(""),
    phone: p.string().length(64).default(""),
    chat: p.string().length(128).default(""),
    status: p.string().length(16).$type<MaintainerStatus>(),
  },
});
export type Maintainer = InferEntity<typeof Maintainer>;

export const MaintainerGroup = defineEntity({
  name: "MaintainerGroup",
  properties: {
    ...resourceProperties(),
    name: p.string().length(63).unique(),
    description: p.text().default(""),
    managerId: () => p.manyToOne(Maintainer).mapToPk().fieldName("manager_id").index(),
  },
});
export type MaintainerGroup = InferEntity<typeof MaintainerGroup>;

/** Membership (many-to-many). The primary key is the pair, so adding twice cannot duplicate. */
export const MaintainerToMaintainerGroup = defineEntity({
  name: "MaintainerToMaintainerGroup",
  tableName: "maintainer_group_member",
  properties: {
    groupId: () => p.manyToOne(MaintainerGroup).mapToPk().fieldName("group_id").primary(),
    maintainerId: () => p.manyToOne(Maintainer).mapToPk().fieldName("maintainer_id").primary().index(),
    createTime: resourceProperties().createTime,
  },
});
export type MaintainerToMaintainerGroup = InferEntity<typeof MaintainerToMaintainerGroup>;

/** A polymorphic assignment: the resource is (type, id), so a new kind of resource needs no schema
 * change — only an entry in the resource registry (src/app/maintainers/resources.ts). */
export const ResourceMaintainer = defineEntity({
  name: "ResourceMaintainer",
  indexes: [{ properties: ["resourceType", "resourceId"] }],
  uniques: [
    { name: "resource_maintainer_maintainer_unique", properties: ["resourceType", "resourceId", "maintainerId", "role"] },
    { name: "resource_maintainer_group_unique", properties: ["resourceType", "resourceId", "groupId", "role"] },
  ],
  checks: [{ name: "resource_maintainer_one_assignee", expression: "(maintainer_id is null) <> (group_id is null)" }],
  properties: {
    id: resourceProperties().id,
    resourceType: p.string().length(64),
    resourceId: p.uuid(),
    maintainerId: () => p.manyToOne(Maintainer).mapToPk().fieldName("maintainer_id").nullable().index().deleteRule("cascade"),
    groupId: () => p.manyToOne(MaintainerGroup).mapToPk().fieldName("group_id").nullable().index().deleteRule("cascade"),
    role: p.string().length(32).$type<MaintainerRole>(),
    createTime: resourceProperties().createTime,
  },
});
export type ResourceMaintainer = InferEntity<typeof ResourceMaintainer>;
