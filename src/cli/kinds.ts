// biome-ignore-all lint/suspicious/noExplicitAny: rows are generated messages read generically by their JSON-shaped fields
// Every kind rackctl knows: its names on the command line, the generated service and methods behind
// it, its table columns, how a name is found (and in which scope), and the references a table shows
// by name. One entry per kind; the verbs are generic over these entries.
import type { DescMessage, DescService } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { AgentService, AgentSchema } from "../../gen/es/rackplane/v1/agent_pb.js";
import { AuditService, AuditEventSchema } from "../../gen/es/rackplane/v1/audit_pb.js";
import {
  Architecture,
  ComputeService,
  ImageSchema,
  ImageStatus,
  VirtualMachineSchema,
  VirtualMachineSpecificationSchema,
  VirtualMachineState,
} from "../../gen/es/rackplane/v1/compute_pb.js";
import { ApiTokenSchema, IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import {
  BaremetalGroupDimension,
  BaremetalGroupSchema,
  BaremetalSchema,
  BaremetalStatus,
  DatacenterSchema,
  InventoryService,
  RackSchema,
  RackStatus,
  RegionSchema,
  RoomSchema,
} from "../../gen/es/rackplane/v1/inventory_pb.js";
import {
  KubernetesAddonService,
  NodePoolScalingEventSchema,
  NodePoolScalingOutcome,
  NodePoolScalingReason,
} from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import {
  KubernetesClusterSchema,
  KubernetesClusterStatus,
  KubernetesClusterTemplateSchema,
  KubernetesService,
  KubernetesVersionSchema,
  KubernetesVersionStatus,
} from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { MaintainerGroupSchema, MaintainerSchema, MaintainerService, MaintainerStatus } from "../../gen/es/rackplane/v1/maintainer_pb.js";
import { OperationSchema, OperationService, OperationState } from "../../gen/es/rackplane/v1/operation_pb.js";
import { BaremetalGroupTenantQuotaSchema, TenantKind, TenantService, TenantSchema } from "../../gen/es/rackplane/v1/tenant_pb.js";
import { shortId, type Column } from "./format.js";

type Row = any;
/** Names of referenced resources, by id, filled before a table is drawn. */
export type RefNames = ReadonlyMap<string, string>;

export interface Scope {
  /** The command-line flag (`--room`), the kind it names, and the filter field it sets. */
  readonly flag: string;
  readonly kind: string;
  readonly filterField: string;
}

export interface Kind {
  /** Canonical plural, as `get` prints it. */
  readonly name: string;
  readonly aliases: readonly string[];
  readonly service: DescService;
  readonly schema: DescMessage;
  /** The resource's field in Get/Create/Update messages (`rack`, `virtualMachine`). */
  readonly field: string;
  /** Its repeated field in the List response. */
  readonly listField: string;
  /** Method names (local names on the generated client); absent when the verb does not exist. */
  readonly methods: { list: string; get?: string; create?: string; update?: string; delete?: string };
  /** The field a name lookup filters on, or none when only ids work. */
  readonly nameField?: string;
  /** Where names are unique, when not globally. */
  readonly scope?: Scope;
  /** Referenced ids whose names the table shows. */
  readonly refs?: readonly { kind: string; id: (row: Row) => string }[];
  /** Names of parts a row of this kind carries (a cluster's node pools), learnt when it is read as a reference. */
  readonly partNames?: (row: Row) => readonly (readonly [string, string])[];
  readonly columns: (names: RefNames) => Column<Row>[];
  readonly wide: (names: RefNames) => Column<Row>[];
  /** Whether List takes a filter. */
  readonly filter: boolean;
}

const col = (header: string, cell: (row: Row) => unknown): Column<Row> => ({
  header,
  cell: (row) => {
    const value = cell(row);
    return value === undefined || value === null || value === "" ? "-" : String(value);
  },
});
const ref = (names: RefNames, id: string) => (id ? (names.get(id) ?? shortId(id)) : "-");
const time = (value: Timestamp | undefined) => (value ? new Date(Number(value.seconds) * 1000).toISOString().replace(/\.000Z$/, "Z") : "-");
const idColumn = col("ID", (row) => row.id);
const created = col("CREATED", (row) => time(row.createTime));
const resources = (r: Row) => (r ? `${r.cpuCores}c/${r.memoryMib}Mi/${r.storageGib}Gi` : "-");
const quotaLimit = (limit: Row) =>
  limit?.kind?.case === "absolute" ? String(limit.kind.value) : limit?.kind?.case === "percent" ? `${limit.kind.value}%` : "-";
/** A cluster's health in a cell: ready nodes of all, or "stale" when its agent stopped reporting. */
const healthCell = (health: Row) =>
  health ? `${health.readyNodeCount}/${health.readyNodeCount + health.notReadyNodeCount} ready${health.stale ? " (stale)" : ""}` : "";
/** "up 2 -> 3", "down 4 -> 2". */
export const scalingChange = (e: Row) =>
  `${e.toNodeCount > e.fromNodeCount ? "up" : e.toNodeCount < e.fromNodeCount ? "down" : "none"} ${e.fromNodeCount} -> ${e.toNodeCount}`;
const standard = (service: DescService, singular: string, plural: string) => ({
  list: `list${plural}`,
  get: `get${singular}`,
  create: `create${singular}`,
  update: `update${singular}`,
  delete: `delete${singular}`,
  service,
});

function kind(
  spec: Omit<Kind, "service" | "methods" | "filter"> & {
    methods: ReturnType<typeof standard> | (Kind["methods"] & { service: DescService });
    filter?: boolean;
  },
): Kind {
  const { service, ...methods } = spec.methods;
  return { ...spec, service, methods, filter: spec.filter ?? true };
}

export const kinds: readonly Kind[] = [
  kind({
    name: "regions",
    aliases: ["region"],
    schema: RegionSchema,
    field: "region",
    listField: "regions",
    methods: standard(InventoryService, "Region", "Regions"),
    nameField: "name",
    columns: () => [col("NAME", (r) => r.name), col("DESCRIPTION", (r) => r.description)],
    wide: () => [idColumn, created],
  }),
  kind({
    name: "datacenters",
    aliases: ["datacenter", "dc", "dcs"],
    schema: DatacenterSchema,
    field: "datacenter",
    listField: "datacenters",
    methods: standard(InventoryService, "Datacenter", "Datacenters"),
    nameField: "name",
    scope: { flag: "region", kind: "regions", filterField: "region_id" },
    refs: [{ kind: "regions", id: (r) => r.regionId }],
    columns: (n) => [
      col("NAME", (r) => r.name),
      col("REGION", (r) => ref(n, r.regionId)),
      col("CITY", (r) => r.location?.city),
      col("COUNTRY", (r) => r.location?.countryCode),
    ],
    wide: () => [idColumn, created],
  }),
  kind({
    name: "rooms",
    aliases: ["room"],
    schema: RoomSchema,
    field: "room",
    listField: "rooms",
    methods: standard(InventoryService, "Room", "Rooms"),
    nameField: "name",
    scope: { flag: "datacenter", kind: "datacenters", filterField: "datacenter_id" },
    refs: [{ kind: "datacenters", id: (r) => r.datacenterId }],
    columns: (n) => [col("NAME", (r) => r.name), col("DATACENTER", (r) => ref(n, r.datacenterId))],
    wide: () => [idColumn, created],
  }),
  kind({
    name: "racks",
    aliases: ["rack"],
    schema: RackSchema,
    field: "rack",
    listField: "racks",
    methods: standard(InventoryService, "Rack", "Racks"),
    nameField: "name",
    scope: { flag: "room", kind: "rooms", filterField: "room_id" },
    refs: [{ kind: "rooms", id: (r) => r.roomId }],
    columns: (n) => [
      col("NAME", (r) => r.name),
      col("ROOM", (r) => ref(n, r.roomId)),
      col("STATUS", (r) => RackStatus[r.status]),
      col("UNITS", (r) => r.heightUnits),
      col("ASN", (r) => r.asn || ""),
    ],
    wide: () => [idColumn, created],
  }),
  kind({
    name: "hosts",
    aliases: ["host", "baremetals", "baremetal", "bm"],
    schema: BaremetalSchema,
    field: "baremetal",
    listField: "baremetals",
    methods: standard(InventoryService, "Baremetal", "Baremetals"),
    nameField: "name",
    refs: [
      { kind: "hostgroups", id: (r) => r.groupId },
      { kind: "racks", id: (r) => r.placement?.rackId ?? "" },
    ],
    columns: (n) => [
      col("NAME", (r) => r.name),
      col("SERIAL", (r) => r.serialNumber),
      col("STATUS", (r) => BaremetalStatus[r.status]),
      col("GROUP", (r) => ref(n, r.groupId)),
      col("RACK", (r) => ref(n, r.placement?.rackId ?? "")),
      col("U", (r) => (r.placement ? `${r.placement.firstPosition}+${r.placement.heightUnits}` : "")),
      col("CAPACITY", (r) => resources(r.capacity)),
    ],
    wide: () => [col("FREE", (r) => resources(r.free)), idColumn],
  }),
  kind({
    name: "hostgroups",
    aliases: ["hostgroup", "host-groups", "host-group", "baremetalgroups", "groups", "group"],
    schema: BaremetalGroupSchema,
    field: "group",
    listField: "groups",
    methods: standard(InventoryService, "BaremetalGroup", "BaremetalGroups"),
    nameField: "name",
    columns: () => [
      col("NAME", (r) => r.name),
      col("DIMENSION", (r) => BaremetalGroupDimension[r.dimension]),
      col("HOSTS", (r) => r.hostCount),
      col("CAPACITY", (r) => resources(r.capacity)),
      col("ALLOCATED", (r) => resources(r.allocated)),
    ],
    wide: () => [idColumn],
  }),
  kind({
    name: "tenants",
    aliases: ["tenant"],
    schema: TenantSchema,
    field: "tenant",
    listField: "tenants",
    methods: standard(TenantService, "Tenant", "Tenants"),
    nameField: "name",
    columns: () => [
      col("NAME", (r) => r.name),
      col("KIND", (r) => TenantKind[r.kind]),
      col("DISABLED", (r) => (r.disabled ? "yes" : "no")),
      col("DESCRIPTION", (r) => r.description),
    ],
    wide: () => [idColumn, created],
  }),
  kind({
    name: "quotas",
    aliases: ["quota"],
    schema: BaremetalGroupTenantQuotaSchema,
    field: "quota",
    listField: "quotas",
    methods: standard(TenantService, "BaremetalGroupTenantQuota", "BaremetalGroupTenantQuotas"),
    scope: { flag: "tenant", kind: "tenants", filterField: "tenant_id" },
    refs: [
      { kind: "tenants", id: (r) => r.tenantId },
      { kind: "hostgroups", id: (r) => r.groupId },
    ],
    columns: (n) => [
      col("TENANT", (r) => ref(n, r.tenantId)),
      col("GROUP", (r) => ref(n, r.groupId)),
      col("CPU", (r) => quotaLimit(r.cpu)),
      col("MEMORY_MIB", (r) => quotaLimit(r.memoryMib)),
      col("STORAGE_GIB", (r) => quotaLimit(r.storageGib)),
    ],
    wide: () => [idColumn],
  }),
  kind({
    name: "specifications",
    aliases: ["specification", "specs", "spec"],
    schema: VirtualMachineSpecificationSchema,
    field: "specification",
    listField: "specifications",
    methods: standard(ComputeService, "VirtualMachineSpecification", "VirtualMachineSpecifications"),
    nameField: "name",
    columns: () => [
      col("NAME", (r) => r.name),
      col("VCPU", (r) => r.vcpu),
      col("MEMORY_MIB", (r) => r.memoryMib),
      col("STORAGE_GIB", (r) => r.storageGib),
      col("GENERATION", (r) => r.generation),
      col("DEPRECATED", (r) => (r.deprecated ? "yes" : "no")),
    ],
    wide: () => [idColumn],
  }),
  kind({
    name: "images",
    aliases: ["image"],
    schema: ImageSchema,
    field: "image",
    listField: "images",
    methods: standard(ComputeService, "Image", "Images"),
    nameField: "name",
    columns: () => [
      col("NAME", (r) => r.name),
      col("OS", (r) => `${r.osFamily} ${r.osVersion}`.trim()),
      col("ARCH", (r) => Architecture[r.architecture]),
      col("STATUS", (r) => ImageStatus[r.status]),
    ],
    wide: () => [idColumn],
  }),
  kind({
    name: "vms",
    aliases: ["vm", "virtualmachines", "virtualmachine"],
    schema: VirtualMachineSchema,
    field: "virtualMachine",
    listField: "virtualMachines",
    methods: { ...standard(ComputeService, "VirtualMachine", "VirtualMachines"), update: undefined as unknown as string },
    nameField: "name",
    scope: { flag: "tenant", kind: "tenants", filterField: "tenant_id" },
    refs: [
      { kind: "tenants", id: (r) => r.tenantId },
      { kind: "hosts", id: (r) => r.baremetalId },
    ],
    columns: (n) => [
      col("NAME", (r) => r.name),
      col("TENANT", (r) => ref(n, r.tenantId)),
      col("STATE", (r) => VirtualMachineState[r.state]),
      col("HOST", (r) => ref(n, r.baremetalId)),
      col("RESOURCES", (r) => resources(r.resources)),
    ],
    wide: () => [col("IP", (r) => r.ipAddresses.join(",")), idColumn],
  }),
  kind({
    name: "operations",
    aliases: ["operation", "ops", "op"],
    schema: OperationSchema,
    field: "operation",
    listField: "operations",
    methods: { service: OperationService, list: "listOperations", get: "getOperation", delete: "cancelOperation" },
    columns: () => [
      idColumn,
      col("KIND", (r) => r.kind),
      col("RESOURCE", (r) => `${r.resourceType}/${shortId(r.resourceId)}`),
      col("STATE", (r) => OperationState[r.state]),
      col("PROGRESS", (r) => `${r.progressPercent}%`),
    ],
    wide: () => [col("MESSAGE", (r) => r.message), created],
  }),
  kind({
    name: "maintainers",
    aliases: ["maintainer"],
    schema: MaintainerSchema,
    field: "maintainer",
    listField: "maintainers",
    methods: standard(MaintainerService, "Maintainer", "Maintainers"),
    nameField: "name",
    columns: () => [
      col("NAME", (r) => r.name),
      col("ACCOUNT", (r) => r.account),
      col("EMAIL", (r) => r.email),
      col("STATUS", (r) => MaintainerStatus[r.status]),
    ],
    wide: () => [col("PHONE", (r) => r.phone), col("CHAT", (r) => r.chat), idColumn],
  }),
  kind({
    name: "maintainergroups",
    aliases: ["maintainergroup", "maintainer-groups", "maintainer-group"],
    schema: MaintainerGroupSchema,
    field: "group",
    listField: "groups",
    methods: standard(MaintainerService, "MaintainerGroup", "MaintainerGroups"),
    nameField: "name",
    refs: [{ kind: "maintainers", id: (r) => r.managerId }],
    columns: (n) => [col("NAME", (r) => r.name), col("MEMBERS", (r) => r.memberCount), col("MANAGER", (r) => ref(n, r.managerId))],
    wide: () => [idColumn],
  }),
  kind({
    name: "tokens",
    aliases: ["token"],
    schema: ApiTokenSchema,
    field: "token",
    listField: "tokens",
    methods: { service: IdentityService, list: "listTokens", create: "createToken", delete: "revokeToken" },
    columns: () => [
      idColumn,
      col("PRINCIPAL", (r) => r.principal),
      col("ROLE", (r) => Role[r.role]),
      col("EXPIRES", (r) => time(r.expireTime)),
      col("REVOKED", (r) => time(r.revokeTime)),
    ],
    wide: () => [col("TENANT", (r) => r.tenantId), col("PREFIX", (r) => r.secretPrefix), created],
  }),
  kind({
    name: "agents",
    aliases: ["agent"],
    schema: AgentSchema,
    field: "agent",
    listField: "agents",
    methods: { service: AgentService, list: "listAgents" },
    filter: false,
    columns: () => [
      col("PRINCIPAL", (r) => r.principal),
      col("CONNECTED", (r) => (r.connected ? "yes" : "no")),
      col("JOBS", (r) => `${r.jobsInFlight}/${r.maxConcurrentJobs}`),
      col("REPLICA", (r) => r.replica),
    ],
    wide: () => [idColumn, col("LAST_SEEN", (r) => time(r.lastSeenTime))],
  }),
  kind({
    name: "auditevents",
    aliases: ["auditevent", "audit-events", "audit"],
    schema: AuditEventSchema,
    field: "auditEvent",
    listField: "auditEvents",
    methods: { service: AuditService, list: "listAuditEvents" },
    columns: () => [
      col("TIME", (r) => time(r.time)),
      col("PRINCIPAL", (r) => r.principal),
      col("METHOD", (r) => r.method),
      col("RESOURCE", (r) => (r.resourceType ? `${r.resourceType}/${shortId(r.resourceId)}` : "")),
      col("RESULT", (r) => r.result),
    ],
    wide: () => [col("REASON", (r) => r.reason), idColumn],
  }),
  kind({
    name: "kubernetesversions",
    aliases: ["kubernetesversion", "kubernetes-versions", "k8sversions", "k8sversion"],
    schema: KubernetesVersionSchema,
    field: "version",
    listField: "versions",
    methods: standard(KubernetesService, "KubernetesVersion", "KubernetesVersions"),
    nameField: "version",
    columns: () => [
      col("VERSION", (r) => r.version),
      col("STATUS", (r) => KubernetesVersionStatus[r.status]),
      col("DESCRIPTION", (r) => r.description),
    ],
    wide: () => [idColumn],
  }),
  kind({
    name: "clustertemplates",
    aliases: ["clustertemplate", "cluster-templates", "templates"],
    schema: KubernetesClusterTemplateSchema,
    field: "template",
    listField: "templates",
    methods: standard(KubernetesService, "KubernetesClusterTemplate", "KubernetesClusterTemplates"),
    nameField: "name",
    columns: () => [
      col("NAME", (r) => r.name),
      col("VERSION", (r) => r.version),
      col("POOLS", (r) => r.nodePools.length),
      col("REVISION", (r) => r.revision),
    ],
    wide: () => [idColumn],
  }),
  kind({
    name: "clusters",
    aliases: ["cluster", "kubernetesclusters", "kubernetescluster", "k8sclusters", "k8scluster"],
    schema: KubernetesClusterSchema,
    field: "cluster",
    listField: "clusters",
    methods: { service: KubernetesService, list: "listKubernetesClusters", get: "getKubernetesCluster" },
    nameField: "name",
    scope: { flag: "tenant", kind: "tenants", filterField: "tenant_id" },
    refs: [{ kind: "tenants", id: (r) => r.tenantId }],
    partNames: (r) => r.nodePools.map((p: Row) => [p.id, p.name] as const),
    columns: (n) => [
      col("NAME", (r) => r.name),
      col("TENANT", (r) => ref(n, r.tenantId)),
      col("VERSION", (r) => r.version),
      col("STATUS", (r) => KubernetesClusterStatus[r.status]),
      col("POOLS", (r) => r.nodePools.map((p: Row) => `${p.name}x${p.nodeCount}`).join(",")),
      col("HEALTH", (r) => healthCell(r.health)),
    ],
    wide: () => [col("ENDPOINT", (r) => r.endpoint), idColumn, created],
  }),
  kind({
    name: "scalingevents",
    aliases: ["scalingevent", "scaling-events", "scaling-event", "nodepoolscalingevents"],
    schema: NodePoolScalingEventSchema,
    field: "event",
    listField: "events",
    methods: { service: KubernetesAddonService, list: "listNodePoolScalingEvents" },
    scope: { flag: "cluster", kind: "clusters", filterField: "cluster_id" },
    refs: [{ kind: "clusters", id: (r) => r.clusterId }],
    columns: (n) => [
      col("TIME", (r) => time(r.createTime)),
      col("CLUSTER", (r) => ref(n, r.clusterId)),
      col("POOL", (r) => ref(n, r.nodePoolId)),
      col("NODES", scalingChange),
      col("REASON", (r) => NodePoolScalingReason[r.reason]),
      col("PODS", (r) => r.unschedulablePodCount),
      col("REMOVED", (r) => r.removedNodeIds.length),
      col("OUTCOME", (r) =>
        r.outcome === NodePoolScalingOutcome.REFUSED ? `REFUSED ${r.refusedReason}` : NodePoolScalingOutcome[r.outcome],
      ),
    ],
    wide: () => [
      col("OBSERVED", (r) => time(r.observeTime)),
      col("OPERATION", (r) => r.operationId),
      col("MESSAGE", (r) => r.message),
      idColumn,
    ],
  }),
];

export function findKind(word: string): Kind | undefined {
  const w = word.toLowerCase();
  return kinds.find((k) => k.name === w || k.aliases.includes(w));
}
