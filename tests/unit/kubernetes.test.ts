// The pure rules of Kubernetes clusters: versions and the skew policy, CIDRs, the shape of a cluster
// and its validation, templates with overrides, admission inputs, the status state machine and the
// rolling-upgrade planner.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cidrSize, cidrsOverlap, formatCidr, parseCidr, type Cidr } from "../../src/domain/cidr.js";
import {
  completeClusterSpec,
  compareKubernetesVersions,
  demandByGroup,
  draftViolations,
  kubernetesClusterStatuses,
  kubernetesGroupsOf,
  mergeClusterSpec,
  networkViolations,
  newClusterVersionProblem,
  nodeDemands,
  parseKubernetesVersion,
  requireClusterVerb,
  requireKubeconfigIssuable,
  requireStatusMark,
  statusAfter,
  upgradePathProblem,
  type ClusterSpecDraft,
  type KubernetesClusterStatus,
  type KubernetesVersionStatus,
  type StatusActor,
} from "../../src/domain/kubernetes.js";
import type { Principal } from "../../src/domain/principal.js";
import { peakSurge, planRollingUpgrade, type UpgradeNode, type UpgradePool } from "../../src/domain/rolling-upgrade.js";

const uuid = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, "0")}`;

// ---------------------------------------------------------------------------------------------

describe("versions", () => {
  it("parse MAJOR.MINOR.PATCH and nothing else", () => {
    expect(parseKubernetesVersion("1.31.4")).toEqual({ major: 1, minor: 31, patch: 4 });
    for (const bad of ["v1.31.4", "1.31", "1.31.4-rc.1", "01.31.4", "1.31.4.1", "", " 1.31.4"]) {
      expect(parseKubernetesVersion(bad), bad).toBeUndefined();
    }
  });

  const version = fc.record({
    major: fc.integer({ min: 0, max: 3 }),
    minor: fc.integer({ min: 0, max: 40 }),
    patch: fc.integer({ min: 0, max: 20 }),
  });
  const text = (v: { major: number; minor: number; patch: number }) => `${v.major}.${v.minor}.${v.patch}`;

  it("compare as a total order that round-trips through text", () => {
    fc.assert(
      fc.property(version, version, (a, b) => {
        const parsedA = parseKubernetesVersion(text(a))!;
        const parsedB = parseKubernetesVersion(text(b))!;
        expect(parsedA).toEqual(a);
        // Antisymmetric: a < b exactly when b > a (summed, so that 0 and -0 agree).
        expect(Math.sign(compareKubernetesVersions(parsedA, parsedB)) + Math.sign(compareKubernetesVersions(parsedB, parsedA))).toBe(0);
        expect(compareKubernetesVersions(parsedA, parsedB) === 0).toBe(text(a) === text(b));
      }),
    );
  });

  it("allow an upgrade exactly when it goes up, by at most one minor, to a version that is not UNSUPPORTED", () => {
    const status = fc.constantFrom<KubernetesVersionStatus>("SUPPORTED", "DEPRECATED", "UNSUPPORTED");
    fc.assert(
      fc.property(version, version, status, (from, to, toStatus) => {
        const problem = upgradePathProblem(text(from), text(to), { version: text(to), status: toStatus });
        const up = compareKubernetesVersions(to, from) > 0;
        const withinOneMinor = to.major === from.major && to.minor - from.minor <= 1;
        expect(problem === undefined).toBe(up && withinOneMinor && toStatus !== "UNSUPPORTED");
      }),
    );
  });

  it.each([
    ["1.30.2", "1.31.4", "SUPPORTED", undefined],
    ["1.31.0", "1.31.9", "DEPRECATED", undefined],
    ["1.30.2", "1.32.0", "SUPPORTED", "KUBERNETES_VERSION_SKEW"],
    ["1.31.4", "2.0.0", "SUPPORTED", "KUBERNETES_VERSION_SKEW"],
    ["1.31.4", "1.31.3", "SUPPORTED", "KUBERNETES_VERSION_DOWNGRADE"],
    ["1.31.4", "1.30.9", "SUPPORTED", "KUBERNETES_VERSION_DOWNGRADE"],
    ["1.31.4", "1.31.4", "SUPPORTED", "KUBERNETES_VERSION_NOT_NEWER"],
    ["1.30.2", "1.31.4", "UNSUPPORTED", "KUBERNETES_VERSION_UNSUPPORTED"],
  ] as const)("%s → %s (%s): %s", (from, to, status, reason) => {
    expect(upgradePathProblem(from, to, { version: to, status })?.reason).toBe(reason);
  });

  it("refuse an upgrade to a version the catalogue does not have", () => {
    expect(upgradePathProblem("1.30.2", "1.31.4", undefined)?.reason).toBe("KUBERNETES_VERSION_UNKNOWN");
  });

  it("let new clusters use SUPPORTED versions only", () => {
    expect(newClusterVersionProblem("1.31.4", { version: "1.31.4", status: "SUPPORTED" })).toBeUndefined();
    expect(newClusterVersionProblem("1.30.1", { version: "1.30.1", status: "DEPRECATED" })?.reason).toBe(
      "KUBERNETES_VERSION_NOT_SUPPORTED",
    );
    expect(newClusterVersionProblem("1.29.0", { version: "1.29.0", status: "UNSUPPORTED" })?.reason).toBe(
      "KUBERNETES_VERSION_NOT_SUPPORTED",
    );
    expect(newClusterVersionProblem("1.99.0", undefined)?.reason).toBe("KUBERNETES_VERSION_UNKNOWN");
  });
});

// ---------------------------------------------------------------------------------------------

describe("CIDRs", () => {
  it("parse strict IPv4 and IPv6 networks", () => {
    expect(parseCidr("10.244.0.0/16")).toEqual({ family: 4, network: 0x0af40000n, prefixLength: 16 });
    expect(parseCidr("0.0.0.0/0")).toEqual({ family: 4, network: 0n, prefixLength: 0 });
    expect(parseCidr("fd00:10:96::/112")).toMatchObject({ family: 6, prefixLength: 112 });
    expect(parseCidr("::/0")).toEqual({ family: 6, network: 0n, prefixLength: 0 });
    expect(formatCidr(parseCidr("fd00:0:0:0:0:0:0:0/8")!)).toBe("fd00::/8");
    for (const bad of [
      "10.244.0.1/16", // host bits set
      "10.244.0.0",
      "10.244.0.0/33",
      "10.244.0/16",
      "256.0.0.0/8",
      "010.0.0.0/8",
      "10.0.0.0/08",
      "10.0.0.0/16/2",
      "fd00::1/64",
      "fd00:::/64",
      "fd00::10::/64",
      "1:2:3:4:5:6:7:8:9/128",
      "fd00::/129",
      "g::/16",
      "",
    ]) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });

  const ipv4 = fc
    .record({ address: fc.integer({ min: 0, max: 2 ** 32 - 1 }), prefixLength: fc.integer({ min: 0, max: 32 }) })
    .map(({ address, prefixLength }): Cidr => {
      const host = (1n << BigInt(32 - prefixLength)) - 1n;
      return { family: 4, network: BigInt(address) & ~host & 0xffffffffn, prefixLength };
    });
  const ipv6 = fc
    .record({ address: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), prefixLength: fc.integer({ min: 0, max: 128 }) })
    .map(({ address, prefixLength }): Cidr => {
      const host = (1n << BigInt(128 - prefixLength)) - 1n;
      return { family: 6, network: address & ~host, prefixLength };
    });

  it("round-trip through text", () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6), (cidr) => {
        expect(parseCidr(formatCidr(cidr))).toEqual(cidr);
      }),
    );
  });

  it("overlap exactly when their address intervals intersect", () => {
    const pair = fc.oneof(fc.tuple(ipv4, ipv4), fc.tuple(ipv6, ipv6));
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const intersect = a.network < b.network + cidrSize(b) && b.network < a.network + cidrSize(a);
        expect(cidrsOverlap(a, b)).toBe(intersect);
        expect(cidrsOverlap(b, a)).toBe(intersect);
      }),
    );
    expect(cidrsOverlap(parseCidr("10.0.0.0/8")!, parseCidr("::/0")!)).toBe(false);
  });

  it("make a network valid only when both ranges parse, fit, share a family and stay apart", () => {
    const reasons = (podCidr: string, serviceCidr: string) =>
      networkViolations({ podCidr, serviceCidr }).map((v) => `${v.field}:${v.reason}`);
    expect(reasons("10.244.0.0/16", "10.96.0.0/12")).toEqual([]);
    expect(reasons("fd00:10:244::/56", "fd00:10:96::/112")).toEqual([]);
    expect(reasons("10.0.0.0/8", "10.96.0.0/12")).toEqual(["service_cidr:CIDR_OVERLAP"]);
    expect(reasons("10.96.0.0/16", "10.96.0.0/12")).toEqual(["service_cidr:CIDR_OVERLAP"]);
    expect(reasons("10.244.0.1/16", "10.96.0.0/12")).toEqual(["pod_cidr:CIDR_INVALID"]);
    expect(reasons("10.244.0.0/25", "10.96.0.0/12")).toEqual(["pod_cidr:CIDR_TOO_SMALL"]);
    expect(reasons("10.244.0.0/16", "10.0.0.0/11")).toEqual(["service_cidr:CIDR_TOO_LARGE"]);
    expect(reasons("fd00:10:244::/56", "10.96.0.0/12")).toEqual(["service_cidr:CIDR_FAMILY_MISMATCH"]);
    expect(reasons("fd00:10:244::/56", "fd00:10:96::/100")).toEqual(["service_cidr:CIDR_TOO_LARGE"]);
  });
});

// ---------------------------------------------------------------------------------------------

const group = uuid(1);
const spec = uuid(2);
const image = uuid(3);
const controlPlane = { count: 3, groupId: group, specificationId: spec, imageId: image };

describe("cluster spec", () => {
  it("completes a custom spec with kubeadm's network, a gentle strategy and no storage classes", () => {
    const complete = completeClusterSpec(
      {
        version: "1.31.4",
        controlPlane,
        nodePools: [{ name: "workers", groupId: group, specificationId: spec, imageId: image, nodeCount: 3 }],
      },
      "cluster",
    );
    expect(complete).toEqual({
      version: "1.31.4",
      controlPlane,
      nodePools: [
        {
          name: "workers",
          groupId: group,
          specificationId: spec,
          imageId: image,
          nodeCount: 3,
          autoscaling: null,
          labels: {},
          taints: [],
          upgradeStrategy: { maxSurge: 1, maxUnavailable: 0 },
        },
      ],
      network: { cni: "CILIUM", podCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12" },
      storageClasses: [],
      labels: {},
    });
  });

  it("names every missing part by its field path", () => {
    const error = catchError(() =>
      completeClusterSpec({ controlPlane: { count: 1 }, nodePools: [{ name: "a", groupId: group }] }, "cluster"),
    );
    expect(error).toMatchObject({ code: "INVALID_ARGUMENT", reason: "CLUSTER_SPEC_INCOMPLETE" });
    expect((error as { violations: { field: string }[] }).violations.map((v) => v.field)).toEqual([
      "cluster.version",
      "cluster.control_plane.group_id",
      "cluster.control_plane.specification_id",
      "cluster.control_plane.image_id",
      "cluster.node_pools[0].specification_id",
      "cluster.node_pools[0].image_id",
    ]);
  });

  it.each([
    [{ controlPlane: { count: 2 } }, "template.control_plane.count", "CONTROL_PLANE_COUNT_INVALID"],
    [{ controlPlane: { count: 4 } }, "template.control_plane.count", "CONTROL_PLANE_COUNT_INVALID"],
    [
      { nodePools: [{ name: "a", nodeCount: 5, autoscaling: { minNodeCount: 1, maxNodeCount: 3 } }] },
      "template.node_pools[0].node_count",
      "NODE_COUNT_OUT_OF_BOUNDS",
    ],
    [
      { nodePools: [{ name: "a", nodeCount: 0, autoscaling: { minNodeCount: 1, maxNodeCount: 3 } }] },
      "template.node_pools[0].node_count",
      "NODE_COUNT_OUT_OF_BOUNDS",
    ],
    [
      { nodePools: [{ name: "a", autoscaling: { minNodeCount: 4, maxNodeCount: 3 } }] },
      "template.node_pools[0].autoscaling",
      "NODE_POOL_BOUNDS_INVALID",
    ],
    [
      { nodePools: [{ name: "a", upgradeStrategy: { maxSurge: 0, maxUnavailable: 0 } }] },
      "template.node_pools[0].upgrade_strategy",
      "UPGRADE_STRATEGY_INVALID",
    ],
    [{ nodePools: [{ name: "a" }, { name: "a" }] }, "template.node_pools[1].name", "NODE_POOL_NAME_DUPLICATE"],
    [{ nodePools: [{ name: "" }] }, "template.node_pools[0].name", "NODE_POOL_NAME_REQUIRED"],
    [
      {
        nodePools: [
          {
            name: "a",
            taints: [
              { key: "gpu", value: "", effect: "NO_SCHEDULE" },
              { key: "gpu", value: "x", effect: "NO_SCHEDULE" },
            ],
          },
        ],
      },
      "template.node_pools[0].taints[1]",
      "TAINT_DUPLICATE",
    ],
    [
      {
        storageClasses: [
          { name: "ceph", provisioner: "CEPH_RBD", parameters: {}, isDefault: true },
          { name: "ceph", provisioner: "NFS", parameters: {}, isDefault: false },
        ],
      },
      "template.storage_classes[1].name",
      "STORAGE_CLASS_NAME_DUPLICATE",
    ],
    [
      {
        storageClasses: [
          { name: "ceph", provisioner: "CEPH_RBD", parameters: {}, isDefault: true },
          { name: "nfs", provisioner: "NFS", parameters: {}, isDefault: true },
        ],
      },
      "template.storage_classes[1].is_default",
      "STORAGE_CLASS_DEFAULT_DUPLICATE",
    ],
    [{ network: { podCidr: "10.96.0.0/16", serviceCidr: "10.96.0.0/12" } }, "template.network.service_cidr", "CIDR_OVERLAP"],
    [{ version: "1.31" }, "template.version", "KUBERNETES_VERSION_INVALID"],
  ] as [ClusterSpecDraft, string, string][])("refuses %j at %s with %s", (draft, field, reason) => {
    expect(draftViolations(draft, "template")).toEqual([expect.objectContaining({ field, reason })]);
  });

  it("accepts a partial template that keeps every rule for what it sets", () => {
    expect(
      draftViolations(
        {
          controlPlane: { count: 5 },
          nodePools: [
            {
              name: "a",
              nodeCount: 2,
              autoscaling: { minNodeCount: 2, maxNodeCount: 2 },
              upgradeStrategy: { maxSurge: 0, maxUnavailable: 1 },
            },
          ],
          network: { podCidr: "10.244.0.0/16" },
          storageClasses: [{ name: "ceph", provisioner: "CEPH_RBD", parameters: {}, isDefault: true }],
        },
        "template",
      ),
    ).toEqual([]);
  });

  it("checks an IPv6 pod range against the IPv4 service default", () => {
    const error = catchError(() =>
      completeClusterSpec({ version: "1.31.4", controlPlane, network: { podCidr: "fd00:10:244::/56" } }, "cluster"),
    );
    expect(error).toMatchObject({ reason: "CIDR_FAMILY_MISMATCH" });
  });
});

describe("templates with overrides", () => {
  const template: ClusterSpecDraft = {
    version: "1.30.2",
    controlPlane: { count: 3, groupId: group, specificationId: spec, imageId: image },
    nodePools: [
      { name: "general", groupId: group, specificationId: spec, imageId: image, nodeCount: 3, labels: { tier: "general", zone: "a" } },
      { name: "gpu", groupId: group, specificationId: spec, imageId: image, nodeCount: 1 },
    ],
    network: { cni: "CALICO", podCidr: "10.244.0.0/16" },
    storageClasses: [
      { name: "ceph-block", provisioner: "CEPH_RBD", parameters: { pool: "k8s" }, isDefault: true },
      { name: "nfs", provisioner: "NFS", parameters: {}, isDefault: false },
    ],
    labels: { team: "platform", env: "prod" },
  };

  it("lets the request override any part, merging pools and classes by name", () => {
    const merged = mergeClusterSpec(template, {
      version: "1.31.4",
      controlPlane: { count: 5 },
      nodePools: [
        { name: "general", nodeCount: 6, labels: { zone: "b" } },
        { name: "batch", groupId: group, specificationId: spec, imageId: image, nodeCount: 2 },
      ],
      network: { serviceCidr: "10.112.0.0/12" },
      storageClasses: [{ name: "local", provisioner: "LOCAL_PATH", parameters: {}, isDefault: true }],
      labels: { env: "staging" },
    });
    expect(merged).toEqual({
      version: "1.31.4",
      controlPlane: { count: 5, groupId: group, specificationId: spec, imageId: image },
      nodePools: [
        { name: "general", groupId: group, specificationId: spec, imageId: image, nodeCount: 6, labels: { tier: "general", zone: "b" } },
        { name: "gpu", groupId: group, specificationId: spec, imageId: image, nodeCount: 1 },
        { name: "batch", groupId: group, specificationId: spec, imageId: image, nodeCount: 2 },
      ],
      network: { cni: "CALICO", podCidr: "10.244.0.0/16", serviceCidr: "10.112.0.0/12" },
      storageClasses: [
        { name: "ceph-block", provisioner: "CEPH_RBD", parameters: { pool: "k8s" }, isDefault: false },
        { name: "nfs", provisioner: "NFS", parameters: {}, isDefault: false },
        { name: "local", provisioner: "LOCAL_PATH", parameters: {}, isDefault: true },
      ],
      labels: { team: "platform", env: "staging" },
    });
    expect(draftViolations(merged, "cluster")).toEqual([]);
  });

  it("keeps the template whole when the request overrides nothing, and the request whole without a template", () => {
    const empty = mergeClusterSpec(template, {});
    expect(completeClusterSpec(empty, "cluster")).toEqual(completeClusterSpec(template, "cluster"));
    const custom: ClusterSpecDraft = { version: "1.31.4", controlPlane, nodePools: [], labels: {} };
    expect(completeClusterSpec(mergeClusterSpec({}, custom), "cluster")).toEqual(completeClusterSpec(custom, "cluster"));
  });

  it("never lets an override leave two pools of one name or two default classes", () => {
    const name = fc.constantFrom("a", "b", "c");
    const pools = fc.uniqueArray(fc.record({ name, nodeCount: fc.integer({ min: 0, max: 5 }) }), { selector: (p) => p.name, maxLength: 3 });
    const classes = fc
      .uniqueArray(fc.record({ name, isDefault: fc.boolean() }), { selector: (c) => c.name, maxLength: 3 })
      .filter((list) => list.filter((c) => c.isDefault).length <= 1)
      .map((list) => list.map((c) => ({ ...c, provisioner: "NFS" as const, parameters: {} })));
    fc.assert(
      fc.property(pools, pools, classes, classes, (basePools, overridePools, baseClasses, overrideClasses) => {
        const merged = mergeClusterSpec(
          { nodePools: basePools, storageClasses: baseClasses },
          { nodePools: overridePools, storageClasses: overrideClasses },
        );
        expect(draftViolations(merged, "cluster")).toEqual([]);
        expect(new Set(merged.nodePools!.map((p) => p.name))).toEqual(new Set([...basePools, ...overridePools].map((p) => p.name)));
      }),
    );
  });
});

describe("admission inputs", () => {
  it("lists every node VM and sums each group's demand", () => {
    const other = uuid(9);
    const small = uuid(20);
    const complete = completeClusterSpec(
      {
        version: "1.31.4",
        controlPlane: { count: 3, groupId: group, specificationId: spec, imageId: image },
        nodePools: [
          { name: "a", groupId: group, specificationId: small, imageId: image, nodeCount: 2 },
          { name: "b", groupId: other, specificationId: spec, imageId: image, nodeCount: 4 },
          { name: "empty", groupId: other, specificationId: spec, imageId: image, nodeCount: 0 },
        ],
      },
      "cluster",
    );
    const demands = nodeDemands(complete);
    expect(demands.map((d) => [d.role, d.poolName, d.count])).toEqual([
      ["CONTROL_PLANE", null, 3],
      ["WORKER", "a", 2],
      ["WORKER", "b", 4],
    ]);
    const sizes: Record<string, { cpuCores: number; memoryMib: number; storageGib: number }> = {
      [spec]: { cpuCores: 4, memoryMib: 8192, storageGib: 50 },
      [small]: { cpuCores: 2, memoryMib: 4096, storageGib: 20 },
    };
    expect(demandByGroup(demands, (id) => sizes[id]!)).toEqual(
      new Map([
        [group, { cpuCores: 16, memoryMib: 32768, storageGib: 190 }],
        [other, { cpuCores: 16, memoryMib: 32768, storageGib: 200 }],
      ]),
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe("status", () => {
  const cluster = (status: KubernetesClusterStatus, activeOperationId: string | null = null) => ({
    id: uuid(5),
    status,
    activeOperationId,
    endpoint: "https://k",
  });

  it("lets admins mark MAINTENANCE, OFFLINE and ACTIVE, and agents ERROR and recovery, from exactly these statuses", () => {
    const allowed: Record<StatusActor, string[]> = { ADMIN: [], AGENT: [] };
    for (const actor of ["ADMIN", "AGENT"] as const) {
      for (const from of kubernetesClusterStatuses) {
        for (const to of kubernetesClusterStatuses) {
          try {
            requireStatusMark(actor, cluster(from), to, "because");
            allowed[actor].push(`${from}→${to}`);
          } catch {}
        }
      }
    }
    expect(allowed.ADMIN.sort()).toEqual(
      [
        "ACTIVE→MAINTENANCE",
        "ACTIVE→OFFLINE",
        "MAINTENANCE→MAINTENANCE",
        "MAINTENANCE→OFFLINE",
        "MAINTENANCE→ACTIVE",
        "OFFLINE→MAINTENANCE",
        "OFFLINE→OFFLINE",
        "OFFLINE→ACTIVE",
        "ERROR→MAINTENANCE",
        "ERROR→OFFLINE",
        "ERROR→ACTIVE",
      ].sort(),
    );
    expect(allowed.AGENT.sort()).toEqual(["PROVISIONING→ERROR", "ACTIVE→ERROR", "UPDATING→ERROR", "ERROR→ERROR", "ERROR→ACTIVE"].sort());
  });

  it("says why a mark is refused", () => {
    expect(catchError(() => requireStatusMark("ADMIN", cluster("ACTIVE"), "ERROR", "x"))).toMatchObject({ reason: "STATUS_NOT_MARKABLE" });
    expect(catchError(() => requireStatusMark("ADMIN", cluster("PROVISIONING"), "MAINTENANCE", "x"))).toMatchObject({
      code: "FAILED_PRECONDITION",
      reason: "INVALID_STATE",
    });
    expect(catchError(() => requireStatusMark("AGENT", cluster("MAINTENANCE"), "ERROR", "disk"))).toMatchObject({
      reason: "INVALID_STATE",
    });
    expect(catchError(() => requireStatusMark("ADMIN", cluster("ACTIVE"), "MAINTENANCE", " "))).toMatchObject({
      reason: "STATUS_REASON_REQUIRED",
    });
    expect(() => requireStatusMark("ADMIN", cluster("MAINTENANCE"), "ACTIVE", "")).not.toThrow();
  });

  it("blocks scale and upgrade on a marked cluster, and every verb while an operation runs", () => {
    expect(() => requireClusterVerb(cluster("ACTIVE"), "UPGRADE")).not.toThrow();
    expect(() => requireClusterVerb(cluster("MAINTENANCE"), "DELETE")).not.toThrow();
    for (const status of ["MAINTENANCE", "OFFLINE"] as const) {
      for (const verb of ["SCALE", "UPGRADE"] as const) {
        expect(catchError(() => requireClusterVerb(cluster(status), verb))).toMatchObject({
          reason: "CLUSTER_MARKED",
          metadata: { status },
        });
      }
    }
    expect(catchError(() => requireClusterVerb(cluster("ERROR"), "SCALE"))).toMatchObject({ reason: "INVALID_STATE" });
    expect(catchError(() => requireClusterVerb(cluster("DELETED"), "DELETE"))).toMatchObject({ reason: "INVALID_STATE" });
    const operation = uuid(77);
    expect(catchError(() => requireClusterVerb(cluster("UPDATING", operation), "DELETE"))).toMatchObject({
      code: "FAILED_PRECONDITION",
      reason: "OPERATION_IN_PROGRESS",
      metadata: { operation_id: operation },
    });
    expect(statusAfter("UPGRADE", "SUCCEEDED")).toBe("ACTIVE");
    expect(statusAfter("DELETE", "SUCCEEDED")).toBe("DELETED");
    expect(statusAfter("SCALE", "FAILED")).toBe("ERROR");
  });

  it("issues kubeconfigs to tenants for serving clusters, and to platform admins also for marked or failed ones", () => {
    const member: Principal = { name: "m", role: "TENANT_MEMBER", tenantId: uuid(6), tokenId: "" };
    const admin: Principal = { name: "a", role: "PLATFORM_ADMIN", tenantId: undefined, tokenId: "" };
    expect(() => requireKubeconfigIssuable(cluster("ACTIVE"), member)).not.toThrow();
    expect(catchError(() => requireKubeconfigIssuable(cluster("MAINTENANCE"), member))).toMatchObject({ reason: "CLUSTER_NOT_READY" });
    expect(() => requireKubeconfigIssuable(cluster("MAINTENANCE"), admin)).not.toThrow();
    expect(catchError(() => requireKubeconfigIssuable({ ...cluster("ACTIVE"), endpoint: "" }, admin))).toMatchObject({
      reason: "CLUSTER_NOT_READY",
    });
    expect(kubernetesGroupsOf(member)).toEqual(["rackplane:tenant-members"]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("rolling-upgrade planner", () => {
  const node = (id: string, role: UpgradeNode["role"], poolId: string | null, version = "1.30.2"): UpgradeNode => ({
    id,
    role,
    poolId,
    version,
  });

  it("replaces the control plane first, one at a time, then each pool by its strategy", () => {
    const plan = planRollingUpgrade({
      targetVersion: "1.31.4",
      nodes: [
        node("w1", "WORKER", "p1"),
        node("cp1", "CONTROL_PLANE", null),
        node("cp2", "CONTROL_PLANE", null),
        node("cp3", "CONTROL_PLANE", null),
        node("w2", "WORKER", "p1"),
        node("w3", "WORKER", "p1"),
        node("v1", "WORKER", "p2"),
        node("v2", "WORKER", "p2"),
        node("v3", "WORKER", "p2"),
      ],
      pools: [
        { id: "p1", upgradeStrategy: { maxSurge: 1, maxUnavailable: 0 } },
        { id: "p2", upgradeStrategy: { maxSurge: 1, maxUnavailable: 1 } },
      ],
    });
    expect(plan).toEqual([
      { phase: "CONTROL_PLANE", poolId: null, nodeIds: ["cp1"], surge: 1, unavailable: 0 },
      { phase: "CONTROL_PLANE", poolId: null, nodeIds: ["cp2"], surge: 1, unavailable: 0 },
      { phase: "CONTROL_PLANE", poolId: null, nodeIds: ["cp3"], surge: 1, unavailable: 0 },
      { phase: "NODE_POOL", poolId: "p1", nodeIds: ["w1"], surge: 1, unavailable: 0 },
      { phase: "NODE_POOL", poolId: "p1", nodeIds: ["w2"], surge: 1, unavailable: 0 },
      { phase: "NODE_POOL", poolId: "p1", nodeIds: ["w3"], surge: 1, unavailable: 0 },
      { phase: "NODE_POOL", poolId: "p2", nodeIds: ["v1", "v2"], surge: 1, unavailable: 1 },
      { phase: "NODE_POOL", poolId: "p2", nodeIds: ["v3"], surge: 1, unavailable: 0 },
    ]);
    expect(peakSurge(plan)).toEqual(
      new Map([
        [null, 1],
        ["p1", 1],
        ["p2", 1],
      ]),
    );
  });

  it("upgrades the control plane in place when told, and takes nodes down without surge when the strategy says so", () => {
    const plan = planRollingUpgrade({
      targetVersion: "1.31.4",
      controlPlaneSurge: 0,
      nodes: [node("cp1", "CONTROL_PLANE", null), node("w1", "WORKER", "p"), node("w2", "WORKER", "p"), node("w3", "WORKER", "p")],
      pools: [{ id: "p", upgradeStrategy: { maxSurge: 0, maxUnavailable: 2 } }],
    });
    expect(plan.map((b) => [b.nodeIds, b.surge, b.unavailable])).toEqual([
      [["cp1"], 0, 1],
      [["w1", "w2"], 0, 2],
      [["w3"], 0, 1],
    ]);
  });

  it("skips nodes already on the target, so a restarted workflow resumes where it stopped", () => {
    const plan = planRollingUpgrade({
      targetVersion: "1.31.4",
      nodes: [node("cp1", "CONTROL_PLANE", null, "1.31.4"), node("w1", "WORKER", "p", "1.31.4"), node("w2", "WORKER", "p")],
      pools: [{ id: "p", upgradeStrategy: { maxSurge: 1, maxUnavailable: 0 } }],
    });
    expect(plan.map((b) => b.nodeIds)).toEqual([["w2"]]);
    expect(
      planRollingUpgrade({
        targetVersion: "1.30.2",
        nodes: [node("w1", "WORKER", "p")],
        pools: [{ id: "p", upgradeStrategy: { maxSurge: 1, maxUnavailable: 0 } }],
      }),
    ).toEqual([]);
  });

  it("refuses a strategy that could never take a node, and a worker of an unknown pool", () => {
    expect(
      catchError(() =>
        planRollingUpgrade({
          targetVersion: "1.31.4",
          nodes: [],
          pools: [{ id: "p", upgradeStrategy: { maxSurge: 0, maxUnavailable: 0 } }],
        }),
      ),
    ).toMatchObject({
      reason: "UPGRADE_STRATEGY_INVALID",
    });
    expect(() => planRollingUpgrade({ targetVersion: "1.31.4", nodes: [node("w", "WORKER", "ghost")], pools: [] })).toThrow(/ghost/);
  });

  const cluster = fc
    .record({
      controlPlane: fc.constantFrom(1, 3, 5),
      pools: fc.array(
        fc.record({
          count: fc.integer({ min: 0, max: 12 }),
          maxSurge: fc.integer({ min: 0, max: 4 }),
          maxUnavailable: fc.integer({ min: 0, max: 4 }),
          upgraded: fc.integer({ min: 0, max: 12 }),
        }),
        { maxLength: 4 },
      ),
      controlPlaneSurge: fc.constantFrom<0 | 1>(0, 1),
      shuffle: fc.integer(),
    })
    .filter(({ pools }) => pools.every((p) => p.maxSurge + p.maxUnavailable > 0))
    .map(({ controlPlane, pools, controlPlaneSurge, shuffle }) => {
      const nodes: UpgradeNode[] = [];
      for (let i = 0; i < controlPlane; i++) nodes.push(node(`cp${i}`, "CONTROL_PLANE", null));
      const upgradePools: UpgradePool[] = pools.map((p, index) => {
        for (let i = 0; i < p.count; i++) nodes.push(node(`p${index}-${i}`, "WORKER", `p${index}`, i < p.upgraded ? "1.31.4" : "1.30.9"));
        return { id: `p${index}`, upgradeStrategy: { maxSurge: p.maxSurge, maxUnavailable: p.maxUnavailable } };
      });
      // Node order must not matter for the guarantees.
      const rotated = nodes.map((_, i) => nodes[(i + Math.abs(shuffle)) % nodes.length]!);
      return { nodes: rotated, pools: upgradePools, controlPlaneSurge };
    });

  it("replaces every outdated node exactly once, control plane first and alone, pools in order, never more than max_unavailable down", () => {
    fc.assert(
      fc.property(cluster, ({ nodes, pools, controlPlaneSurge }) => {
        const plan = planRollingUpgrade({ nodes, pools, targetVersion: "1.31.4", controlPlaneSurge });
        const outdated = nodes.filter((n) => n.version !== "1.31.4").map((n) => n.id);
        const replaced = plan.flatMap((b) => b.nodeIds);
        expect([...replaced].sort()).toEqual([...outdated].sort());
        const byId = new Map(nodes.map((n) => [n.id, n]));
        const strategyOf = new Map(pools.map((p) => [p.id, p.upgradeStrategy]));
        let seenPool = false;
        const poolOrder: string[] = [];
        for (const batch of plan) {
          expect(batch.nodeIds.length).toBeGreaterThan(0);
          expect(batch.surge + batch.unavailable).toBe(batch.nodeIds.length);
          for (const id of batch.nodeIds) expect(byId.get(id)!.poolId).toBe(batch.poolId);
          if (batch.phase === "CONTROL_PLANE") {
            expect(seenPool).toBe(false);
            expect(batch.nodeIds).toHaveLength(1);
            expect(batch.unavailable).toBeLessThanOrEqual(1);
            continue;
          }
          seenPool = true;
          const strategy = strategyOf.get(batch.poolId!)!;
          expect(batch.unavailable).toBeLessThanOrEqual(strategy.maxUnavailable);
          expect(batch.surge).toBeLessThanOrEqual(strategy.maxSurge);
          if (poolOrder.at(-1) !== batch.poolId) poolOrder.push(batch.poolId!);
        }
        // Each pool's batches are contiguous and pools come in the order given.
        expect(poolOrder).toEqual(pools.map((p) => p.id).filter((id) => poolOrder.includes(id)));
        // Capacity simulated batch by batch: a pool never serves fewer than count - max_unavailable
        // nodes, and holds at most count + max_surge VMs (what quota must admit).
        for (const pool of pools) {
          const count = nodes.filter((n) => n.poolId === pool.id).length;
          for (const batch of plan.filter((b) => b.poolId === pool.id)) {
            expect(count - batch.unavailable).toBeGreaterThanOrEqual(count - pool.upgradeStrategy.maxUnavailable);
            expect(count + batch.surge).toBeLessThanOrEqual(count + pool.upgradeStrategy.maxSurge);
          }
        }
        // Planning again after every batch ran plans nothing.
        const upgraded = nodes.map((n) => ({ ...n, version: "1.31.4" }));
        expect(planRollingUpgrade({ nodes: upgraded, pools, targetVersion: "1.31.4" })).toEqual([]);
      }),
    );
  });
});

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}
