// Mounting hosts on rack units. A host takes units that are FREE, or RESERVED by the reservation
// it names; nothing else — occupied, faulty, reserved for someone else, or above the rack's top —
// and the check is one conditional UPDATE per batch, so two hosts racing for a unit cannot both
// get it (the loser's transaction rolls back naming the unit). Which units a mounting cannot have,
// read beforehand for the error, is domain/hosts.ts's mountingConflicts.
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Mounting } from "../../domain/hosts.js";
import { unitsUnavailable } from "../../domain/inventory.js";

/** Occupies the units of every mounting in one statement; throws RACK_UNITS_UNAVAILABLE when any
 * unit was not available at that moment. */
export async function mount(em: EntityManager, mountings: readonly Mounting[]): Promise<void> {
  if (mountings.length === 0) return;
  const wanted = mountings.reduce((sum, m) => sum + m.heightUnits, 0);
  const taken = await em.execute<{ rack_id: string; position: number }[]>(
    `update rack_unit u
        set status = 'OCCUPIED', baremetal_id = m.baremetal_id, reservation_id = null, version = u.version + 1, update_time = now()
       from unnest(array[?]::uuid[], array[?]::uuid[], array[?]::int[], array[?]::int[], array[?]::text[])
            as m(baremetal_id, rack_id, first_position, last_position, reservation_id)
      where u.rack_id = m.rack_id and u.position between m.first_position and m.last_position
        and (u.status = 'FREE' or (u.status = 'RESERVED' and u.reservation_id::text = m.reservation_id))
      returning u.rack_id, u.position`,
    [
      mountings.map((m) => m.baremetalId),
      mountings.map((m) => m.rackId),
      mountings.map((m) => m.firstPosition),
      mountings.map((m) => m.firstPosition + m.heightUnits - 1),
      mountings.map((m) => m.reservationId ?? ""),
    ],
  );
  if (taken.length === wanted) return;
  const got = new Set(taken.map((unit) => `${unit.rack_id}/${unit.position}`));
  const first = mountings.find((m) => {
    for (let p = m.firstPosition; p < m.firstPosition + m.heightUnits; p++) if (!got.has(`${m.rackId}/${p}`)) return true;
    return false;
  })!;
  const missing = Array.from({ length: first.heightUnits }, (_, i) => first.firstPosition + i).filter(
    (p) => !got.has(`${first.rackId}/${p}`),
  );
  const rows = await em.execute<{ position: number; status: string }[]>(
    `select position, status from rack_unit where rack_id = ? and position = any(array[?]::int[]) order by position`,
    [first.rackId, missing],
  );
  const known = new Map(rows.map((row) => [row.position, row.status]));
  throw unitsUnavailable(
    first.rackId,
    missing.map((position) => ({ position, status: known.get(position) ?? "beyond the rack's top" })),
  );
}

/** Frees every unit a host occupies. */
export async function unmount(em: EntityManager, baremetalId: string): Promise<void> {
  await em.execute(
    `update rack_unit set status = 'FREE', baremetal_id = null, version = version + 1, update_time = now() where baremetal_id = ?`,
    [baremetalId],
  );
}
