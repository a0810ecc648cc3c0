// The fields ListTenants may filter on (AIP-160), mapped to entity properties.
import type { FilterSchema } from "../../domain/filter.js";
import { field, resourceTimes } from "../../domain/filter-schema.js";
import { tenantKinds } from "../../domain/tenant.js";

export const tenantFilter: FilterSchema = {
  id: field.uuid("id"),
  name: field.string("name"),
  kind: field.enum("TENANT_KIND_", tenantKinds, "kind"),
  disabled: field.boolean("disabled"),
  description: field.string("description"),
  ...resourceTimes,
};
