import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../../domain/errors.js";
import {
  summariseUnits,
  type Rack,
  type RackElevation,
  type RackNetwork,
  type RackReservation as RackReservationView,
  type RackStatus,
  type RackUnit as RackUnitView,
  type RackUnitOccupant,
} from "../../domain/inventory.js";
import { Rack as RackEntity, RackReservation, RackUnit, Room } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { readBound, readRows } from "../../persistence/reads.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { requireTenantsExist } from "../tenants/references.js";
import { createOnce, findById, findForChange, readById } from "../standard-methods.js";
import { mayViewRack, requireInventoryRead, requireInventoryWrite, visibleRacks } from "./access.js";
import { deleteRacks } from "./cascade.js";
import { rackFilter } from "./filters.js";
import { type ObservationView, observedUse, viewObservation } from "../../domain/observations.js";
import { type ObservationRow, type ObservationSettings, observationColumns, storedObservation } from "../observations/latest.js";

export interface RackFields extends RackNetwork {
  readonly name: string;
  readonly roomId: string;
  readonly status: RackStatus;
  readonly heightUnits: number;
  readonly asn: number | null;
  readonly allowedTenantIds: string[];
  readonly description: string;
}

export async function createRack(db: Database, ctx: CallContext, fields: RackFields, requestId: string): Promise<Rack> {
  requireInventoryWrite(ctx.principal);
  const id = await mutate(db, ctx, async (em) => {
    const room = await findById(em, Room, "room", fields.roomId);
    return createOnce(em, ctx, "rack", requestId, fields, async (id) => {
      await requireTenantsExist(em, fields.allowedTenantIds);
      em.create(RackEntity, { id, ...fields, datacenterId: room.datacenterId, regionId: room.regionId });
      await em.flush();
      await addUnits(em, id, 1, fields.heightUnits);
    });
  });
  return getRack(db, ctx, id);
}

/** Tenants that may not see a rack get NOT_FOUND, exactly as for a rack that does not exist. */
export async function getRack(db: Database, ctx: CallContext, id: string, em: EntityManager = db.em()): Promise<Rack> {
  requireInventoryRead(ctx.principal);
  const rack = await readById(em, RackEntity, "rack", id);
  if (!mayViewRack(ctx.principal, rack)) throw new NotFoundError("rack", id);
  return rack;
}

export async function listRacks(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<Rack>> {
  requireInventoryRead(ctx.principal);
  const scope = visibleRacks(ctx.principal);
  return listPage(db.em(), RackEntity, request, rackFilter, scope ? { scope } : {});
}

export async function updateRack(db: Database, ctx: CallContext, id: string, etag: string, patch: Partial<RackFields>): Promise<Rack> {
  requireInventoryWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    const rack = await findForChange(em, ctx, RackEntity, "rack", id, etag);
    if (patch.allowedTenantIds !== undefined) await requireTenantsExist(em, patch.allowedTenantIds);
    if (patch.roomId !== undefined && patch.roomId !== rack.roomId) {
      const room = await findById(em, Room, "room", patch.roomId);
      em.assign(rack, { datacenterId: room.datacenterId, regionId: room.regionId });
    }
    if (patch.heightUnits !== undefined && patch.heightUnits !== rack.heightUnits) {
      await resizeUnits(em, rack.id, rack.heightUnits, patch.heightUnits);
    }
    em.assign(rack, patch);
    return rack;
  });
}

export async function deleteRack(db: Database, ctx: CallContext, id: string, etag: string, force: boolean): Promise<void> {
  requireInventoryWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const rack = await findForChange(em, ctx, RackEntity, "rack", id, etag);
    const reservations = await em.count(RackReservation, { rackId: id });
    if (reservations > 0 && !force) {
      throw new FailedPreconditionError(
        "HAS_DEPENDENTS",
        `rack ${rack.name} still has ${reservations} reservation(s); release them first or pass force`,
        { resource_type: "rack", resource_id: id, reservations: String(reservations) },
      );
    }
    await deleteRacks(em, { column: "id", value: id });
  });
}

/**
 * The rack as its elevation shows it: every unit with what occupies it, and for a host its health
 * and latest observation as they read now; the load both as allocated and as observed. The hosts
 * and their observations are one query (a left join), however many hosts the rack holds.
 */
export async function getRackElevation(
  db: Database,
  ctx: CallContext,
  rackId: string,
  settings: ObservationSettings,
): Promise<RackElevation> {
  const em = db.em();
  const rack = await getRack(db, ctx, rackId, em);
  const [units, reservations, rows] = await Promise.all([
    // Every statement prepared (persistence/reads.ts): the same three texts for every rack.
    readRows(
      em,
      RackUnit,
      em.createQueryBuilder(RackUnit).select("*").where({ rackId }).orderBy({ position: "desc" }).toQuery(),
    ) as unknown as Promise<RackUnitView[]>,
    readRows(
      em,
      RackReservation,
      em.createQueryBuilder(RackReservation).select("*").where({ rackId }).orderBy({ firstPosition: "asc" }).toQuery(),
    ) as unknown as Promise<RackReservationView[]>,
    readBound<
      Nullable<ObservationRow> & {
        now: Date;
        id: string;
        name: string;
        status: string;
        cpu_cores: number;
        memory_mib: number;
        storage_gib: number;
        cpu_cores_allocated: number;
        memory_mib_allocated: number;
        storage_gib_allocated: number;
      }
    >(
      em,
      `select now() as now, b.id, b.name, b.status, b.cpu_cores, b.memory_mib, b.storage_gib,
              b.cpu_cores_allocated, b.memory_mib_allocated, b.storage_gib_allocated, ${observationColumns("o.")}
         from baremetal b
         left join observation o on o.resource_type = 'baremetal' and o.resource_id = b.id
        where b.rack_id = ?`,
      [rackId],
    ),
  ]);
  const hosts = rows.map((row) => ({
    ...row,
    cpuCores: Number(row.cpu_cores),
    // The database's clock measures the age, as for every view of an observation.
    observation:
      row.observe_time === null
        ? undefined
        : viewObservation(storedObservation(row as ObservationRow), new Date(row.now), settings.staleMillis),
  }));
  const purposes = new Map(reservations.map((reservation) => [reservation.id, reservation.purpose]));
  const hostById = new Map(hosts.map((host) => [host.id, host]));
  const sum = (pick: (host: (typeof hosts)[number]) => number) => hosts.reduce((total, host) => total + Number(pick(host)), 0);
  return {
    rack,
    units: units.map((unit) => ({ ...unit, occupant: occupantOf(unit, purposes, hostById) })),
    reservations,
    load: {
      ...summariseUnits(units),
      hostCount: hosts.length,
      cpuCoresCapacity: sum((host) => host.cpu_cores),
      cpuCoresAllocated: sum((host) => host.cpu_cores_allocated),
      memoryMibCapacity: sum((host) => host.memory_mib),
      memoryMibAllocated: sum((host) => host.memory_mib_allocated),
      storageGibCapacity: sum((host) => host.storage_gib),
      storageGibAllocated: sum((host) => host.storage_gib_allocated),
      ...observedUse(hosts),
    },
  };
}

type Nullable<T> = { [K in keyof T]: T[K] | null };

/** A host shows with its name, status and health; a reservation with its purpose. */
function occupantOf(
  unit: RackUnitView,
  purposes: ReadonlyMap<string, string>,
  hosts: ReadonlyMap<string, { name: string; status: string; observation: ObservationView | undefined }>,
): RackUnitOccupant | undefined {
  if (unit.baremetalId) {
    const host = hosts.get(unit.baremetalId);
    if (!host) return { kind: "baremetal", id: unit.baremetalId, label: "", health: "UNKNOWN" };
    return {
      kind: "baremetal",
      id: unit.baremetalId,
      label: `${host.name} (${host.status})`,
      health: host.observation?.effectiveHealth ?? "UNKNOWN",
      ...(host.observation ? { observation: host.observation } : {}),
    };
  }
  if (unit.reservationId) return { kind: "reservation", id: unit.reservationId, label: purposes.get(unit.reservationId) ?? "" };
  return undefined;
}

async function addUnits(em: EntityManager, rackId: string, from: number, to: number): Promise<void> {
  for (let position = from; position <= to; position++) em.create(RackUnit, { rackId, position, status: "FREE" });
  await em.flush();
}

/** Growing adds free units on top; shrinking removes the top units, which must all be free. */
async function resizeUnits(em: EntityManager, rackId: string, from: number, to: number): Promise<void> {
  if (to > from) return addUnits(em, rackId, from + 1, to);
  const busy = await em.find(RackUnit, { rackId, position: { $gt: to }, status: { $ne: "FREE" } }, { orderBy: { position: "asc" } });
  if (busy.length > 0) {
    throw new FailedPreconditionError(
      "RACK_UNITS_IN_USE",
      `cannot lower the rack to ${to} units: ${busy.map((unit) => `U${unit.position} is ${unit.status}`).join(", ")}`,
      { rack_id: rackId, units: busy.map((unit) => unit.position).join(",") },
    );
  }
  // Conditional on FREE, so a unit reserved between the check and here aborts the change instead
  // of vanishing with its reservation.
  const removed = await em.nativeDelete(RackUnit, { rackId, position: { $gt: to }, status: "FREE" });
  if (removed !== from - to) {
    throw new FailedPreconditionError("RACK_UNITS_IN_USE", `cannot lower the rack to ${to} units: a unit above it was taken concurrently`, {
      rack_id: rackId,
    });
  }
}
