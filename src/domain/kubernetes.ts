// Kubernetes clusters (K8S-1..7): the pure rules. Versions and Kubernetes' skew policy, the shape
// of a cluster (control plane, pools, network, storage classes) and its validation, templates with
// overrides, what a cluster's nodes ask of quota, and the status state machine. The rolling-upgrade
// planner is in rolling-upgrade.ts, CIDR arithmetic in cidr.ts. docs/kubernetes.md explains why.
import { cidrSize, cidrsOverlap, parseCidr, type Cidr } from "./cidr.js";
import { FailedPreconditionError, InvalidArgumentError, type FieldViolation } from "./errors.js";
import type { Resources } from "./hosts.js";
import type { Principal } from "./principal.js";

export const kubernetesVersionStatuses = ["SUPPORTED", "DEPRECATED", "UNSUPPORTED"] as const;
export type KubernetesVersionStatus = (typeof kubernetesVersionStatuses)[number];

export const kubernetesClusterStatuses = [
  "PROVISIONING",
  "ACTIVE",
  "UPDATING",
  "MAINTENANCE",
  "OFFLINE",
  "ERROR",
  "DELETING",
  "DELETED",
] as const;
export type KubernetesClusterStatus = (typeof kubernetesClusterStatuses)[number];

export const kubernetesCnis = ["CILIUM", "CALICO", "FLANNEL"] as const;
export type KubernetesCni = (typeof kubernetesCnis)[number];

export const storageProvisioners = ["CEPH_RBD", "CEPHFS", "NFS", "LOCAL_PATH"] as const;
export type StorageProvisioner = (typeof storageProvisioners)[number];

export const taintEffects = ["NO_SCHEDULE", "PREFER_NO_SCHEDULE", "NO_EXECUTE"] as const;
export type TaintEffect = (typeof taintEffects)[number];

/** An odd count keeps etcd's quorum through the loss of (count - 1) / 2 members. */
export const controlPlaneCounts: readonly number[] = [1, 3, 5];

// ---------------------------------------------------------------------------------------------
// Versions and the skew policy

export interface KubernetesVersionNumber {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** "1.31.4" → {1, 31, 4}; undefined for anything else (no "v", no pre-release suffix). */
export function parseKubernetesVersion(text: string): KubernetesVersionNumber | undefined {
  const match = /^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,4})$/.exec(text);
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

export function compareKubernetesVersions(a: KubernetesVersionNumber, b: KubernetesVersionNumber): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** A catalogue entry, as the rules need it. */
export interface CatalogueVersion {
  readonly version: string;
  readonly status: KubernetesVersionStatus;
}

/** Why a version cannot be used, as a stable reason and a message; undefined when it can. */
export interface VersionProblem {
  readonly reason: string;
  readonly message: string;
}

/** New clusters run only SUPPORTED catalogue versions. */
export function newClusterVersionProblem(requested: string, entry: CatalogueVersion | undefined): VersionProblem | undefined {
  if (!entry) return { reason: "KUBERNETES_VERSION_UNKNOWN", message: `Kubernetes version ${requested} is not in the catalogue` };
  if (entry.status !== "SUPPORTED") {
    return {
      reason: "KUBERNETES_VERSION_NOT_SUPPORTED",
      message: `Kubernetes version ${requested} is ${entry.status}; new clusters only run SUPPORTED versions`,
    };
  }
  return undefined;
}

/**
 * Kubernetes' version skew policy for an upgrade from `current` to `target`: never down, never to
 * the same version, never to an UNSUPPORTED or unknown one, and at most one minor version at a time
 * (the control plane may lead the kubelets by one minor during the roll); any patch within that.
 */
export function upgradePathProblem(current: string, targetText: string, target: CatalogueVersion | undefined): VersionProblem | undefined {
  if (!target) return { reason: "KUBERNETES_VERSION_UNKNOWN", message: `Kubernetes version ${targetText} is not in the catalogue` };
  if (target.status === "UNSUPPORTED") {
    return { reason: "KUBERNETES_VERSION_UNSUPPORTED", message: `Kubernetes version ${targetText} is UNSUPPORTED; upgrade to another` };
  }
  const from = parseKubernetesVersion(current);
  const to = parseKubernetesVersion(target.version);
  if (!from || !to) return { reason: "KUBERNETES_VERSION_UNKNOWN", message: `cannot compare ${current} with ${target.version}` };
  const order = compareKubernetesVersions(to, from);
  if (order === 0) return { reason: "KUBERNETES_VERSION_NOT_NEWER", message: `the cluster already runs ${current}` };
  if (order < 0) return { reason: "KUBERNETES_VERSION_DOWNGRADE", message: `cannot go down from ${current} to ${targetText}` };
  if (to.major !== from.major || to.minor - from.minor > 1) {
    return {
      reason: "KUBERNETES_VERSION_SKEW",
      message: `cannot go from ${current} to ${targetText} at once: upgrade one minor version at a time (to ${from.major}.${from.minor + 1}.x first)`,
    };
  }
  return undefined;
}

/** INVALID_ARGUMENT naming the field, when there is a problem. */
export function requireNoVersionProblem(problem: VersionProblem | undefined, field: string, version: string): void {
  if (!problem) return;
  throw new InvalidArgumentError(problem.reason, problem.message, [{ field, description: problem.message }], { version });
}

// ---------------------------------------------------------------------------------------------
// The shape of a cluster

export interface ControlPlaneSpec {
  readonly count: number;
  readonly groupId: string;
  readonly specificationId: string;
  readonly imageId: string;
}

export interface NodePoolAutoscaling {
  readonly minNodeCount: number;
  readonly maxNodeCount: number;
}

export interface UpgradeStrategy {
  readonly maxSurge: number;
  readonly maxUnavailable: number;
}

/** One extra node at a time and none down: the gentlest roll, as GKE's default. */
export const defaultUpgradeStrategy: UpgradeStrategy = { maxSurge: 1, maxUnavailable: 0 };

export interface Taint {
  readonly key: string;
  readonly value: string;
  readonly effect: TaintEffect;
}

export interface NodePoolSpec {
  readonly name: string;
  readonly groupId: string;
  readonly specificationId: string;
  readonly imageId: string;
  readonly nodeCount: number;
  readonly autoscaling: NodePoolAutoscaling | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
  readonly upgradeStrategy: UpgradeStrategy;
}

export interface NetworkSpec {
  readonly cni: KubernetesCni;
  readonly podCidr: string;
  readonly serviceCidr: string;
}

/** kubeadm's defaults. */
export const defaultNetwork: NetworkSpec = { cni: "CILIUM", podCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12" };

export interface StorageClassSpec {
  readonly name: string;
  readonly provisioner: StorageProvisioner;
  readonly parameters: Readonly<Record<string, string>>;
  readonly isDefault: boolean;
}

/** Everything a cluster is made of, complete and valid. */
export interface ClusterSpec {
  readonly version: string;
  readonly controlPlane: ControlPlaneSpec;
  readonly nodePools: readonly NodePoolSpec[];
  readonly network: NetworkSpec;
  readonly storageClasses: readonly StorageClassSpec[];
  readonly labels: Readonly<Record<string, string>>;
}

/** A pool as a template or an override gives it: only the name is needed (pools merge by name). */
export interface NodePoolDraft {
  readonly name: string;
  readonly groupId?: string | undefined;
  readonly specificationId?: string | undefined;
  readonly imageId?: string | undefined;
  readonly nodeCount?: number | undefined;
  readonly autoscaling?: NodePoolAutoscaling | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly taints?: readonly Taint[] | undefined;
  readonly upgradeStrategy?: UpgradeStrategy | undefined;
}

/** A cluster's settings with any part left out: a template, or a request's overrides of one.
 * Undefined means "not set" (the wire's zero values map to it). */
export interface ClusterSpecDraft {
  readonly version?: string | undefined;
  readonly controlPlane?: Partial<ControlPlaneSpec> | undefined;
  readonly nodePools?: readonly NodePoolDraft[] | undefined;
  readonly network?: Partial<NetworkSpec> | undefined;
  readonly storageClasses?: readonly StorageClassSpec[] | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

/**
 * A template with a request's overrides (K8S-1): every part the request sets wins. Scalars and the
 * control plane and network field by field; pools by name, field by field (labels key by key,
 * autoscaling, taints and strategy whole), new names added after the template's; storage classes
 * by name, whole, new names added — and a class the request marks default takes the default from
 * the template's; labels key by key.
 */
export function mergeClusterSpec(template: ClusterSpecDraft, overrides: ClusterSpecDraft): ClusterSpecDraft {
  return {
    version: overrides.version ?? template.version,
    controlPlane: { ...template.controlPlane, ...defined(overrides.controlPlane ?? {}) },
    nodePools: mergeByName(template.nodePools ?? [], overrides.nodePools ?? [], mergeNodePool),
    network: { ...template.network, ...defined(overrides.network ?? {}) },
    storageClasses: mergeStorageClasses(template.storageClasses ?? [], overrides.storageClasses ?? []),
    labels: { ...template.labels, ...overrides.labels },
  };
}

function mergeNodePool(base: NodePoolDraft, override: NodePoolDraft): NodePoolDraft {
  return { ...base, ...defined(override), labels: { ...base.labels, ...override.labels } };
}

function mergeStorageClasses(base: readonly StorageClassSpec[], overrides: readonly StorageClassSpec[]): StorageClassSpec[] {
  const newDefault = overrides.some((storageClass) => storageClass.isDefault);
  const kept = newDefault ? base.map((storageClass) => ({ ...storageClass, isDefault: false })) : base;
  return mergeByName(kept, overrides, (_, override) => override);
}

function mergeByName<T extends { readonly name: string }>(base: readonly T[], overrides: readonly T[], merge: (a: T, b: T) => T): T[] {
  const byName = new Map(overrides.map((item) => [item.name, item]));
  const merged = base.map((item) => {
    const override = byName.get(item.name);
    return override ? merge(item, override) : item;
  });
  const baseNames = new Set(base.map((item) => item.name));
  return [...merged, ...overrides.filter((item) => !baseNames.has(item.name))];
}

/** The object without its undefined properties, so a spread does not clear what it leaves out. */
function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// ---------------------------------------------------------------------------------------------
// Validation

/** A broken rule: the field path in the request, what is wrong, and the rule's stable reason. */
export interface SpecViolation extends FieldViolation {
  readonly reason: string;
}

/** INVALID_ARGUMENT with every violation as a field violation, and the first one's reason. */
export function requireNoViolations(violations: readonly SpecViolation[]): void {
  const first = violations[0];
  if (!first) return;
  const message = violations.map((violation) => `${violation.field}: ${violation.description}`).join("; ");
  throw new InvalidArgumentError(
    first.reason,
    message,
    violations.map(({ field, description }) => ({ field, description })),
  );
}

/**
 * The rules a template (or any partial spec) must keep for what it sets; `prefix` is the field path
 * of the spec in the request ("template", "cluster").
 */
export function draftViolations(draft: ClusterSpecDraft, prefix: string): SpecViolation[] {
  const violations: SpecViolation[] = [];
  const add = (field: string, reason: string, description: string) => violations.push({ field: `${prefix}.${field}`, reason, description });
  if (draft.version !== undefined && !parseKubernetesVersion(draft.version)) {
    add("version", "KUBERNETES_VERSION_INVALID", "must be MAJOR.MINOR.PATCH, e.g. 1.31.4");
  }
  const count = draft.controlPlane?.count;
  if (count !== undefined && !controlPlaneCounts.includes(count)) {
    add("control_plane.count", "CONTROL_PLANE_COUNT_INVALID", `must be 1, 3 or 5 (an odd count keeps etcd's quorum), not ${count}`);
  }
  for (const violation of networkViolations(draft.network ?? {}))
    add(`network.${violation.field}`, violation.reason, violation.description);
  const poolNames = new Set<string>();
  (draft.nodePools ?? []).forEach((pool, index) => {
    const at = `node_pools[${index}]`;
    if (pool.name === "") add(`${at}.name`, "NODE_POOL_NAME_REQUIRED", "every pool needs a name");
    else if (poolNames.has(pool.name)) add(`${at}.name`, "NODE_POOL_NAME_DUPLICATE", `another pool is named ${pool.name}`);
    poolNames.add(pool.name);
    for (const violation of nodePoolViolations(pool)) add(`${at}.${violation.field}`, violation.reason, violation.description);
  });
  for (const violation of storageClassViolations(draft.storageClasses ?? [])) {
    add(`storage_classes${violation.field}`, violation.reason, violation.description);
  }
  return violations;
}

/** Pod and service ranges: strict CIDRs of one family, big enough, and apart. Field paths are
 * relative to the network. */
export function networkViolations(network: Partial<NetworkSpec>): SpecViolation[] {
  const violations: SpecViolation[] = [];
  const parse = (field: "pod_cidr" | "service_cidr", text: string | undefined): Cidr | undefined => {
    if (text === undefined) return undefined;
    const cidr = parseCidr(text);
    if (!cidr) {
      violations.push({
        field,
        reason: "CIDR_INVALID",
        description: `${JSON.stringify(text)} is not a network in CIDR notation (e.g. 10.244.0.0/16)`,
      });
    }
    return cidr;
  };
  const pods = parse("pod_cidr", network.podCidr);
  const services = parse("service_cidr", network.serviceCidr);
  // Each node takes a /24 (IPv4) or a /64 (IPv6) of the pod range (kube-controller-manager's
  // default node mask), so the range must hold at least one of those.
  if (pods && pods.prefixLength > (pods.family === 4 ? 24 : 64)) {
    violations.push({
      field: "pod_cidr",
      reason: "CIDR_TOO_SMALL",
      description: `a pod range needs at least a /${pods.family === 4 ? 24 : 64} per node; ${network.podCidr} is smaller`,
    });
  }
  // kube-apiserver refuses a service range of more than 2^20 addresses.
  if (services && cidrSize(services) > 1n << 20n) {
    violations.push({
      field: "service_cidr",
      reason: "CIDR_TOO_LARGE",
      description: `a service range may hold at most 2^20 addresses (/${services.family === 4 ? 12 : 108}); ${network.serviceCidr} holds more`,
    });
  }
  if (pods && services && pods.family !== services.family) {
    violations.push({
      field: "service_cidr",
      reason: "CIDR_FAMILY_MISMATCH",
      description: "pod and service ranges must both be IPv4 or both IPv6",
    });
  } else if (pods && services && cidrsOverlap(pods, services)) {
    violations.push({
      field: "service_cidr",
      reason: "CIDR_OVERLAP",
      description: `${network.serviceCidr} overlaps the pod range ${network.podCidr}`,
    });
  }
  return violations;
}

/** Bounds, strategy and taints of one pool; field paths relative to the pool. */
export function nodePoolViolations(pool: NodePoolDraft): SpecViolation[] {
  const violations: SpecViolation[] = [];
  const { autoscaling, nodeCount, upgradeStrategy } = pool;
  if (autoscaling) {
    if (autoscaling.minNodeCount > autoscaling.maxNodeCount) {
      violations.push({
        field: "autoscaling",
        reason: "NODE_POOL_BOUNDS_INVALID",
        description: `min_node_count ${autoscaling.minNodeCount} exceeds max_node_count ${autoscaling.maxNodeCount}`,
      });
    } else if (nodeCount !== undefined && (nodeCount < autoscaling.minNodeCount || nodeCount > autoscaling.maxNodeCount)) {
      violations.push({
        field: "node_count",
        reason: "NODE_COUNT_OUT_OF_BOUNDS",
        description: `${nodeCount} is outside the autoscaling bounds ${autoscaling.minNodeCount}..${autoscaling.maxNodeCount}`,
      });
    }
  }
  if (upgradeStrategy && upgradeStrategy.maxSurge === 0 && upgradeStrategy.maxUnavailable === 0) {
    violations.push({
      field: "upgrade_strategy",
      reason: "UPGRADE_STRATEGY_INVALID",
      description: "max_surge and max_unavailable must not both be zero: the upgrade could never take a node",
    });
  }
  const taints = new Set<string>();
  (pool.taints ?? []).forEach((taint, index) => {
    const key = `${taint.key}:${taint.effect}`;
    if (taints.has(key)) {
      violations.push({
        field: `taints[${index}]`,
        reason: "TAINT_DUPLICATE",
        description: `${taint.key} with effect ${taint.effect} is given twice`,
      });
    }
    taints.add(key);
  });
  return violations;
}

/** Names unique, at most one default; field paths are "[i].name" relative to the list. */
export function storageClassViolations(classes: readonly StorageClassSpec[]): SpecViolation[] {
  const violations: SpecViolation[] = [];
  const names = new Set<string>();
  let defaultName: string | undefined;
  classes.forEach((storageClass, index) => {
    if (names.has(storageClass.name)) {
      violations.push({
        field: `[${index}].name`,
        reason: "STORAGE_CLASS_NAME_DUPLICATE",
        description: `another class is named ${storageClass.name}`,
      });
    }
    names.add(storageClass.name);
    if (storageClass.isDefault) {
      if (defaultName !== undefined) {
        violations.push({
          field: `[${index}].is_default`,
          reason: "STORAGE_CLASS_DEFAULT_DUPLICATE",
          description: `${defaultName} is already the default class; at most one class is`,
        });
      }
      defaultName ??= storageClass.name;
    }
  });
  return violations;
}

/**
 * A merged draft made into a cluster: the required parts present (version, the whole control
 * plane, each pool's group, specification and image), defaults filled in (network, node counts 0,
 * upgrade strategy), every rule checked. Throws INVALID_ARGUMENT listing each violation.
 */
export function completeClusterSpec(draft: ClusterSpecDraft, prefix: string): ClusterSpec {
  const violations = draftViolations(draft, prefix);
  const missing = (field: string) =>
    violations.push({
      field: `${prefix}.${field}`,
      reason: "CLUSTER_SPEC_INCOMPLETE",
      description: "required (neither the request nor the template sets it)",
    });
  if (draft.version === undefined) missing("version");
  const controlPlane = draft.controlPlane ?? {};
  for (const [property, field] of [
    ["count", "count"],
    ["groupId", "group_id"],
    ["specificationId", "specification_id"],
    ["imageId", "image_id"],
  ] as const) {
    if (controlPlane[property] === undefined) missing(`control_plane.${field}`);
  }
  const pools = draft.nodePools ?? [];
  pools.forEach((pool, index) => {
    for (const [property, field] of [
      ["groupId", "group_id"],
      ["specificationId", "specification_id"],
      ["imageId", "image_id"],
    ] as const) {
      if (pool[property] === undefined) missing(`node_pools[${index}].${field}`);
    }
  });
  requireNoViolations(violations);
  const network = { ...defaultNetwork, ...defined(draft.network ?? {}) };
  // The defaults are IPv4: next to an IPv6 range the client gave, the other default would not fit.
  requireNoViolations(networkViolations(network).map((violation) => ({ ...violation, field: `${prefix}.network.${violation.field}` })));
  return {
    version: draft.version as string,
    controlPlane: controlPlane as ControlPlaneSpec,
    nodePools: pools.map((pool) => ({
      name: pool.name,
      groupId: pool.groupId as string,
      specificationId: pool.specificationId as string,
      imageId: pool.imageId as string,
      nodeCount: pool.nodeCount ?? 0,
      autoscaling: pool.autoscaling ?? null,
      labels: pool.labels ?? {},
      taints: pool.taints ?? [],
      upgradeStrategy: pool.upgradeStrategy ?? defaultUpgradeStrategy,
    })),
    network,
    storageClasses: draft.storageClasses ?? [],
    labels: draft.labels ?? {},
  };
}

// ---------------------------------------------------------------------------------------------
// Admission inputs

/** Identical nodes of one role (and pool) that admission reserves quota for as one line. */
export interface NodeDemand {
  readonly role: "CONTROL_PLANE" | "WORKER";
  /** The pool's name; null for the control plane. */
  readonly poolName: string | null;
  readonly groupId: string;
  readonly specificationId: string;
  readonly imageId: string;
  readonly count: number;
}

/** Every node VM a cluster needs: the control plane first, then each pool (empty pools left out). */
export function nodeDemands(spec: ClusterSpec): NodeDemand[] {
  const { controlPlane } = spec;
  const demands: NodeDemand[] = [{ role: "CONTROL_PLANE", poolName: null, ...controlPlane }];
  for (const pool of spec.nodePools) {
    if (pool.nodeCount === 0) continue;
    demands.push({
      role: "WORKER",
      poolName: pool.name,
      groupId: pool.groupId,
      specificationId: pool.specificationId,
      imageId: pool.imageId,
      count: pool.nodeCount,
    });
  }
  return demands;
}

/** What the demands take from each host group's quota, all or nothing (QUO-4). `sizeOf` gives a
 * specification's size; every specification named must be known to it. */
export function demandByGroup(demands: readonly NodeDemand[], sizeOf: (specificationId: string) => Resources): Map<string, Resources> {
  const totals = new Map<string, Resources>();
  for (const demand of demands) {
    const size = sizeOf(demand.specificationId);
    const total = totals.get(demand.groupId) ?? { cpuCores: 0, memoryMib: 0, storageGib: 0 };
    totals.set(demand.groupId, {
      cpuCores: total.cpuCores + size.cpuCores * demand.count,
      memoryMib: total.memoryMib + size.memoryMib * demand.count,
      storageGib: total.storageGib + size.storageGib * demand.count,
    });
  }
  return totals;
}

// ---------------------------------------------------------------------------------------------
// Status

/** Who marks a status: a platform admin by hand, or a provision agent reporting what it sees. */
export type StatusActor = "ADMIN" | "AGENT";

/**
 * Which status each actor may mark, from which statuses (K8S-2). Admins take a cluster out of
 * service and back, also out of ERROR once repaired; they never touch one a workflow owns
 * (PROVISIONING, UPDATING, DELETING). Agents report a fault and the recovery from it; an admin's
 * MAINTENANCE or OFFLINE stands until an admin lifts it, whatever an agent reports meanwhile.
 */
export const statusMarks: Readonly<Record<StatusActor, Partial<Record<KubernetesClusterStatus, readonly KubernetesClusterStatus[]>>>> = {
  ADMIN: {
    MAINTENANCE: ["ACTIVE", "MAINTENANCE", "OFFLINE", "ERROR"],
    OFFLINE: ["ACTIVE", "MAINTENANCE", "OFFLINE", "ERROR"],
    ACTIVE: ["MAINTENANCE", "OFFLINE", "ERROR"],
  },
  AGENT: {
    ERROR: ["PROVISIONING", "ACTIVE", "UPDATING", "ERROR"],
    ACTIVE: ["ERROR"],
  },
};

/** Refuses a mark the actor may not make from the cluster's status; a reason is required for every
 * mark but ACTIVE. */
export function requireStatusMark(
  actor: StatusActor,
  cluster: { readonly id: string; readonly status: KubernetesClusterStatus },
  to: KubernetesClusterStatus,
  reason: string,
): void {
  const marks = statusMarks[actor];
  const from = marks[to];
  if (!from) {
    const allowed = Object.keys(marks).join(", ");
    throw new InvalidArgumentError("STATUS_NOT_MARKABLE", `${actorName(actor)} may mark ${allowed}, not ${to}`, [
      { field: "status", description: `one of ${allowed}` },
    ]);
  }
  if (!from.includes(cluster.status)) {
    throw new FailedPreconditionError(
      "INVALID_STATE",
      `${actorName(actor)} cannot mark cluster ${cluster.id} ${to}: it is ${cluster.status} (allowed from ${from.join(", ")})`,
      { cluster_id: cluster.id, status: cluster.status, allowed_statuses: from.join(",") },
    );
  }
  if (to !== "ACTIVE" && reason.trim() === "") {
    throw new InvalidArgumentError("STATUS_REASON_REQUIRED", `say why the cluster is ${to}`, [
      { field: "reason", description: `required when marking ${to}` },
    ]);
  }
}

function actorName(actor: StatusActor): string {
  return actor === "ADMIN" ? "an admin" : "an agent";
}

/** The lifecycle verbs, the statuses each may start from, and the status while it runs. */
export const clusterVerbs = {
  SCALE: { from: ["ACTIVE"], during: "UPDATING" },
  UPGRADE: { from: ["ACTIVE"], during: "UPDATING" },
  DELETE: { from: ["ACTIVE", "MAINTENANCE", "OFFLINE", "ERROR"], during: "DELETING" },
} as const satisfies Record<string, { from: readonly KubernetesClusterStatus[]; during: KubernetesClusterStatus }>;
export type ClusterVerb = keyof typeof clusterVerbs;

/** Statuses an admin set that stop every scale and upgrade. */
export const markedStatuses: readonly KubernetesClusterStatus[] = ["MAINTENANCE", "OFFLINE"];

/**
 * Refuses a verb while another lifecycle operation runs (one per cluster, named in the error), on a
 * cluster an admin marked (for scale and upgrade), or from a status the verb does not start from.
 */
export function requireClusterVerb(
  cluster: { readonly id: string; readonly status: KubernetesClusterStatus; readonly activeOperationId?: string | null },
  verb: ClusterVerb,
): void {
  if (cluster.activeOperationId) {
    throw new FailedPreconditionError(
      "OPERATION_IN_PROGRESS",
      `cluster ${cluster.id} has operation ${cluster.activeOperationId} under way; wait for it or cancel it`,
      { cluster_id: cluster.id, operation_id: cluster.activeOperationId, status: cluster.status },
    );
  }
  const allowed: readonly KubernetesClusterStatus[] = clusterVerbs[verb].from;
  if (allowed.includes(cluster.status)) return;
  if (markedStatuses.includes(cluster.status)) {
    throw new FailedPreconditionError(
      "CLUSTER_MARKED",
      `cluster ${cluster.id} is marked ${cluster.status}: it takes no ${verb.toLowerCase()} until an admin marks it ACTIVE`,
      { cluster_id: cluster.id, status: cluster.status },
    );
  }
  throw new FailedPreconditionError(
    "INVALID_STATE",
    `cannot ${verb.toLowerCase()} cluster ${cluster.id}: it is ${cluster.status} (allowed from ${allowed.join(", ")})`,
    { cluster_id: cluster.id, status: cluster.status, allowed_statuses: allowed.join(",") },
  );
}

/** Where a verb's workflow leaves the cluster: done, or stopped at a failed step (which keeps every
 * reservation until the cluster is deleted or the step retried). */
export function statusAfter(verb: ClusterVerb, outcome: "SUCCEEDED" | "FAILED"): KubernetesClusterStatus {
  if (outcome === "FAILED") return "ERROR";
  return verb === "DELETE" ? "DELETED" : "ACTIVE";
}

// ---------------------------------------------------------------------------------------------
// Credentials (K8S-6)

/** Statuses a cluster's tenant may get a kubeconfig in; platform admins also get one for a marked
 * or failed cluster, to repair it. */
export function requireKubeconfigIssuable(
  cluster: { readonly id: string; readonly status: KubernetesClusterStatus; readonly endpoint: string },
  principal: Principal,
): void {
  const allowed: readonly KubernetesClusterStatus[] =
    principal.role === "PLATFORM_ADMIN" ? ["ACTIVE", "UPDATING", "MAINTENANCE", "OFFLINE", "ERROR"] : ["ACTIVE", "UPDATING"];
  if (!allowed.includes(cluster.status) || cluster.endpoint === "") {
    throw new FailedPreconditionError(
      "CLUSTER_NOT_READY",
      cluster.endpoint === ""
        ? `cluster ${cluster.id} has no API endpoint yet`
        : `cluster ${cluster.id} is ${cluster.status}; a kubeconfig is issued for ${allowed.join(", ")} clusters`,
      { cluster_id: cluster.id, status: cluster.status },
    );
  }
}

/** The Kubernetes groups (the certificate's O) a principal's role maps to; the cluster bootstrap
 * binds each to a ClusterRole (docs/kubernetes.md). */
export function kubernetesGroupsOf(principal: Principal): string[] {
  switch (principal.role) {
    case "PLATFORM_ADMIN":
      return ["rackplane:platform-admins"];
    case "TENANT_ADMIN":
      return ["rackplane:tenant-admins"];
    case "TENANT_MEMBER":
      return ["rackplane:tenant-members"];
    case "SERVICE":
      return ["rackplane:services"];
    case "AGENT":
      return [];
  }
}

/** Default and longest client-certificate lifetimes. */
export const kubeconfigTtl = { defaultMillis: 8 * 3600_000, maxMillis: 24 * 3600_000, minMillis: 60_000 } as const;
