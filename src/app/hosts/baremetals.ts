// Bare-metal hosts (HOST-1, HOST-3, HOST-4). Create is a batch of one: the batch path does every
// check for all items with a fixed number of queries, so a 1,000-host import costs about what one
// host does, times the rows.
import type { EntityManager, FilterQuery } from "@mikro-orm/postgresql";
import { observedFilter } from "../../domain/observations.js";
import {
  AlreadyExistsError,
  BatchRejectedError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  type FieldViolation,
} from "../../domain/errors.js";
import type { FilterSchema } from "../../domain/filter.js";
import { field, resourceTimes } from "../../domain/filter-schema.js";
import { checkNewBaremetals, type BaremetalBatchFacts } from "../../domain/baremetal-batch.js";
import { baremetalStatuses, type BaremetalStatus, type CustomFields, type Placement, type Resources } from "../../domain/hosts.js";
import { newId } from "../../domain/ids.js";
import type { SortSchema } from "../../domain/order-by.js";
import type {
  Datacenter as DatacenterView,
  Rack as RackView,
  RackUnit as RackUnitView,
  Region as RegionView,
  Room as RoomView,
} from "../../domain/inventory.js";
import { isTenantRole } from "../../domain/principal.js";
import {
  Baremetal as BaremetalEntity,
  BaremetalGroup,
  Datacenter,
  Rack,
  RackUnit,
  Region,
  Room,
} from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { mayViewRack, requireInventoryRead, requireInventoryWrite } from "../inventory/access.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { createOnce, findForChange, readById } from "../standard-methods.js";
import { customFieldDefinitions, customFieldFilters, requireValidCustomFields } from "./custom-fields.js";
import { purgeDeletedVirtualMachines } from "../compute/history.js";
import { removeAssignments } from "../maintainers/resources.js";
import { refreshEffectiveCapacity, refreshGroupTotals } from "./effective-capacity.js";
import { mount, unmount } from "./mounting.js";

/** A host as use cases return it. */
export interface Baremetal {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly name: string;
  readonly serialNumber: string;
  readonly cpuCores: number;
  readonly memoryMib: number;
  readonly storageGib: number;
  readonly effectiveCpuCores: number;
  readonly effectiveMemoryMib: number;
  readonly effectiveStorageGib: number;
  readonly cpuCoresAllocated: number;
  readonly memoryMibAllocated: number;
  readonly storageGibAllocated: number;
  readonly status: BaremetalStatus;
  readonly statusReason: string;
  readonly statusChangeTime: Date;
  readonly groupId?: string | null;
  readonly rackId: string;
  readonly firstPosition: number;
  readonly heightUnits: number;
  readonly roomId: string;
  readonly datacenterId: string;
  readonly regionId: string;
  readonly customFields: CustomFields;
  readonly description: string;
}

export interface BaremetalFields {
  readonly name: string;
  readonly serialNumber: string;
  readonly capacity: Resources;
  readonly groupId: string | null;
  readonly placement: Placement;
  readonly customFields: CustomFields;
  readonly description: string;
}

const baremetalFilter: FilterSchema = {
  id: field.uuid("id"),
  name: field.string("name"),
  serial_number: field.string("serialNumber"),
  status: field.enum("BAREMETAL_STATUS_", baremetalStatuses, "status"),
  group_id: field.uuid("groupId"),
  rack_id: field.uuid("rackId"),
  room_id: field.uuid("roomId"),
  datacenter_id: field.uuid("datacenterId"),
  region_id: field.uuid("regionId"),
  capacity_cpu: field.integer("cpuCores"),
  capacity_memory_mib: field.integer("memoryMib"),
  capacity_storage_gib: field.integer("storageGib"),
  free_cpu: field.integer("freeCpuCores"),
  free_memory_mib: field.integer("freeMemoryMib"),
  free_storage_gib: field.integer("freeStorageGib"),
  description: field.string("description"),
  ...resourceTimes,
  ...observedFilter,
};

export async function createBaremetal(db: Database, ctx: CallContext, fields: BaremetalFields, requestId: string): Promise<Baremetal> {
  requireInventoryWrite(ctx.principal);
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, "baremetal", requestId, fields, async (id) => {
      await insertBaremetals(em, [{ id, fields }], (index) => (index === 0 ? "baremetal" : `requests[${index}]`), true);
    }),
  );
  return getBaremetal(db, ctx, id);
}

/** All or nothing: every item is checked, and if any fails the error lists each failure by index. */
export async function batchCreateBaremetals(db: Database, ctx: CallContext, items: readonly BaremetalFields[]): Promise<Baremetal[]> {
  requireInventoryWrite(ctx.principal);
  const ids = await mutate(db, ctx, async (em) => {
    const rows = items.map((fields) => ({ id: newId(), fields }));
    ctx.audit.resourceType = "baremetal";
    ctx.audit.detail = `created ${rows.length} hosts`;
    await insertBaremetals(em, rows, (index) => `requests[${index}].baremetal`, false);
    return rows.map((row) => row.id);
  });
  const hosts = (await db
    .em()
    .createQueryBuilder(BaremetalEntity)
    .select("*")
    .where({ id: { $in: ids } })
    .execute("all", true)) as unknown as Baremetal[];
  const byId = new Map(hosts.map((host) => [host.id, host]));
  return ids.map((id) => byId.get(id)!);
}

/**
 * Checks and inserts hosts with a fixed number of queries whatever their count: existing names
 * and serials, racks, groups and units are each read once for the whole batch and checked by
 * domain/baremetal-batch.ts; the rows go in one INSERT and their units are occupied by one UPDATE.
 */
async function insertBaremetals(
  em: EntityManager,
  rows: readonly { id: string; fields: BaremetalFields }[],
  path: (index: number) => string,
  single: boolean,
): Promise<void> {
  const facts = await batchFacts(em, rows);
  const { problems, mountings } = checkNewBaremetals(
    rows.map(({ id, fields }) => ({ id, ...fields })),
    facts,
    path,
  );
  const failures = problems.flat();
  if (failures.length > 0) {
    if (single) throw singleFailure(failures[0]!, rows[0]!.fields);
    const rejected = problems.filter((list) => list.length > 0).length;
    throw new BatchRejectedError(
      `${rejected} of ${rows.length} hosts rejected; nothing was created: ${failures
        .slice(0, 5)
        .map((f) => `${f.field}: ${f.description}`)
        .join("; ")}`,
      failures,
    );
  }

  const now = new Date();
  await em.insertMany(
    BaremetalEntity,
    rows.map(({ id, fields }) => {
      const rack = facts.racks.get(fields.placement.rackId)!;
      return {
        id,
        version: 1,
        createTime: now,
        updateTime: now,
        name: fields.name,
        serialNumber: fields.serialNumber,
        cpuCores: fields.capacity.cpuCores,
        memoryMib: fields.capacity.memoryMib,
        storageGib: fields.capacity.storageGib,
        cpuCoresAllocated: 0,
        memoryMibAllocated: 0,
        storageGibAllocated: 0,
        status: "ACTIVE" as const,
        statusReason: "",
        statusChangeTime: now,
        groupId: fields.groupId,
        rackId: rack.id,
        firstPosition: fields.placement.firstPosition,
        heightUnits: fields.placement.heightUnits,
        roomId: rack.roomId,
        datacenterId: rack.datacenterId,
        regionId: rack.regionId,
        customFields: fields.customFields,
        description: fields.description,
      };
    }) as never,
  );
  await refreshEffectiveCapacity(em, { baremetalIds: rows.map((row) => row.id) });
  await mount(em, mountings);
}

/** What the batch check needs of the database, read in one round of queries. */
async function batchFacts(em: EntityManager, rows: readonly { fields: BaremetalFields }[]) {
  const definitions = await customFieldDefinitions(em);
  const names = rows.map((row) => row.fields.name);
  const serials = rows.map((row) => row.fields.serialNumber);
  const rackIds = [...new Set(rows.map((row) => row.fields.placement.rackId))];
  const groupIds = [...new Set(rows.flatMap((row) => (row.fields.groupId ? [row.fields.groupId] : [])))];
  const [existing, racks, groups, units] = await Promise.all([
    em.execute<{ name: string; serial_number: string }[]>(
      "select name, serial_number from baremetal where name = any(array[?]::text[]) or serial_number = any(array[?]::text[])",
      [names, serials],
    ),
    em.find(Rack, { id: { $in: rackIds } }, { fields: ["id", "heightUnits", "status", "roomId", "datacenterId", "regionId"] }),
    groupIds.length > 0 ? em.find(BaremetalGroup, { id: { $in: groupIds } }, { fields: ["id"] }) : Promise.resolve([]),
    em.execute<{ rack_id: string; position: number; status: string; reservation_id: string | null }[]>(
      "select rack_id, position, status, reservation_id from rack_unit where rack_id = any(array[?]::uuid[])",
      [rackIds],
    ),
  ]);
  const unitsByRack = new Map<string, Map<number, { status: string; reservationId: string | null }>>();
  for (const unit of units) {
    let rackUnits = unitsByRack.get(unit.rack_id);
    if (!rackUnits) {
      rackUnits = new Map();
      unitsByRack.set(unit.rack_id, rackUnits);
    }
    rackUnits.set(unit.position, { status: unit.status, reservationId: unit.reservation_id });
  }
  return {
    customFields: definitions,
    takenNames: new Set(existing.map((row) => row.name)),
    takenSerials: new Set(existing.map((row) => row.serial_number)),
    racks: new Map(racks.map((rack) => [rack.id, rack])),
    groups: new Set(groups.map((group) => group.id)),
    units: unitsByRack,
  } satisfies BaremetalBatchFacts;
}

/** A single create reports its first problem with its own code and reason, not as a batch. */
function singleFailure(failure: FieldViolation, fields: BaremetalFields): Error {
  const [reason = "", ...rest] = failure.description.split(": ");
  const message = rest.join(": ");
  switch (reason) {
    case "RESOURCE_NOT_FOUND": {
      const [type = "", id = ""] = message.split(" ");
      return new NotFoundError(type, id);
    }
    case "INVALID_CUSTOM_FIELD":
      return new InvalidArgumentError(reason, `${failure.field} ${message}`, [{ field: failure.field, description: message }]);
    case "ALREADY_EXISTS":
      return new AlreadyExistsError(reason, message, { name: fields.name, serial_number: fields.serialNumber });
    default:
      return new FailedPreconditionError(reason, message, { rack_id: fields.placement.rackId });
  }
}

export async function getBaremetal(db: Database, ctx: CallContext, id: string, em: EntityManager = db.em()): Promise<Baremetal> {
  requireInventoryRead(ctx.principal);
  const host = await readById<Baremetal>(em, BaremetalEntity as never, "baremetal", id);
  if (isTenantRole(ctx.principal.role)) {
    const rack = await readById(em, Rack, "rack", host.rackId);
    if (!mayViewRack(ctx.principal, rack)) throw new NotFoundError("baremetal", id);
  }
  return host;
}

/** What ListBaremetals sorts by (AIP-132 order_by): names are unique, the rest tie and fall back on the id. */
export const baremetalSort: SortSchema = {
  name: { property: "name", kind: "string" },
  status: { property: "status", kind: "string" },
  free_cpu: { property: "freeCpuCores", kind: "integer" },
  free_memory_mib: { property: "freeMemoryMib", kind: "integer" },
  free_storage_gib: { property: "freeStorageGib", kind: "integer" },
  create_time: { property: "createTime", kind: "timestamp" },
};

export async function listBaremetals(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<Baremetal>> {
  requireInventoryRead(ctx.principal);
  const em = db.em();
  const schema = { ...baremetalFilter, ...(await customFieldFilters(em, "baremetal")) };
  let scope: FilterQuery<Baremetal> | undefined;
  if (isTenantRole(ctx.principal.role)) {
    // In a stable order: the scope is part of the page token's binding (src/app/list.ts).
    const racks = await em.execute<{ id: string }[]>("select id from rack where allowed_tenant_ids @> array[?]::text[] order by id", [
      ctx.principal.tenantId ?? "",
    ]);
    scope = { rackId: { $in: racks.map((rack) => rack.id) } } as never;
  }
  const page = await listPage(em, BaremetalEntity, request, schema, { sort: baremetalSort, ...(scope ? { scope: scope as never } : {}) });
  return page as unknown as Page<Baremetal>;
}

export interface BaremetalPatch {
  readonly name?: string;
  readonly serialNumber?: string;
  readonly capacity?: Resources;
  readonly groupId?: string | null;
  readonly placement?: Placement;
  /** Replaces every value. */
  readonly customFields?: CustomFields;
  /** Sets (or, with null, removes) single values. */
  readonly customFieldValues?: Readonly<Record<string, CustomFields[string] | null>>;
  readonly description?: string;
}

export async function updateBaremetal(db: Database, ctx: CallContext, id: string, etag: string, patch: BaremetalPatch): Promise<Baremetal> {
  requireInventoryWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const host = await findForChange(em, ctx, BaremetalEntity, "baremetal", id, etag);
    const formerGroupId = host.groupId;
    // Capacity may drop below what is allocated (a failed DIMM): free goes negative and the host
    // takes nothing new until it recovers; nothing running is evicted.
    if (patch.capacity) em.assign(host, patch.capacity);
    if (patch.groupId) await readById(em, BaremetalGroup, "baremetal_group", patch.groupId);
    if (patch.customFields || patch.customFieldValues) {
      const merged: Record<string, CustomFields[string]> = { ...(patch.customFields ?? host.customFields) };
      for (const [name, value] of Object.entries(patch.customFieldValues ?? {})) {
        if (value === null) delete merged[name];
        else merged[name] = value;
      }
      await requireValidCustomFields(em, "baremetal", merged, true);
      host.customFields = merged;
    }
    if (patch.placement) {
      const rack = await readById(em, Rack, "rack", patch.placement.rackId);
      if (rack.status === "DECOMMISSIONED")
        throw new FailedPreconditionError("RACK_DECOMMISSIONED", `rack ${rack.id} is decommissioned`, { rack_id: rack.id });
      await unmount(em, host.id);
      await mount(em, [{ baremetalId: host.id, ...patch.placement }]);
      em.assign(host, {
        rackId: rack.id,
        firstPosition: patch.placement.firstPosition,
        heightUnits: patch.placement.heightUnits,
        roomId: rack.roomId,
        datacenterId: rack.datacenterId,
        regionId: rack.regionId,
      });
    }
    const { name, serialNumber, groupId, description } = patch;
    em.assign(host, Object.fromEntries(Object.entries({ name, serialNumber, groupId, description }).filter(([, v]) => v !== undefined)));
    if (patch.capacity || patch.groupId !== undefined) {
      await em.flush();
      await refreshEffectiveCapacity(em, { baremetalIds: [host.id] }, [formerGroupId]);
    }
  });
  return getBaremetal(db, ctx, id);
}

export async function deleteBaremetal(db: Database, ctx: CallContext, id: string, etag: string): Promise<void> {
  requireInventoryWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const host = await findForChange(em, ctx, BaremetalEntity, "baremetal", id, etag);
    if (host.cpuCoresAllocated > 0 || host.memoryMibAllocated > 0 || host.storageGibAllocated > 0) {
      throw new FailedPreconditionError("BAREMETAL_HAS_ALLOCATIONS", `host ${host.name} still carries workloads; move them first`, {
        baremetal_id: id,
      });
    }
    await unmount(em, id);
    await removeAssignments(em, "baremetal", [id]);
    await purgeDeletedVirtualMachines(em, "baremetal_id", id);
    em.remove(host);
    await em.flush();
    await refreshGroupTotals(em, [host.groupId]);
  });
}

export async function setBaremetalStatus(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  status: BaremetalStatus,
  reason: string,
): Promise<Baremetal> {
  requireInventoryWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const host = await findForChange(em, ctx, BaremetalEntity, "baremetal", id, etag);
    ctx.audit.detail = `${host.status} → ${status}: ${reason}`;
    em.assign(host, { status, statusReason: reason, statusChangeTime: new Date() });
  });
  return getBaremetal(db, ctx, id);
}

export interface BaremetalLocation {
  readonly baremetal: Baremetal;
  readonly region: RegionView;
  readonly datacenter: DatacenterView;
  readonly room: RoomView;
  readonly rack: RackView;
  readonly units: RackUnitView[];
}

export async function locateBaremetal(db: Database, ctx: CallContext, id: string): Promise<BaremetalLocation> {
  const em = db.em();
  const baremetal = await getBaremetal(db, ctx, id, em);
  const [region, datacenter, room, rack, units] = await Promise.all([
    readById(em, Region, "region", baremetal.regionId),
    readById(em, Datacenter, "datacenter", baremetal.datacenterId),
    readById(em, Room, "room", baremetal.roomId),
    readById(em, Rack, "rack", baremetal.rackId),
    em.createQueryBuilder(RackUnit).select("*").where({ baremetalId: id }).orderBy({ position: "desc" }).execute("all", true),
  ]);
  return { baremetal, region, datacenter, room, rack, units: units as unknown as RackUnitView[] };
}
