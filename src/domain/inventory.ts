// The data-center inventory (INV-1..4): plain types and the rules of rack units.
import { FailedPreconditionError, InvalidArgumentError } from "./errors.js";
import type { Health, ObservationView } from "./observations.js";

interface Resource {
  readonly id: string;
  /** Optimistic-lock version: the etag. */
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

export interface Region extends Resource {
  readonly name: string;
  readonly description: string;
}

export interface Location {
  readonly address: string;
  readonly city: string;
  readonly countryCode: string;
  readonly latitude: number;
  readonly longitude: number;
}

export interface Datacenter extends Resource, Location {
  readonly name: string;
  readonly regionId: string;
  readonly description: string;
}

export interface Room extends Resource {
  readonly name: string;
  readonly datacenterId: string;
  readonly regionId: string;
  readonly description: string;
}

export const rackStatuses = ["PLANNED", "ACTIVE", "MAINTENANCE", "DECOMMISSIONED"] as const;
export type RackStatus = (typeof rackStatuses)[number];

export interface RackNetwork {
  readonly torSwitches: string[];
  readonly subnets: string[];
  readonly managementVlan: number;
}

export interface Rack extends Resource, RackNetwork {
  readonly name: string;
  readonly roomId: string;
  readonly datacenterId: string;
  readonly regionId: string;
  readonly status: RackStatus;
  readonly heightUnits: number;
  /** null when the rack has no ASN of its own. */
  readonly asn?: number | null;
  readonly allowedTenantIds: string[];
  readonly description: string;
}

export interface SlotGroup extends Resource {
  readonly name: string;
  readonly description: string;
}

export const rackUnitStatuses = ["FREE", "RESERVED", "OCCUPIED", "FAULTY"] as const;
export type RackUnitStatus = (typeof rackUnitStatuses)[number];

export interface RackUnitNetwork {
  readonly switchPort: string;
  readonly vlan: number;
  readonly addresses: string[];
}

export interface RackUnit extends RackUnitNetwork {
  readonly id: string;
  readonly version: number;
  readonly updateTime: Date;
  readonly rackId: string;
  readonly position: number;
  readonly status: RackUnitStatus;
  readonly slotGroupId?: string | null;
  readonly allowedTenantIds: string[];
  readonly reservationId?: string | null;
  readonly baremetalId?: string | null;
  readonly faultReason: string;
}

export interface RackReservation {
  readonly id: string;
  readonly rackId: string;
  readonly firstPosition: number;
  readonly unitCount: number;
  readonly purpose: string;
  readonly tenantId?: string | null;
  readonly createdBy: string;
  readonly createTime: Date;
}

/** What the elevation shows in a unit that is reserved or occupied. */
export interface RackUnitOccupant {
  readonly kind: "reservation" | "baremetal";
  readonly id: string;
  readonly label: string;
  /** A host's health as it counts now (UNKNOWN: never reported or stale); undefined for a reservation. */
  readonly health?: Health;
  /** A host's latest observation, if it has one. */
  readonly observation?: ObservationView;
}

export interface RackLoadSummary {
  readonly unitsTotal: number;
  readonly unitsFree: number;
  readonly unitsReserved: number;
  readonly unitsOccupied: number;
  readonly unitsFaulty: number;
  readonly hostCount: number;
  readonly cpuCoresCapacity: number;
  readonly cpuCoresAllocated: number;
  readonly memoryMibCapacity: number;
  readonly memoryMibAllocated: number;
  readonly storageGibCapacity: number;
  readonly storageGibAllocated: number;
  /** Hosts with a fresh observation; the observed use is summed over them. */
  readonly observedHostCount: number;
  readonly cpuCoresUsed: number;
  readonly memoryMibUsed: number;
  readonly storageGibUsed: number;
}

export interface RackElevation {
  readonly rack: Rack;
  /** Top (position = height) to bottom (position 1). */
  readonly units: ReadonlyArray<RackUnit & { readonly occupant: RackUnitOccupant | undefined }>;
  readonly reservations: readonly RackReservation[];
  readonly load: RackLoadSummary;
}

/** A contiguous range of units, 1-based from the bottom. */
export interface UnitRange {
  readonly first: number;
  readonly count: number;
}

export function positionsOf(range: UnitRange): number[] {
  return Array.from({ length: range.count }, (_, i) => range.first + i);
}

/** A range must lie inside the rack. */
export function requireRangeInRack(range: UnitRange, heightUnits: number): void {
  const last = range.first + range.count - 1;
  if (last > heightUnits) {
    throw new InvalidArgumentError(
      "UNITS_OUT_OF_RANGE",
      `units ${range.first}-${last} do not fit a rack of ${heightUnits} units`,
      [{ field: "unit_count", description: `the range ends at unit ${last}, above the rack's top unit ${heightUnits}` }],
      { first_position: String(range.first), last_position: String(last), height_units: String(heightUnits) },
    );
  }
}

/** The units a state change wanted but could not have, as one error naming each of them. */
export function unitsUnavailable(rackId: string, conflicts: ReadonlyArray<{ position: number; status: string }>): FailedPreconditionError {
  const described = conflicts.map((unit) => `U${unit.position} is ${unit.status}`).join(", ");
  return new FailedPreconditionError("RACK_UNITS_UNAVAILABLE", `rack ${rackId}: ${described}`, {
    rack_id: rackId,
    conflicting_units: conflicts.map((unit) => unit.position).join(","),
  });
}

/** A tenant may use a unit if the unit lists it, or the unit lists nobody and the rack lists it. */
export function tenantMayUseUnit(
  tenantId: string,
  rack: Pick<Rack, "allowedTenantIds">,
  unit: Pick<RackUnit, "allowedTenantIds">,
): boolean {
  const allowed = unit.allowedTenantIds.length > 0 ? unit.allowedTenantIds : rack.allowedTenantIds;
  return allowed.includes(tenantId);
}

export function summariseUnits(
  units: ReadonlyArray<Pick<RackUnit, "status">>,
): Pick<RackLoadSummary, "unitsTotal" | "unitsFree" | "unitsReserved" | "unitsOccupied" | "unitsFaulty"> {
  const count = (status: RackUnitStatus) => units.filter((unit) => unit.status === status).length;
  return {
    unitsTotal: units.length,
    unitsFree: count("FREE"),
    unitsReserved: count("RESERVED"),
    unitsOccupied: count("OCCUPIED"),
    unitsFaulty: count("FAULTY"),
  };
}
