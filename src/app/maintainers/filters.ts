// The fields each maintainer List may filter on (AIP-160). ListMaintainers and
// ListMaintainerGroups go through listPage, so their properties are entity properties; the two
// look-ups are single SQL queries over a UNION, so theirs are SQL expressions over its columns
// (compiled by sql-filter.ts).
import type { FilterSchema } from "../../domain/filter.js";
import { maintainerRoles, maintainerStatuses } from "../../domain/maintainer.js";
import { enumValues } from "../inventory/filters.js";
import { resourceTypes } from "./resources.js";

const string = { kind: "string" } as const;
const timestamp = { kind: "timestamp" } as const;
const id = { kind: "uuid" } as const;

const times: FilterSchema = {
  create_time: { type: timestamp, property: "createTime" },
  update_time: { type: timestamp, property: "updateTime" },
};

export const maintainerFilter: FilterSchema = {
  name: { type: string, property: "name" },
  account: { type: string, property: "account" },
  email: { type: string, property: "email" },
  status: { type: { kind: "enum", values: enumValues("MAINTAINER_STATUS_", maintainerStatuses) }, property: "status" },
  ...times,
};

export const maintainerGroupFilter: FilterSchema = {
  name: { type: string, property: "name" },
  manager_id: { type: id, property: "managerId" },
  description: { type: string, property: "description" },
  ...times,
};

const role = { kind: "enum", values: enumValues("MAINTAINER_ROLE_", maintainerRoles) } as const;

/** ListResourceMaintainers: columns of the look-up query (see assignments.ts). A direct assignment
 * has no group, so via_group_id is '' there and `via_group_id != "…"` keeps it. */
export const responsibleMaintainerFilter: FilterSchema = {
  role: { type: role, property: "x.role" },
  via_group_id: { type: id, property: "coalesce(x.via_group_id::text, '')" },
};

/** ListMaintainerResources: resource_type takes the registered kinds only, so a typo is
 * INVALID_FILTER naming the known ones rather than an empty page. */
export const maintainedResourceFilter: FilterSchema = {
  resource_type: {
    type: { kind: "enum", values: Object.fromEntries(resourceTypes().map((type) => [type, type])) },
    property: "x.resource_type",
  },
  role: { type: role, property: "x.role" },
};
