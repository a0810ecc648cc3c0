// `rackctl export hosts`: every host (or those the filter picks) in the import's file format, with
// groups, racks, rooms and datacenters by name, so the file imports again as it is.
import { stringify } from "yaml";
import type { GlobalOptions } from "../config.js";
import { connect } from "../connection.js";
import { csvLine } from "../csv.js";
import { UsageError } from "../errors.js";
import { hostColumns, readInventory, type HostRecord } from "../host-rows.js";
import { kindOf, listAll } from "../resolve.js";

export async function run(kindWord: string, options: GlobalOptions & { format: string; filter?: string }): Promise<void> {
  if (!["hosts", "host", "baremetals"].includes(kindWord)) throw new UsageError("only hosts can be exported");
  if (options.format !== "csv" && options.format !== "yaml") throw new UsageError("--format is csv or yaml");
  const connection = connect(options);
  const [inventory, hosts] = await Promise.all([readInventory(connection), listAll(connection, kindOf("hosts"), options.filter ?? "")]);
  const nameOf = (rows: { id: string; name: string }[]) => new Map(rows.map((row) => [row.id, row.name]));
  const groups = nameOf(inventory.groups);
  const datacenters = nameOf(inventory.datacenters);
  const rooms = nameOf(inventory.rooms);
  const racks = new Map(inventory.racks.map((rack) => [rack.id, rack]));
  const records: HostRecord[] = hosts.map((host) => {
    const rack = racks.get(host.placement?.rackId ?? "");
    return {
      name: host.name,
      serial_number: host.serialNumber,
      group: groups.get(host.groupId) ?? host.groupId,
      datacenter: datacenters.get(rack?.datacenterId) ?? "",
      room: rooms.get(rack?.roomId) ?? "",
      rack: rack?.name ?? "",
      first_position: String(host.placement?.firstPosition ?? ""),
      height_units: String(host.placement?.heightUnits ?? ""),
      cpu_cores: String(host.capacity?.cpuCores ?? 0),
      memory_mib: String(host.capacity?.memoryMib ?? 0),
      storage_gib: String(host.capacity?.storageGib ?? 0),
      description: host.description,
    };
  });
  if (options.format === "yaml") {
    process.stdout.write(stringify(records));
    return;
  }
  let text = csvLine(hostColumns);
  for (const record of records) text += csvLine(hostColumns.map((column) => record[column] ?? ""));
  process.stdout.write(text);
}
