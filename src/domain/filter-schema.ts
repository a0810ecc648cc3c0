// Building blocks of filter schemas (filter.ts): one shorthand per field type and the fields most
// resources share, so a List declares only what is its own.
import type { FilterField, FilterSchema } from "./filter.js";

/** A filterable field of the given type on an entity property: `name: field.string("name")`. */
export const field = {
  string: (property: string): FilterField => ({ type: { kind: "string" }, property }),
  uuid: (property: string): FilterField => ({ type: { kind: "uuid" }, property }),
  integer: (property: string): FilterField => ({ type: { kind: "integer" }, property }),
  boolean: (property: string): FilterField => ({ type: { kind: "boolean" }, property }),
  timestamp: (property: string): FilterField => ({ type: { kind: "timestamp" }, property }),
  stringList: (property: string): FilterField => ({ type: { kind: "string_list" }, property }),
  /** A stored enum value, written in full (`RACK_STATUS_ACTIVE`) or short (`ACTIVE`). */
  enum: (prefix: string, values: readonly string[], property: string): FilterField => ({
    type: { kind: "enum", values: enumValues(prefix, values) },
    property,
  }),
};

/** RACK_STATUS_ACTIVE and ACTIVE both name the stored "ACTIVE". */
export function enumValues(prefix: string, values: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    values.flatMap((value) => [
      [`${prefix}${value}`, value],
      [value, value],
    ]),
  );
}

/** `create_time` and `update_time`, which every resource with an etag has. */
export const resourceTimes: FilterSchema = {
  create_time: field.timestamp("createTime"),
  update_time: field.timestamp("updateTime"),
};

/** The whole filter of a resource that is a name and a description (regions, slot groups). */
export const namedResourceFilter: FilterSchema = {
  id: field.uuid("id"),
  name: field.string("name"),
  description: field.string("description"),
  ...resourceTimes,
};
