// Cascading deletes of the inventory tree (AIP-135 `force`). Deleting is safe while no unit of the
// racks involved is occupied: mounted hardware must be moved or removed first, never orphaned.
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError } from "../../domain/errors.js";
import { removeAssignments } from "../maintainers/resources.js";

type RackSelection = { readonly column: "id" | "room_id" | "datacenter_id"; readonly value: string };

/** Deletes the selected racks with their units and reservations, refusing if any unit is occupied.
 * The racks are locked first, so a concurrent placement cannot slip into a unit being deleted. */
export async function deleteRacks(em: EntityManager, selection: RackSelection): Promise<number> {
  const racks = await em.execute<{ id: string }[]>(`select id from rack where ${selection.column} = ? for update`, [selection.value]);
  if (racks.length === 0) return 0;
  const ids = racks.map((rack) => rack.id);
  const occupied = await em.execute<{ rack_id: string; position: number }[]>(
    `select rack_id, position from rack_unit where rack_id = any(array[?]::uuid[]) and status = 'OCCUPIED' order by rack_id, position limit 20`,
    [ids],
  );
  if (occupied.length > 0) {
    throw new FailedPreconditionError(
      "RACK_UNITS_OCCUPIED",
      `occupied units are in the way: ${occupied.map((unit) => `rack ${unit.rack_id} U${unit.position}`).join(", ")}; move or remove the hosts first`,
      { racks: [...new Set(occupied.map((unit) => unit.rack_id))].join(",") },
    );
  }
  await em.execute(`delete from rack_unit where rack_id = any(array[?]::uuid[])`, [ids]);
  await em.execute(`delete from rack_reservation where rack_id = any(array[?]::uuid[])`, [ids]);
  await em.execute(`delete from rack where id = any(array[?]::uuid[])`, [ids]);
  await removeAssignments(em, "rack", ids);
  return ids.length;
}

export async function deleteRoomTree(em: EntityManager, roomId: string): Promise<void> {
  await deleteRacks(em, { column: "room_id", value: roomId });
  await em.execute(`delete from room where id = ?`, [roomId]);
  await removeAssignments(em, "room", [roomId]);
}

export async function deleteDatacenterTree(em: EntityManager, datacenterId: string): Promise<void> {
  await deleteRacks(em, { column: "datacenter_id", value: datacenterId });
  const rooms = await em.execute<{ id: string }[]>(`delete from room where datacenter_id = ? returning id`, [datacenterId]);
  await removeAssignments(
    em,
    "room",
    rooms.map((room) => room.id),
  );
  await em.execute(`delete from datacenter where id = ?`, [datacenterId]);
  await removeAssignments(em, "datacenter", [datacenterId]);
}
