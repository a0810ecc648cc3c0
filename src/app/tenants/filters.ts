// The fields ListTenants may filter on (AIP-160), mapped to entity properties.
import type { FilterSchema } from "../../domain/filter.js";
import { tenantKinds } from "../../domain/tenant.js";
import { enumValues } from "../inventory/filters.js";

export const tenantFilter: FilterSchema = {
  id: { type: { kind: "uuid" }, property: "id" },
  name: { type: { kind: "string" }, property: "name" },
  kind: { type: { kind: "enum", values: enumValues("TENANT_KIND_", tenantKinds) }, property: "kind" },
  disabled: { type: { kind: "boolean" }, property: "disabled" },
  description: { type: { kind: "string" }, property: "description" },
  create_time: { type: { kind: "timestamp" }, property: "createTime" },
  update_time: { type: { kind: "timestamp" }, property: "updateTime" },
};
