// The Kubernetes catalogue end to end through KubernetesService on a real server over a real
// PostgreSQL database: versions (platform admins write, everyone but agents reads, deletion refused
// while in use) and cluster templates (platform-wide or a tenant's own, tenant isolation, the
// cluster rules on what a template sets, revisions).
import { randomUUID } from "node:crypto";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditService } from "../../gen/es/rackplane/v1/audit_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import {
  KubernetesCni,
  KubernetesService,
  KubernetesVersionStatus,
  StorageProvisioner,
  TaintEffect,
} from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { failure } from "../support/failure.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;
let cloud: Cloud;
let tenantA: string;
let tenantB: string;
let tokens: Record<"adminA" | "memberA" | "adminB" | "memberB" | "service" | "agent", string>;

beforeAll(async () => {
  t = await startTestServer();
  cloud = await buildCloud(t, { name: "k8s" });
  tenantA = await t.tenant("k8s-a");
  tenantB = await t.tenant("k8s-b");
  tokens = {
    adminA: await t.token(Role.TENANT_ADMIN, "alice", tenantA),
    memberA: await t.token(Role.TENANT_MEMBER, "anna", tenantA),
    adminB: await t.token(Role.TENANT_ADMIN, "bert", tenantB),
    memberB: await t.token(Role.TENANT_MEMBER, "bella", tenantB),
    service: await t.token(Role.SERVICE, "portal"),
    agent: await t.token(Role.AGENT, "agent-1"),
  };
});
afterAll(() => t?.close());

function as(secret: string = t.adminToken) {
  const transport = createGrpcTransport({
    baseUrl: t.url,
    interceptors: [bearer(secret)],
  });
  return { k8s: createClient(KubernetesService, transport), audit: createClient(AuditService, transport) };
}
const admin = () => as().k8s;

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;
let minor = 40;
/** A fresh version string, so tests do not collide on the unique key. */
const nextVersion = () => `1.${++minor}.0`;

async function newVersion(status = KubernetesVersionStatus.SUPPORTED, version = nextVersion()) {
  return (await admin().createKubernetesVersion({ version: { version, status } })).version!;
}

/** A complete template's settings on the test cloud's group, specification and image. */
function settings(version: string) {
  return {
    version,
    controlPlane: { count: 3, groupId: cloud.groupId, specificationId: cloud.specificationId, imageId: cloud.imageId },
    nodePools: [
      {
        name: "general",
        groupId: cloud.groupId,
        specificationId: cloud.specificationId,
        imageId: cloud.imageId,
        nodeCount: 3,
        autoscaling: { minNodeCount: 2, maxNodeCount: 6 },
        labels: { "example.com/tier": "general" },
        taints: [{ key: "dedicated", value: "general", effect: TaintEffect.NO_SCHEDULE }],
        upgradeStrategy: { maxSurge: 1, maxUnavailable: 1 },
      },
    ],
    network: { cni: KubernetesCni.CALICO, podCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12" },
    storageClasses: [
      {
        name: "ceph-block",
        provisioner: StorageProvisioner.CEPH_RBD,
        parameters: { pool: "k8s" } as Record<string, string>,
        isDefault: true,
      },
      { name: "nfs", provisioner: StorageProvisioner.NFS, parameters: {} as Record<string, string>, isDefault: false },
    ],
    labels: { env: "prod" },
  };
}

// ---------------------------------------------------------------------------------------------

describe("versions", () => {
  it("are created SUPPORTED by default, read back, filtered and audited", async () => {
    const version = nextVersion();
    const { version: created } = await admin().createKubernetesVersion({ version: { version, description: "first" } });
    expect(created).toMatchObject({ version, status: KubernetesVersionStatus.SUPPORTED, description: "first", etag: '"1"' });
    expect((await admin().getKubernetesVersion({ id: created!.id })).version).toEqual(created);
    const minorNumber = Number(version.split(".")[1]);
    const listed = await admin().listKubernetesVersions({
      filter: `minor = ${minorNumber} AND status = KUBERNETES_VERSION_STATUS_SUPPORTED`,
    });
    expect(listed.versions).toEqual([created]);
    const { auditEvents } = await as().audit.listAuditEvents({
      filter: `method = "rackplane.v1.KubernetesService/CreateKubernetesVersion" AND resource_id = "${created!.id}"`,
    });
    expect(auditEvents[0]).toMatchObject({ result: "OK", resourceType: "kubernetes_version", principal: expect.any(String) });
  });

  it("refuse a malformed or duplicate version, and answer a retried create with the first result", async () => {
    for (const bad of ["v1.31.4", "1.31", "1.31.4-rc.1"]) {
      expect(await failure(admin().createKubernetesVersion({ version: { version: bad } }))).toMatchObject({
        code: Code.InvalidArgument,
        fields: ["version.version"],
      });
    }
    const taken = await newVersion();
    expect(await failure(admin().createKubernetesVersion({ version: { version: taken.version } }))).toMatchObject({
      code: Code.AlreadyExists,
      reason: "ALREADY_EXISTS",
    });
    const request = { version: { version: nextVersion() }, requestId: randomUUID() };
    const first = await admin().createKubernetesVersion(request);
    expect((await admin().createKubernetesVersion(request)).version).toEqual(first.version);
  });

  it("change status and description through update_mask, never the version, and check the etag", async () => {
    const entry = await newVersion();
    const { version: updated } = await admin().updateKubernetesVersion({
      version: { id: entry.id, etag: entry.etag, status: KubernetesVersionStatus.DEPRECATED, version: "9.9.9" },
      updateMask: { paths: ["status"] },
    });
    expect(updated).toMatchObject({ version: entry.version, status: KubernetesVersionStatus.DEPRECATED, etag: '"2"' });
    expect(
      await failure(admin().updateKubernetesVersion({ version: { id: entry.id, version: "9.9.9" }, updateMask: { paths: ["version"] } })),
    ).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_UPDATE_MASK" });
    expect(
      await failure(
        admin().updateKubernetesVersion({
          version: { id: entry.id, etag: entry.etag, description: "x" },
          updateMask: { paths: ["description"] },
        }),
      ),
    ).toMatchObject({ code: Code.Aborted, reason: "ETAG_MISMATCH" });
    expect(await failure(admin().updateKubernetesVersion({ version: { id: entry.id }, updateMask: { paths: ["status"] } }))).toMatchObject({
      code: Code.InvalidArgument,
      fields: ["version.status"],
    });
  });

  it("are written by platform admins only and read by everyone but agents", async () => {
    const entry = await newVersion();
    for (const token of [tokens.adminA, tokens.service]) {
      expect(await failure(as(token).k8s.createKubernetesVersion({ version: { version: nextVersion() } }))).toMatchObject({
        code: Code.PermissionDenied,
        reason: "ROLE_NOT_ALLOWED",
      });
    }
    expect((await as(tokens.memberB).k8s.getKubernetesVersion({ id: entry.id })).version).toEqual(entry);
    expect(await failure(as(tokens.agent).k8s.listKubernetesVersions({}))).toMatchObject({ code: Code.PermissionDenied });
    expect(await failure(as(tokens.adminA).k8s.deleteKubernetesVersion({ id: entry.id }))).toMatchObject({ code: Code.PermissionDenied });
  });

  it("cannot be deleted while a template names them", async () => {
    const entry = await newVersion();
    const { template } = await admin().createKubernetesClusterTemplate({ template: { name: unique("uses"), version: entry.version } });
    expect(await failure(admin().deleteKubernetesVersion({ id: entry.id }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "HAS_DEPENDENTS",
      metadata: { kubernetes_cluster_templates: "1", kubernetes_clusters: "0" },
    });
    await admin().deleteKubernetesClusterTemplate({ id: template!.id });
    await admin().deleteKubernetesVersion({ id: entry.id, etag: entry.etag });
    expect(await failure(admin().getKubernetesVersion({ id: entry.id }))).toMatchObject({ code: Code.NotFound });
  });
});

// ---------------------------------------------------------------------------------------------

describe("templates", () => {
  it("keep a complete preset as given, at revision 1, and each update makes a new revision", async () => {
    const entry = await newVersion();
    const name = unique("standard");
    const { template } = await admin().createKubernetesClusterTemplate({
      template: { name, description: "three masters, one pool", ...settings(entry.version) },
    });
    expect(template).toMatchObject({ name, tenantId: "", revision: 1, etag: '"1"', ...settings(entry.version) });
    expect((await admin().getKubernetesClusterTemplate({ id: template!.id })).template).toEqual(template);

    const { template: updated } = await admin().updateKubernetesClusterTemplate({
      template: { id: template!.id, etag: template!.etag, network: { cni: KubernetesCni.CILIUM, podCidr: "10.200.0.0/16" } },
      updateMask: { paths: ["network"] },
    });
    expect(updated).toMatchObject({
      revision: 2,
      network: { cni: KubernetesCni.CILIUM, podCidr: "10.200.0.0/16", serviceCidr: "" },
      nodePools: template!.nodePools,
      storageClasses: template!.storageClasses,
    });
    // Clearing a part: a masked field left empty.
    const { template: cleared } = await admin().updateKubernetesClusterTemplate({
      template: { id: template!.id },
      updateMask: { paths: ["storage_classes", "labels"] },
    });
    expect(cleared).toMatchObject({ revision: 3, storageClasses: [], labels: {} });
  });

  it("may leave any part out", async () => {
    const { template } = await admin().createKubernetesClusterTemplate({
      template: { name: unique("bare"), network: { cni: KubernetesCni.FLANNEL } },
    });
    expect(template).toMatchObject({ version: "", nodePools: [], network: { cni: KubernetesCni.FLANNEL, podCidr: "" } });
    expect(template!.controlPlane).toBeUndefined();
  });

  it("refuse what breaks the cluster rules, naming the field and the rule", async () => {
    const entry = await newVersion();
    const base = settings(entry.version);
    const cases: [Record<string, unknown>, string, string][] = [
      [{ network: { podCidr: "10.96.0.0/16", serviceCidr: "10.96.0.0/12" } }, "template.network.service_cidr", "CIDR_OVERLAP"],
      [{ network: { podCidr: "10.244.0.0/25" } }, "template.network.pod_cidr", "CIDR_TOO_SMALL"],
      [
        { storageClasses: [base.storageClasses[0], { ...base.storageClasses[1], isDefault: true }] },
        "template.storage_classes[1].is_default",
        "STORAGE_CLASS_DEFAULT_DUPLICATE",
      ],
      [
        { storageClasses: [base.storageClasses[0], { ...base.storageClasses[1], name: "ceph-block" }] },
        "template.storage_classes[1].name",
        "STORAGE_CLASS_NAME_DUPLICATE",
      ],
      [{ nodePools: [{ ...base.nodePools[0], nodeCount: 9 }] }, "template.node_pools[0].node_count", "NODE_COUNT_OUT_OF_BOUNDS"],
      [{ nodePools: [base.nodePools[0], base.nodePools[0]] }, "template.node_pools[1].name", "NODE_POOL_NAME_DUPLICATE"],
      [{ nodePools: [{ ...base.nodePools[0], name: "" }] }, "template.node_pools[0].name", "NODE_POOL_NAME_REQUIRED"],
      [{ version: "1.99.0" }, "template.version", "KUBERNETES_VERSION_UNKNOWN"],
      [{ controlPlane: { ...base.controlPlane, groupId: randomUUID() } }, "template.control_plane.group_id", "REFERENCE_NOT_FOUND"],
      [{ nodePools: [{ ...base.nodePools[0], imageId: randomUUID() }] }, "template.node_pools[0].image_id", "REFERENCE_NOT_FOUND"],
    ];
    for (const [change, field, reason] of cases) {
      const refused = await failure(admin().createKubernetesClusterTemplate({ template: { name: unique("bad"), ...base, ...change } }));
      expect(refused, reason).toMatchObject({ code: Code.InvalidArgument, reason, fields: [field] });
    }
    // Rules the contract itself carries (protovalidate).
    const contract: [Record<string, unknown>, string][] = [
      [{ controlPlane: { ...base.controlPlane, count: 2 } }, "template.control_plane.count"],
      [{ network: { podCidr: "10.244.0.1/16" } }, "template.network.pod_cidr"],
      [
        { nodePools: [{ ...base.nodePools[0], upgradeStrategy: { maxSurge: 0, maxUnavailable: 0 } }] },
        "template.node_pools[0].upgrade_strategy",
      ],
      [{ nodePools: [{ ...base.nodePools[0], autoscaling: { minNodeCount: 5, maxNodeCount: 2 } }] }, "template.node_pools[0].autoscaling"],
      [{ nodePools: [{ ...base.nodePools[0], labels: { "bad key!": "x" } }] }, 'template.node_pools[0].labels["bad key!"]'],
      [
        { storageClasses: [{ ...base.storageClasses[0], provisioner: StorageProvisioner.UNSPECIFIED }] },
        "template.storage_classes[0].provisioner",
      ],
    ];
    for (const [change, field] of contract) {
      const refused = await failure(admin().createKubernetesClusterTemplate({ template: { name: unique("bad"), ...base, ...change } }));
      expect(refused, field).toMatchObject({ code: Code.InvalidArgument, reason: "VALIDATION_FAILED" });
      expect(refused.fields, field).toContain(field);
    }
    const { template } = await admin().createKubernetesClusterTemplate({ template: { name: unique("good"), ...base } });
    expect(
      await failure(
        admin().updateKubernetesClusterTemplate({
          template: { id: template!.id, network: { podCidr: "10.0.0.0/8", serviceCidr: "10.96.0.0/12" } },
          updateMask: { paths: ["network"] },
        }),
      ),
    ).toMatchObject({ reason: "CIDR_OVERLAP" });
    expect(
      await failure(
        admin().updateKubernetesClusterTemplate({
          template: { id: template!.id, tenantId: tenantA },
          updateMask: { paths: ["tenant_id"] },
        }),
      ),
    ).toMatchObject({
      reason: "INVALID_UPDATE_MASK",
    });
    expect((await admin().getKubernetesClusterTemplate({ id: template!.id })).template!.revision).toBe(1);
  });

  it("belong to their tenant: a tenant admin's is theirs, invisible to other tenants, and names are unique per owner", async () => {
    const name = unique("team");
    const { template: platform } = await admin().createKubernetesClusterTemplate({ template: { name } });
    const { template: own } = await as(tokens.adminA).k8s.createKubernetesClusterTemplate({ template: { name } });
    expect(own).toMatchObject({ name, tenantId: tenantA });
    expect(await failure(as(tokens.adminA).k8s.createKubernetesClusterTemplate({ template: { name } }))).toMatchObject({
      code: Code.AlreadyExists,
    });

    // Tenant A's members see the platform's and their own; tenant B's see only the platform's.
    const listA = await as(tokens.memberA).k8s.listKubernetesClusterTemplates({ filter: `name = "${name}"` });
    expect(listA.templates.map((template) => template.id).sort()).toEqual([platform!.id, own!.id].sort());
    const listB = await as(tokens.memberB).k8s.listKubernetesClusterTemplates({ filter: `name = "${name}"` });
    expect(listB.templates.map((template) => template.id)).toEqual([platform!.id]);
    for (const token of [tokens.memberB, tokens.adminB]) {
      expect(await failure(as(token).k8s.getKubernetesClusterTemplate({ id: own!.id }))).toMatchObject({
        code: Code.NotFound,
        reason: "RESOURCE_NOT_FOUND",
      });
    }
    expect(await failure(as(tokens.adminB).k8s.deleteKubernetesClusterTemplate({ id: own!.id }))).toMatchObject({ code: Code.NotFound });
    expect(
      await failure(
        as(tokens.adminB).k8s.updateKubernetesClusterTemplate({
          template: { id: own!.id, description: "x" },
          updateMask: { paths: ["description"] },
        }),
      ),
    ).toMatchObject({ code: Code.NotFound });
    // Services and platform admins see all of them.
    expect((await as(tokens.service).k8s.getKubernetesClusterTemplate({ id: own!.id })).template).toEqual(own);
  });

  it("are written by platform admins and a tenant's admins only, each within their own", async () => {
    const { template: platform } = await admin().createKubernetesClusterTemplate({ template: { name: unique("platform") } });
    expect(await failure(as(tokens.memberA).k8s.createKubernetesClusterTemplate({ template: { name: unique("m") } }))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "ROLE_NOT_ALLOWED",
    });
    expect(
      await failure(as(tokens.adminA).k8s.createKubernetesClusterTemplate({ template: { name: unique("x"), tenantId: tenantB } })),
    ).toMatchObject({ code: Code.PermissionDenied, reason: "TENANT_MISMATCH" });
    expect(
      await failure(
        as(tokens.adminA).k8s.updateKubernetesClusterTemplate({
          template: { id: platform!.id, description: "mine" },
          updateMask: { paths: ["description"] },
        }),
      ),
    ).toMatchObject({ code: Code.PermissionDenied, reason: "TEMPLATE_NOT_OWNED" });
    expect(await failure(as(tokens.adminA).k8s.deleteKubernetesClusterTemplate({ id: platform!.id }))).toMatchObject({
      reason: "TEMPLATE_NOT_OWNED",
    });
    expect(await failure(as(tokens.agent).k8s.listKubernetesClusterTemplates({}))).toMatchObject({ code: Code.PermissionDenied });
    // A platform admin keeps a tenant's template for it.
    const { template: forB } = await admin().createKubernetesClusterTemplate({ template: { name: unique("for-b"), tenantId: tenantB } });
    expect(forB!.tenantId).toBe(tenantB);
    expect(
      await failure(admin().createKubernetesClusterTemplate({ template: { name: unique("ghost"), tenantId: randomUUID() } })),
    ).toMatchObject({
      code: Code.NotFound,
    });
    const { template: own } = await as(tokens.adminA).k8s.createKubernetesClusterTemplate({ template: { name: unique("own") } });
    await as(tokens.adminA).k8s.deleteKubernetesClusterTemplate({ id: own!.id, etag: own!.etag });
    expect(await failure(admin().getKubernetesClusterTemplate({ id: own!.id }))).toMatchObject({ code: Code.NotFound });
  });

  it("of a disabled tenant cannot be changed by its admins, and go with their tenant when it is deleted", async () => {
    const tenant = await t.tenant(unique("short-lived"));
    const tenantAdmin = await t.token(Role.TENANT_ADMIN, unique("carol"), tenant);
    const { template } = await as(tenantAdmin).k8s.createKubernetesClusterTemplate({ template: { name: unique("t") } });
    const { tenants } = t.clients();
    await tenants.disableTenant({ id: tenant, reason: "unpaid" });
    expect(await failure(as(tenantAdmin).k8s.createKubernetesClusterTemplate({ template: { name: unique("t") } }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "TENANT_DISABLED",
    });
    await tenants.deleteTenant({ id: tenant });
    expect(await failure(admin().getKubernetesClusterTemplate({ id: template!.id }))).toMatchObject({ code: Code.NotFound });
  });

  it("read the same over Connect JSON, and as a GET", async () => {
    const entry = await newVersion();
    const { template } = await admin().createKubernetesClusterTemplate({ template: { name: unique("json"), ...settings(entry.version) } });
    const { status, body } = await t.json("KubernetesService/GetKubernetesClusterTemplate", { id: template!.id });
    expect(status).toBe(200);
    expect(body.template).toMatchObject({
      name: template!.name,
      version: entry.version,
      controlPlane: { count: 3 },
      network: { cni: "KUBERNETES_CNI_CALICO", podCidr: "10.244.0.0/16" },
      storageClasses: [
        { name: "ceph-block", provisioner: "STORAGE_PROVISIONER_CEPH_RBD", parameters: { pool: "k8s" }, isDefault: true },
        { name: "nfs" },
      ],
      revision: 1,
    });
    const message = encodeURIComponent(JSON.stringify({ id: entry.id }));
    const get = await fetch(`${t.url}/rackplane.v1.KubernetesService/GetKubernetesVersion?encoding=json&message=${message}`, {
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    expect(get.status).toBe(200);
    expect((await get.json()).version.version).toBe(entry.version);
  });
});
