// biome-ignore-all lint/suspicious/noExplicitAny: inventory rows are generated messages
// The host file format of `import hosts` / `export hosts` (docs/cli.md#host-files): one row per
// host, with its group, rack, room and datacenter by name (or id), checked and resolved locally
// against one read of the inventory before anything is written.
import type { Connection } from "./connection.js";
import { kindOf, listAll, isId } from "./resolve.js";

export const hostColumns = [
  "name",
  "serial_number",
  "group",
  "datacenter",
  "room",
  "rack",
  "first_position",
  "height_units",
  "cpu_cores",
  "memory_mib",
  "storage_gib",
  "description",
] as const;
export type HostRecord = Partial<Record<(typeof hostColumns)[number], string>>;

/** Everything names resolve against: groups, datacenters, rooms and racks, read once. */
export interface Inventory {
  readonly groups: any[];
  readonly datacenters: any[];
  readonly rooms: any[];
  readonly racks: any[];
}

export async function readInventory(connection: Connection): Promise<Inventory> {
  const [groups, datacenters, rooms, racks] = await Promise.all(
    ["hostgroups", "datacenters", "rooms", "racks"].map((kind) => listAll(connection, kindOf(kind), "")),
  );
  return { groups: groups!, datacenters: datacenters!, rooms: rooms!, racks: racks! };
}

const namePattern = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const serialPattern = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

/** The CreateBaremetal message of a row, or the reason it cannot be one. */
export function hostOf(record: HostRecord, inventory: Inventory): { host: any } | { reason: string } {
  const name = record.name?.trim() ?? "";
  const serial = record.serial_number?.trim() ?? "";
  if (!namePattern.test(name) || name.length > 63) return { reason: `name "${name}" is not a valid host name` };
  if (!serialPattern.test(serial) || serial.length > 64) return { reason: `serial_number "${serial}" is not valid` };
  const numbers: Record<string, number> = {};
  for (const column of ["first_position", "height_units", "cpu_cores", "memory_mib", "storage_gib"] as const) {
    const text = record[column]?.trim() ?? "";
    if (!/^\d+$/.test(text)) return { reason: `${column} "${text}" is not a whole number` };
    numbers[column] = Number(text);
  }
  if (numbers.first_position! < 1 || numbers.first_position! > 60)
    return { reason: `first_position ${numbers.first_position} is outside 1-60` };
  if (numbers.height_units! < 1 || numbers.height_units! > 60) return { reason: `height_units ${numbers.height_units} is outside 1-60` };
  const group = pick(inventory.groups, record.group, () => true);
  if ("reason" in group) return { reason: `group ${group.reason}` };
  const datacenter = record.datacenter ? pick(inventory.datacenters, record.datacenter, () => true) : undefined;
  if (datacenter && "reason" in datacenter) return { reason: `datacenter ${datacenter.reason}` };
  const room = record.room ? pick(inventory.rooms, record.room, (r) => !datacenter || r.datacenterId === datacenter.row.id) : undefined;
  if (room && "reason" in room) return { reason: `room ${room.reason}` };
  const rack = pick(
    inventory.racks,
    record.rack,
    (r) => (!room || r.roomId === room.row.id) && (!datacenter || r.datacenterId === datacenter.row.id),
  );
  if ("reason" in rack) return { reason: `rack ${rack.reason}${room ? "" : " (name its room or datacenter)"}` };
  return {
    host: {
      name,
      serialNumber: serial,
      groupId: group.row.id,
      description: record.description ?? "",
      capacity: { cpuCores: numbers.cpu_cores, memoryMib: BigInt(numbers.memory_mib!), storageGib: BigInt(numbers.storage_gib!) },
      placement: { rackId: rack.row.id, firstPosition: numbers.first_position, heightUnits: numbers.height_units },
    },
  };
}

function pick(rows: readonly any[], reference: string | undefined, inScope: (row: any) => boolean): { row: any } | { reason: string } {
  const ref = reference?.trim() ?? "";
  if (!ref) return { reason: "is missing" };
  const matches = rows.filter((row) => (isId(ref) ? row.id === ref : row.name === ref) && inScope(row));
  if (matches.length === 1) return { row: matches[0] };
  return { reason: matches.length === 0 ? `"${ref}" not found` : `"${ref}" is ambiguous` };
}
