// Unit slots: their settings, and the status changes (reserve, release, fault) that must never
// race. Every status change is one conditional UPDATE over the whole range: either every unit was
// in the expected state and all change, or the transaction rolls back naming the units in the way.
import type { EntityManager } from "@mikro-orm/postgresql";
import { InvalidArgumentError, NotFoundError } from "../../domain/errors.js";
import {
  positionsOf,
  requireRangeInRack,
  tenantMayUseUnit,
  unitsUnavailable,
  type RackReservation,
  type RackUnit,
  type RackUnitNetwork,
  type UnitRange,
} from "../../domain/inventory.js";
import { Rack, RackReservation as ReservationEntity, RackUnit as RackUnitEntity, SlotGroup } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { mutate } from "../mutation.js";
import { requireTenantEnabled } from "../tenant-guard.js";
import { requireTenantsExist } from "../tenants/references.js";
import { createOnce, findById, readById } from "../standard-methods.js";
import { requireInventoryWrite } from "./access.js";
import { requireEtag } from "../../domain/etag.js";
import { LockMode } from "@mikro-orm/postgresql";

export interface RackUnitFields extends RackUnitNetwork {
  readonly slotGroupId: string | null;
  readonly allowedTenantIds: string[];
}

export async function updateRackUnit(
  db: Database,
  ctx: CallContext,
  rackId: string,
  position: number,
  etag: string,
  patch: Partial<RackUnitFields>,
): Promise<RackUnit> {
  requireInventoryWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = "rack";
    ctx.audit.resourceId = rackId;
    const unit = await em.findOne(RackUnitEntity, { rackId, position }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!unit) throw new NotFoundError("rack_unit", `${rackId}/U${position}`);
    requireEtag(unit.version, etag, "rack_unit", `${rackId}/U${position}`);
    if (patch.slotGroupId) await findById(em, SlotGroup, "slot_group", patch.slotGroupId);
    if (patch.allowedTenantIds !== undefined) await requireTenantsExist(em, patch.allowedTenantIds);
    em.assign(unit, patch);
    return unit;
  });
}

export interface ReservationRequest {
  readonly rackId: string;
  readonly range: UnitRange;
  readonly purpose: string;
  readonly tenantId: string | null;
}

export async function reserveRackUnits(
  db: Database,
  ctx: CallContext,
  request: ReservationRequest,
  requestId: string,
): Promise<RackReservation> {
  requireInventoryWrite(ctx.principal);
  const id = await mutate(db, ctx, async (em) => {
    const rack = await findById(em, Rack, "rack", request.rackId);
    requireRangeInRack(request.range, rack.heightUnits);
    return createOnce(em, ctx, "rack_reservation", requestId, request, async (id) => {
      if (request.tenantId) {
        // Nothing is reserved for a tenant that does not exist or is disabled (TEN-2); the share
        // lock also keeps a concurrent DeleteTenant from missing this reservation.
        await requireTenantEnabled(em, request.tenantId);
        await requireTenantAllowed(em, rack, request.range, request.tenantId);
      }
      em.create(ReservationEntity, {
        id,
        rackId: rack.id,
        firstPosition: request.range.first,
        unitCount: request.range.count,
        purpose: request.purpose,
        tenantId: request.tenantId,
        createdBy: ctx.principal.name,
      });
      await em.flush();
      await transitionUnits(em, rack.id, request.range, "FREE", { status: "RESERVED", reservation_id: id, fault_reason: "" });
    });
  });
  return readById(db.em(), ReservationEntity, "rack_reservation", id);
}

export async function releaseRackUnits(db: Database, ctx: CallContext, reservationId: string): Promise<void> {
  requireInventoryWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = "rack_reservation";
    ctx.audit.resourceId = reservationId;
    const reservation = await findById(em, ReservationEntity, "rack_reservation", reservationId);
    await em.execute(
      `update rack_unit set status = 'FREE', reservation_id = null, version = version + 1, update_time = now()
       where reservation_id = ? and status = 'RESERVED'`,
      [reservationId],
    );
    em.remove(reservation);
  });
}

export async function setRackUnitsFaulty(
  db: Database,
  ctx: CallContext,
  rackId: string,
  range: UnitRange,
  faulty: boolean,
  reason: string,
): Promise<RackUnit[]> {
  requireInventoryWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = "rack";
    ctx.audit.resourceId = rackId;
    const rack = await findById(em, Rack, "rack", rackId);
    requireRangeInRack(range, rack.heightUnits);
    if (faulty) {
      if (reason === "")
        throw new InvalidArgumentError("FAULT_REASON_REQUIRED", "reason is required when marking units faulty", [
          { field: "reason", description: "required when faulty is true" },
        ]);
      await transitionUnits(em, rackId, range, "FREE", { status: "FAULTY", reservation_id: null, fault_reason: reason });
    } else {
      await transitionUnits(em, rackId, range, "FAULTY", { status: "FREE", reservation_id: null, fault_reason: "" });
    }
  });
  return db
    .em()
    .find(
      RackUnitEntity,
      { rackId, position: { $gte: range.first, $lte: range.first + range.count - 1 } },
      { orderBy: { position: "asc" } },
    );
}

/** Moves every unit of the range from `from` to the new state in one statement, or fails naming
 * the units that were not in `from`. */
async function transitionUnits(
  em: EntityManager,
  rackId: string,
  range: UnitRange,
  from: string,
  to: { status: string; reservation_id: string | null; fault_reason: string },
): Promise<void> {
  const changed = await em.execute<{ position: number }[]>(
    `update rack_unit set status = ?, reservation_id = ?, fault_reason = ?, version = version + 1, update_time = now()
     where rack_id = ? and position between ? and ? and status = ? returning position`,
    [to.status, to.reservation_id, to.fault_reason, rackId, range.first, range.first + range.count - 1, from],
  );
  if (changed.length === range.count) return;
  const done = new Set(changed.map((unit) => unit.position));
  const blocking = await em.execute<{ position: number; status: string }[]>(
    `select position, status from rack_unit where rack_id = ? and position = any(array[?]::smallint[]) order by position`,
    [rackId, positionsOf(range).filter((position) => !done.has(position))],
  );
  throw unitsUnavailable(rackId, blocking);
}

async function requireTenantAllowed(
  em: EntityManager,
  rack: { id: string; allowedTenantIds: string[] },
  range: UnitRange,
  tenantId: string,
): Promise<void> {
  const units = await em.find(RackUnitEntity, { rackId: rack.id, position: { $gte: range.first, $lte: range.first + range.count - 1 } });
  const refused = units.filter((unit) => !tenantMayUseUnit(tenantId, rack, unit));
  if (refused.length > 0) {
    throw unitsUnavailable(
      rack.id,
      refused.map((unit) => ({ position: unit.position, status: `not allowed for tenant ${tenantId}` })),
    );
  }
}
