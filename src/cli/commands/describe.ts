// `rackctl describe KIND NAME`: a VM with where it runs, who maintains it and why it was placed
// there; a rack as its elevation, top unit first; a Kubernetes cluster with its pools, its agent's
// latest health report and its nodes; anything else as its fields in YAML.
import { stringify } from "yaml";
import { ComputeService, VirtualMachineRole, VirtualMachineState } from "../../../gen/es/rackplane/v1/compute_pb.js";
import { InventoryService, RackStatus, RackUnitStatus } from "../../../gen/es/rackplane/v1/inventory_pb.js";
import type { KubernetesClusterHealth } from "../../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import { KubernetesClusterStatus, KubernetesNodeRole, KubernetesService } from "../../../gen/es/rackplane/v1/kubernetes_pb.js";
import { MaintainerService } from "../../../gen/es/rackplane/v1/maintainer_pb.js";
import type { GlobalOptions } from "../config.js";
import { connect, type Connection } from "../connection.js";
import { fields, table } from "../format.js";
import { formatOf, jsonOf } from "../output.js";
import { kindOf, quote, resolveOne } from "../resolve.js";

interface DescribeOptions extends GlobalOptions {
  output?: string;
  [scope: string]: unknown;
}

export async function run(kindWord: string, name: string, options: DescribeOptions): Promise<void> {
  const kind = kindOf(kindWord);
  const format = formatOf(options.output);
  const connection = connect(options);
  const row = await resolveOne(connection, kind, name, options);
  if (format === "json") {
    process.stdout.write(`${JSON.stringify(jsonOf(kind, row), null, 2)}\n`);
  } else if (format === "yaml" || !["vms", "racks", "clusters"].includes(kind.name)) {
    process.stdout.write(stringify(jsonOf(kind, row)));
  } else if (kind.name === "vms") {
    process.stdout.write(await describeVm(connection, row.id));
  } else if (kind.name === "clusters") {
    process.stdout.write(await describeCluster(connection, row.id));
  } else {
    process.stdout.write(await describeRack(connection, row.id));
  }
}

const named = (r: { name: string; id: string } | undefined) => (r?.id ? `${r.name || "-"} (${r.id})` : "-");

async function describeVm(connection: Connection, id: string): Promise<string> {
  const compute = connection.client(ComputeService);
  const [vm, records, maintainers] = await Promise.all([
    compute.getVirtualMachine({ id }),
    compute.listSchedulingRecords({ filter: `virtual_machine_id = ${quote(id)}`, pageSize: 1 }),
    connection.client(MaintainerService).listResourceMaintainers({ resource: { type: "virtual_machine", id }, pageSize: 100 }),
  ]);
  const v = vm.virtualMachine!;
  const host = vm.host;
  const r = v.resources;
  let text = fields([
    ["Name", v.name],
    ["ID", v.id],
    ["Tenant", named(vm.tenant)],
    ["State", VirtualMachineState[v.state]],
    ["Role", VirtualMachineRole[v.role]],
    ["Specification", named(vm.specification)],
    ["Image", named(vm.image)],
    ["Resources", r ? `${r.cpuCores} cpu, ${r.memoryMib} MiB, ${r.storageGib} GiB` : "-"],
    ["IP addresses", v.ipAddresses.join(", ") || "-"],
    ["Cluster", named(vm.cluster)],
    ["Host", named(host?.baremetal)],
    ["Host group", named(host?.group)],
    [
      "Location",
      host?.rack?.id
        ? `${host.region?.name} / ${host.datacenter?.name} / ${host.room?.name} / rack ${host.rack.name} U${host.firstPosition}`
        : "-",
    ],
    ["Active operation", v.activeOperationId || "-"],
  ]);
  text += "\nMaintainers:\n";
  text += maintainers.maintainers.length
    ? maintainers.maintainers
        .map((m) => `  ${m.maintainer?.name} <${m.maintainer?.email}>${m.viaGroupName ? ` via ${m.viaGroupName}` : ""}\n`)
        .join("")
    : "  (none)\n";
  text += "\nScheduling:\n";
  const record = records.schedulingRecords[0];
  if (!record) return `${text}  (no record)\n`;
  text += `  policy ${record.policy}, chose ${record.chosenBaremetalId || "-"}: ${record.reason}\n`;
  for (const candidate of record.candidates.slice(0, 5)) text += `  candidate ${candidate.baremetalId} score ${candidate.score}\n`;
  return text;
}

async function describeRack(connection: Connection, id: string): Promise<string> {
  const elevation = await connection.client(InventoryService).getRackElevation({ rackId: id });
  const rack = elevation.rack!;
  const load = elevation.load;
  let text = fields([
    ["Name", rack.name],
    ["ID", rack.id],
    ["Status", RackStatus[rack.status]],
    ["Height", `${rack.heightUnits}U`],
    ["ASN", rack.asn ? String(rack.asn) : "-"],
    [
      "Load",
      load ? `${load.unitsOccupied} occupied, ${load.unitsReserved} reserved, ${load.unitsFaulty} faulty, ${load.unitsFree} free` : "-",
    ],
  ]);
  text += "\nElevation:\n";
  const units = [...elevation.units].sort((a, b) => b.position - a.position);
  for (const unit of units) {
    const what =
      unit.status === RackUnitStatus.OCCUPIED
        ? `${unit.occupant?.kind ?? ""} ${unit.occupant?.label ?? ""}`.trim()
        : unit.status === RackUnitStatus.FAULTY
          ? `FAULTY ${unit.faultReason}`
          : RackUnitStatus[unit.status];
    text += `  U${String(unit.position).padStart(2, "0")} |${what.padEnd(40).slice(0, 40)}|\n`;
  }
  for (const reservation of elevation.reservations) {
    text += `  reserved U${reservation.firstPosition}-U${reservation.firstPosition + reservation.unitCount - 1}: ${reservation.purpose}\n`;
  }
  return text;
}

type Timestamp = { seconds: bigint; nanos: number } | undefined;
const utc = (t: Timestamp) => (t ? new Date(Number(t.seconds) * 1000).toISOString().replace(/\.000Z$/, "Z") : "-");

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/** Decimal units per second: 2500000 -> "2.5 MB/s". */
function perSecond(bytes: bigint): string {
  let n = Number(bytes);
  const units = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"];
  let unit = 0;
  for (; n >= 1000 && unit < units.length - 1; unit++) n /= 1000;
  return `${unit === 0 ? n : n.toFixed(1)} ${units[unit]}`;
}

async function describeCluster(connection: Connection, id: string): Promise<string> {
  const view = await connection.client(KubernetesService).getKubernetesCluster({ id });
  const c = view.cluster!;
  const poolName = new Map(c.nodePools.map((p) => [p.id, p.name]));
  let text = fields([
    ["Name", c.name],
    ["ID", c.id],
    ["Tenant", named(view.tenant)],
    ["Version", c.version],
    ["Status", `${KubernetesClusterStatus[c.status]}${c.statusReason ? ` (${c.statusReason})` : ""}`],
    ["Endpoint", c.endpoint || "-"],
    ["Control plane", `${c.controlPlane?.count ?? 0} nodes`],
    ["Active operation", c.activeOperationId || "-"],
  ]);
  text += "\nNode pools:\n";
  text += c.nodePools.length
    ? c.nodePools
        .map(
          (p) =>
            `  ${p.name}: ${p.nodeCount} nodes, autoscaling ${p.autoscaling ? `${p.autoscaling.minNodeCount}-${p.autoscaling.maxNodeCount}` : "off"} (${p.id})\n`,
        )
        .join("")
    : "  (none)\n";
  text += `\nHealth:\n${healthLines(c.health, poolName)}`;
  text += "\nNodes:\n";
  if (view.nodes.length === 0) return `${text}  (none)\n`;
  const nodes = table(view.nodes, [
    { header: "NAME", cell: (n) => n.name },
    { header: "ROLE", cell: (n) => KubernetesNodeRole[n.role] ?? "-" },
    { header: "POOL", cell: (n) => poolName.get(n.nodePoolId) ?? "-" },
    { header: "HOST", cell: (n) => n.baremetal?.name || "-" },
    { header: "STATE", cell: (n) => VirtualMachineState[n.state] ?? "-" },
    { header: "KUBELET", cell: (n) => n.version || "-" },
  ]);
  return text + nodes.replace(/^(?=.)/gm, "  ");
}

/** The health block of describe: the latest report's figures, when, and a STALE mark. */
export function healthLines(health: KubernetesClusterHealth | undefined, poolName: ReadonlyMap<string, string>): string {
  if (!health) return "  (no health report yet)\n";
  const lines: [string, string][] = [];
  if (health.stale) lines.push(["STALE", "the agent stopped reporting; these figures may no longer hold"]);
  lines.push(
    ["Observed", `${utc(health.observeTime)}, received ${utc(health.receiveTime)}`],
    ["Nodes", `${health.readyNodeCount} ready, ${health.notReadyNodeCount} not ready`],
    ["Pods", `${health.runningPodCount} running, ${health.pendingPodCount} pending, ${health.failedPodCount} failed`],
  );
  const t = health.traffic;
  if (t) {
    const rps = t.requestsPerSecond.toLocaleString("en-US", { maximumFractionDigits: 1 });
    lines.push(["Traffic", `${rps} requests/s, ${perSecond(t.ingressBytesPerSecond)} in, ${perSecond(t.egressBytesPerSecond)} out`]);
  }
  for (const p of health.nodePools) {
    const since = p.emptyNodes.map((n) => utc(n.emptySinceTime)).sort()[0];
    lines.push([
      `Pool ${poolName.get(p.nodePoolId) ?? p.nodePoolId}`,
      `${plural(p.unschedulablePodCount, "unschedulable pod")}, ${plural(p.emptyNodes.length, "empty node")}${since ? ` (longest since ${since})` : ""}`,
    ]);
  }
  return fields(lines).replace(/^(?=.)/gm, "  ");
}
