// Custom field definitions: platform admins declare fields; values are validated on write and
// filterable as `custom.<name>`. Definitions change rarely and are read on every host write and
// search, so each process keeps them for a few seconds (and drops them at once on its own changes).
import type { EntityManager } from "@mikro-orm/postgresql";
import { InvalidArgumentError } from "../../domain/errors.js";
import type { FilterField } from "../../domain/filter.js";
import { customFieldProblems, type CustomFieldDefinition, type CustomFields } from "../../domain/hosts.js";
import { requireRole } from "../../domain/principal.js";
import { CustomFieldDefinition as DefinitionEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { createOnce, findById } from "../standard-methods.js";
import { requireInventoryRead } from "../inventory/access.js";

const cacheMillis = 5_000;
let cached: { definitions: CustomFieldDefinition[]; until: number } | undefined;

export async function customFieldDefinitions(em: EntityManager): Promise<CustomFieldDefinition[]> {
  if (cached && cached.until > Date.now()) return cached.definitions;
  const definitions = (await em
    .createQueryBuilder(DefinitionEntity)
    .select("*")
    .execute("all", true)) as unknown as CustomFieldDefinition[];
  cached = { definitions, until: Date.now() + cacheMillis };
  return definitions;
}

/** The filter fields custom fields add for a resource type: `custom.<name>`. */
export async function customFieldFilters(em: EntityManager, resourceType: string): Promise<Record<string, FilterField>> {
  const fields: Record<string, FilterField> = {};
  for (const definition of await customFieldDefinitions(em)) {
    if (!definition.resourceTypes.includes(resourceType)) continue;
    const type =
      definition.type === "INTEGER"
        ? ({ kind: "integer" } as const)
        : definition.type === "BOOLEAN"
          ? ({ kind: "boolean" } as const)
          : ({ kind: "string" } as const);
    fields[`custom.${definition.name}`] = { type, property: `customFields.${definition.name}` };
  }
  return fields;
}

/** Refuses values that do not match their definitions; `fieldPath` prefixes the violation paths. */
export async function requireValidCustomFields(
  em: EntityManager,
  resourceType: string,
  values: CustomFields,
  complete: boolean,
  fieldPath = "custom_fields",
): Promise<void> {
  const problems = customFieldProblems(await customFieldDefinitions(em), resourceType, values, complete);
  if (problems.length > 0) throw customFieldsInvalid(problems, fieldPath);
}

export function customFieldsInvalid(problems: readonly { field: string; problem: string }[], fieldPath: string): InvalidArgumentError {
  return new InvalidArgumentError(
    "INVALID_CUSTOM_FIELD",
    problems.map((p) => `${fieldPath}.${p.field} ${p.problem}`).join("; "),
    problems.map((p) => ({ field: `${fieldPath}.${p.field}`, description: p.problem })),
  );
}

export interface DefinitionFields {
  readonly name: string;
  readonly type: CustomFieldDefinition["type"];
  readonly enumValues: string[];
  readonly required: boolean;
  readonly resourceTypes: string[];
  readonly description: string;
}

export async function createCustomFieldDefinition(
  db: Database,
  ctx: CallContext,
  fields: DefinitionFields,
): Promise<CustomFieldDefinition> {
  requireRole(ctx.principal, ["PLATFORM_ADMIN"], "define custom fields");
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, "custom_field_definition", "", fields, async (id) => {
      em.create(DefinitionEntity, { id, ...fields });
    }),
  );
  cached = undefined;
  return findById(db.em(), DefinitionEntity, "custom_field_definition", id);
}

export async function listCustomFieldDefinitions(
  db: Database,
  ctx: CallContext,
  request: ListRequest,
): Promise<Page<CustomFieldDefinition>> {
  requireInventoryRead(ctx.principal);
  return listPage(db.em(), DefinitionEntity, { ...request, filter: "" }, {});
}

export async function deleteCustomFieldDefinition(db: Database, ctx: CallContext, id: string): Promise<void> {
  requireRole(ctx.principal, ["PLATFORM_ADMIN"], "delete custom fields");
  await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = "custom_field_definition";
    ctx.audit.resourceId = id;
    em.remove(await findById(em, DefinitionEntity, "custom_field_definition", id));
  });
  cached = undefined;
}
