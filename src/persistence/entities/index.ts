import { AuditEvent, IdempotencyKey } from "./audit.js";
import { ApiToken } from "./identity.js";
import { Datacenter, Rack, RackReservation, RackUnit, Region, Room, SlotGroup } from "./inventory.js";

export * from "./audit.js";
export * from "./identity.js";
export * from "./inventory.js";

/** Every entity, for the ORM configuration. */
export const entities = [
  Region,
  Datacenter,
  Room,
  Rack,
  SlotGroup,
  RackReservation,
  RackUnit,
  ApiToken,
  AuditEvent,
  IdempotencyKey,
];
