// The fields maintainer groups and the two look-ups may filter on (AIP-160); ListMaintainers
// declares its own with the resource (maintainers.ts). ListMaintainerGroups goes through listPage,
// so its properties are entity properties; the look-ups are single SQL queries over a UNION, so
// theirs are SQL expressions over its columns (compiled by sql-filter.ts).
import type { FilterSchema } from "../../domain/filter.js";
import { field, resourceTimes } from "../../domain/filter-schema.js";
import { maintainerRoles } from "../../domain/maintainer.js";
import { resourceTypes } from "./resources.js";

export const maintainerGroupFilter: FilterSchema = {
  name: field.string("name"),
  manager_id: field.uuid("managerId"),
  description: field.string("description"),
  ...resourceTimes,
};

const role = (property: string) => field.enum("MAINTAINER_ROLE_", maintainerRoles, property);

/** ListResourceMaintainers: columns of the look-up query (see assignments.ts). A direct assignment
 * has no group, so via_group_id is '' there and `via_group_id != "…"` keeps it. */
export const responsibleMaintainerFilter: FilterSchema = {
  role: role("x.role"),
  via_group_id: field.uuid("coalesce(x.via_group_id::text, '')"),
};

/** ListMaintainerResources: resource_type takes the registered kinds only, so a typo is
 * INVALID_FILTER naming the known ones rather than an empty page. */
export const maintainedResourceFilter: FilterSchema = {
  resource_type: {
    type: { kind: "enum", values: Object.fromEntries(resourceTypes().map((type) => [type, type])) },
    property: "x.resource_type",
  },
  role: role("x.role"),
};
