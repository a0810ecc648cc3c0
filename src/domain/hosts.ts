// Bare-metal hosts and host groups (HOST-1..4): plain types and rules.
export const baremetalStatuses = ["ACTIVE", "MAINTENANCE", "OFFLINE", "DECOMMISSIONED"] as const;
export type BaremetalStatus = (typeof baremetalStatuses)[number];

export const baremetalGroupDimensions = ["REGION", "DEPARTMENT", "PURPOSE", "LOAD"] as const;
export type BaremetalGroupDimension = (typeof baremetalGroupDimensions)[number];

export const customFieldTypes = ["STRING", "INTEGER", "BOOLEAN", "ENUM"] as const;
export type CustomFieldType = (typeof customFieldTypes)[number];

export type CustomFieldValue = string | number | boolean;
export type CustomFields = Readonly<Record<string, CustomFieldValue>>;

/** CPU cores, memory MiB, storage GiB. */
export interface Resources {
  readonly cpuCores: number;
  readonly memoryMib: number;
  readonly storageGib: number;
}

export function freeOf(capacity: Resources, allocated: Resources): Resources {
  return {
    cpuCores: capacity.cpuCores - allocated.cpuCores,
    memoryMib: capacity.memoryMib - allocated.memoryMib,
    storageGib: capacity.storageGib - allocated.storageGib,
  };
}

/** Where a host sits: its lowest unit, its height, and the reservation whose units it may take. */
export interface Placement {
  readonly rackId: string;
  readonly firstPosition: number;
  readonly heightUnits: number;
  readonly reservationId: string | null;
}

/** A host on its units. */
export interface Mounting extends Placement {
  readonly baremetalId: string;
}

/** The units a mounting cannot have, given the current units of its rack (read beforehand, for
 * reporting; the conditional UPDATE in app/hosts/mounting.ts is what actually guards). */
export function mountingConflicts(
  mounting: Mounting,
  rackHeight: number,
  units: ReadonlyMap<number, { status: string; reservationId: string | null }>,
): { position: number; status: string }[] {
  const conflicts: { position: number; status: string }[] = [];
  for (let position = mounting.firstPosition; position < mounting.firstPosition + mounting.heightUnits; position++) {
    const unit = units.get(position);
    if (position > rackHeight || !unit) conflicts.push({ position, status: `beyond the rack's ${rackHeight} units` });
    else if (unit.status === "RESERVED" && unit.reservationId === mounting.reservationId) continue;
    else if (unit.status === "RESERVED") conflicts.push({ position, status: "RESERVED for someone else" });
    else if (unit.status !== "FREE") conflicts.push({ position, status: unit.status });
  }
  return conflicts;
}

export interface CustomFieldDefinition {
  readonly id: string;
  readonly name: string;
  readonly type: CustomFieldType;
  readonly enumValues: string[];
  readonly required: boolean;
  readonly resourceTypes: string[];
  readonly description: string;
  readonly createTime: Date;
}

/**
 * Checks custom field values against the definitions that apply to a resource type: every key must
 * be defined for the type, every value of the defined type, and — when `complete` — every required
 * field present. Returns one message per problem, keyed by field name.
 */
export function customFieldProblems(
  definitions: readonly CustomFieldDefinition[],
  resourceType: string,
  values: Readonly<Record<string, unknown>>,
  complete: boolean,
): { field: string; problem: string }[] {
  const applicable = new Map(definitions.filter((d) => d.resourceTypes.includes(resourceType)).map((d) => [d.name, d]));
  const problems: { field: string; problem: string }[] = [];
  for (const [name, value] of Object.entries(values)) {
    const definition = applicable.get(name);
    if (!definition) {
      problems.push({ field: name, problem: `no custom field "${name}" is defined for ${resourceType}` });
      continue;
    }
    const wrong = valueProblem(definition, value);
    if (wrong) problems.push({ field: name, problem: wrong });
  }
  if (complete) {
    for (const definition of applicable.values()) {
      if (definition.required && !Object.hasOwn(values, definition.name)) problems.push({ field: definition.name, problem: "is required" });
    }
  }
  return problems;
}

function valueProblem(definition: CustomFieldDefinition, value: unknown): string | undefined {
  switch (definition.type) {
    case "STRING":
      return typeof value === "string" && value.length <= 1024 ? undefined : "wants a string of at most 1024 characters";
    case "INTEGER":
      return typeof value === "number" && Number.isSafeInteger(value) ? undefined : "wants an integer";
    case "BOOLEAN":
      return typeof value === "boolean" ? undefined : "wants true or false";
    case "ENUM":
      return typeof value === "string" && definition.enumValues.includes(value)
        ? undefined
        : `wants one of ${definition.enumValues.join(", ")}`;
  }
}
