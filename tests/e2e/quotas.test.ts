// Tenant quotas and usage end to end (QUO-1..5): quotas per (tenant, host group), absolute or a
// percentage of the group's effective capacity; GetTenantUsage following the group as hosts join
// and leave and as its policy changes; limits lowered below use; who sees what. What placement does
// with the quota is another module's test: here *_used is set with SQL, as placement would.
import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditService } from "../../gen/es/rackplane/v1/audit_pb.js";
import { IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { TenantService, type BaremetalGroupTenantQuotaSchema, type GetTenantUsageResponse } from "../../gen/es/rackplane/v1/tenant_pb.js";
import { failure } from "../support/failure.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;
let rackId = "";
/** The next free unit of the rack. */
let nextUnit = 1;

beforeAll(async () => {
  t = await startTestServer();
  const { inventory } = admin();
  const { region } = await inventory.createRegion({ region: { name: "q-region" } });
  const { datacenter } = await inventory.createDatacenter({ datacenter: { name: "q-dc", regionId: region!.id } });
  const { room } = await inventory.createRoom({ room: { name: "q-room", datacenterId: datacenter!.id } });
  rackId = (await inventory.createRack({ rack: { name: "q-rack", roomId: room!.id, heightUnits: 60 } })).rack!.id;
});
afterAll(() => t?.close());

// ---------------------------------------------------------------------------------------------
// Helpers

function as(secret: string = t.adminToken) {
  const transport = createGrpcTransport({
    baseUrl: t.url,
    interceptors: [bearer(secret)],
  });
  return {
    tenants: createClient(TenantService, transport),
    inventory: createClient(InventoryService, transport),
    identity: createClient(IdentityService, transport),
    audit: createClient(AuditService, transport),
  };
}
const admin = () => as();

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

const newTenant = () => t.tenant(unique("tenant"));
async function newGroup(scheduling?: { cpuAllocationRatio?: number }) {
  return (await admin().inventory.createBaremetalGroup({ group: { name: unique("group"), scheduling } })).group!;
}
/** A 1U host in the group. */
async function newHost(groupId: string, cpuCores: number, memoryMib = 65536n, storageGib = 1000n) {
  const { baremetal } = await admin().inventory.createBaremetal({
    baremetal: {
      name: unique("host"),
      serialNumber: unique("SN"),
      capacity: { cpuCores, memoryMib, storageGib },
      placement: { rackId, firstPosition: nextUnit++, heightUnits: 1 },
      groupId,
    },
  });
  return baremetal!;
}

const absolute = (value: number | bigint) => ({ kind: { case: "absolute" as const, value: BigInt(value) } });
const percent = (value: number) => ({ kind: { case: "percent" as const, value } });

async function newQuota(
  tenantId: string,
  groupId: string,
  limits: Pick<MessageInitShape<typeof BaremetalGroupTenantQuotaSchema>, "cpu" | "memoryMib" | "storageGib"> = {},
) {
  const { quota } = await admin().tenants.createBaremetalGroupTenantQuota({
    quota: { tenantId, groupId, cpu: absolute(10), memoryMib: absolute(4096), storageGib: absolute(100), ...limits },
  });
  return quota!;
}

/** As placement would: what the tenant's VMs hold in the group. */
async function setUsed(quotaId: string, cpu: number, memoryMib: number, storageGib: number) {
  await t.server.db
    .em()
    .execute("update baremetal_group_tenant_quota set cpu_used = ?, memory_mib_used = ?, storage_gib_used = ? where id = ?", [
      cpu,
      memoryMib,
      storageGib,
      quotaId,
    ]);
}

const usage = async (tenantId: string) => admin().tenants.getTenantUsage({ tenantId });
const inGroup = (u: GetTenantUsageResponse, groupId: string) => u.groups.find((g) => g.groupId === groupId)!;
const numbers = (r: { limit: bigint; used: bigint; remaining: bigint } | undefined) => ({
  limit: Number(r!.limit),
  used: Number(r!.used),
  remaining: Number(r!.remaining),
});

async function lastAudit(method: string, resourceId: string) {
  const { auditEvents } = await admin().audit.listAuditEvents({
    filter: `method = "rackplane.v1.TenantService/${method}" AND resource_id = "${resourceId}"`,
  });
  return auditEvents[0];
}

// ---------------------------------------------------------------------------------------------

describe("creating quotas", () => {
  it("creates an absolute and a percent quota, each limit in its own kind, and reads them back", async () => {
    const tenantId = await newTenant();
    const group = await newGroup();
    const quota = await newQuota(tenantId, group.id, { cpu: absolute(64), memoryMib: percent(25), storageGib: percent(12.5) });
    expect(quota).toMatchObject({
      tenantId,
      groupId: group.id,
      cpu: { kind: { case: "absolute", value: 64n } },
      memoryMib: { kind: { case: "percent", value: 25 } },
      storageGib: { kind: { case: "percent", value: 12.5 } },
      updatedBy: "admin",
      etag: '"1"',
    });
    expect((await admin().tenants.getBaremetalGroupTenantQuota({ id: quota.id })).quota).toEqual(quota);
    // Stored in the *_absolute / *_percent columns, exactly one set per resource, nothing used.
    const [row] = await t.server.db.em().execute("select * from baremetal_group_tenant_quota where id = ?", [quota.id]);
    expect(row).toMatchObject({
      cpu_absolute: 64,
      cpu_percent: null,
      memory_mib_absolute: null,
      memory_mib_percent: 25,
      storage_gib_absolute: null,
      storage_gib_percent: 12.5,
      cpu_used: 0,
      memory_mib_used: 0,
      storage_gib_used: 0,
    });
    const event = await lastAudit("CreateBaremetalGroupTenantQuota", quota.id);
    expect(event).toMatchObject({ result: "OK", resourceType: "baremetal_group_tenant_quota", principal: "admin" });
    expect(event!.message).toContain("cpu 64, memory_mib 25%, storage_gib 12.5%");
  });

  it("keeps one quota per tenant and group, and refuses missing tenants and groups", async () => {
    const tenantId = await newTenant();
    const group = await newGroup();
    const first = await newQuota(tenantId, group.id);
    const again = await failure(newQuota(tenantId, group.id));
    expect(again).toMatchObject({ code: Code.AlreadyExists, reason: "ALREADY_EXISTS", metadata: { resource_id: first.id } });
    // The same tenant in another group, another tenant in the same group: fine.
    await newQuota(tenantId, (await newGroup()).id);
    await newQuota(await newTenant(), group.id);

    const missing = randomUUID();
    expect(await failure(newQuota(missing, group.id))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "tenant", resource_id: missing },
    });
    expect(await failure(newQuota(tenantId, missing))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "baremetal_group", resource_id: missing },
    });
  });

  it("refuses incomplete quotas, percentages outside 0–100 and amounts that do not fit", async () => {
    const tenantId = await newTenant();
    const group = await newGroup();
    const { tenants } = admin();
    const incomplete = await failure(
      tenants.createBaremetalGroupTenantQuota({ quota: { tenantId, groupId: group.id, cpu: absolute(1), memoryMib: absolute(1) } }),
    );
    expect(incomplete).toMatchObject({ code: Code.InvalidArgument, reason: "VALIDATION_FAILED" });
    expect(
      await failure(
        tenants.createBaremetalGroupTenantQuota({
          quota: { tenantId, groupId: group.id, cpu: {}, memoryMib: absolute(1), storageGib: absolute(1) },
        }),
      ),
    ).toMatchObject({
      code: Code.InvalidArgument,
    });
    expect(await failure(newQuota(tenantId, group.id, { cpu: percent(100.5) }))).toMatchObject({
      code: Code.InvalidArgument,
      fields: ["quota.cpu.percent"],
    });
    expect(await failure(newQuota(tenantId, group.id, { cpu: percent(-1) }))).toMatchObject({ code: Code.InvalidArgument });
    expect(await failure(newQuota(tenantId, group.id, { memoryMib: absolute(2n ** 63n) }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
      fields: ["quota.memory_mib.absolute"],
    });
    expect(await failure(newQuota("not-a-uuid", group.id))).toMatchObject({ code: Code.InvalidArgument, fields: ["quota.tenant_id"] });
    expect((await admin().tenants.listBaremetalGroupTenantQuotas({ filter: `tenant_id = "${tenantId}"` })).quotas).toEqual([]);
  });

  it("gives nothing new to a disabled tenant; its existing quotas can still be changed and removed", async () => {
    const tenantId = await newTenant();
    const [group, other] = [await newGroup(), await newGroup()];
    const held = await newQuota(tenantId, other.id);
    await admin().tenants.disableTenant({ id: tenantId, reason: "unpaid" });
    expect(await failure(newQuota(tenantId, group.id))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "TENANT_DISABLED",
      metadata: { tenant_id: tenantId },
    });
    await admin().tenants.updateBaremetalGroupTenantQuota({ quota: { id: held.id, cpu: absolute(0) }, updateMask: { paths: ["cpu"] } });
    await admin().tenants.deleteBaremetalGroupTenantQuota({ id: held.id });
    await admin().tenants.enableTenant({ id: tenantId });
    await newQuota(tenantId, group.id);
  });
});

describe("listing quotas", () => {
  it("filters on tenant_id and group_id and pages", async () => {
    const [a, b] = [await newTenant(), await newTenant()];
    const [g1, g2] = [await newGroup(), await newGroup()];
    const a1 = await newQuota(a, g1.id);
    const a2 = await newQuota(a, g2.id);
    const b1 = await newQuota(b, g1.id);
    const ids = async (filter: string) => (await admin().tenants.listBaremetalGroupTenantQuotas({ filter })).quotas.map((q) => q.id);
    expect(await ids(`tenant_id = "${a}"`)).toEqual([a1.id, a2.id]);
    expect(await ids(`group_id = "${g1.id}"`)).toEqual([a1.id, b1.id]);
    expect(await ids(`tenant_id = "${a}" AND group_id = "${g2.id}"`)).toEqual([a2.id]);
    expect(await ids(`tenant_id = "${b}" OR group_id = "${g2.id}"`)).toEqual([a2.id, b1.id]);
    const first = await admin().tenants.listBaremetalGroupTenantQuotas({ filter: `tenant_id = "${a}"`, pageSize: 1 });
    expect(first.quotas.map((q) => q.id)).toEqual([a1.id]);
    const second = await admin().tenants.listBaremetalGroupTenantQuotas({
      filter: `tenant_id = "${a}"`,
      pageSize: 1,
      pageToken: first.nextPageToken,
    });
    expect(second.quotas.map((q) => q.id)).toEqual([a2.id]);
    expect(await failure(admin().tenants.listBaremetalGroupTenantQuotas({ filter: 'tenant_id = "acme"' }))).toMatchObject({
      reason: "INVALID_FILTER",
    });
    expect(await failure(admin().tenants.listBaremetalGroupTenantQuotas({ filter: "cpu > 3" }))).toMatchObject({
      reason: "INVALID_FILTER",
    });
  });
});

describe("usage", () => {
  it("resolves a percent quota against the group's effective capacity as hosts join and leave and as the policy changes", async () => {
    const tenantId = await newTenant();
    const group = await newGroup();
    const quota = await newQuota(tenantId, group.id, { cpu: percent(50), memoryMib: percent(10), storageGib: absolute(500) });
    const cpu = async () => numbers(inGroup(await usage(tenantId), group.id).cpu);

    // No hosts: 50% of nothing.
    expect(await cpu()).toEqual({ limit: 0, used: 0, remaining: 0 });
    const first = await newHost(group.id, 64, 262144n);
    expect(await cpu()).toEqual({ limit: 32, used: 0, remaining: 32 });
    const second = await newHost(group.id, 31);
    // 50% of 95, rounded down: a tenant never gets more than its share.
    expect(await cpu()).toEqual({ limit: 47, used: 0, remaining: 47 });
    const u = inGroup(await usage(tenantId), group.id);
    expect(u).toMatchObject({ groupName: group.name, quotaId: quota.id });
    expect(numbers(u.memoryMib).limit).toBe(Math.floor((262144 + 65536) / 10));
    expect(numbers(u.storageGib).limit).toBe(500);

    // A host leaving the group (moved out, then deleted) shrinks the limit.
    await admin().inventory.updateBaremetal({ baremetal: { id: second.id, groupId: "" }, updateMask: { paths: ["group_id"] } });
    expect(await cpu()).toEqual({ limit: 32, used: 0, remaining: 32 });
    await admin().inventory.deleteBaremetal({ id: second.id });
    expect(await cpu()).toEqual({ limit: 32, used: 0, remaining: 32 });

    // The platform level: a CPU overcommit of 4 quadruples the group's effective CPU, and the share.
    await admin().inventory.updateBaremetalGroup({
      group: { id: group.id, scheduling: { cpuAllocationRatio: 4 } },
      updateMask: { paths: ["scheduling"] },
    });
    expect(await cpu()).toEqual({ limit: 128, used: 0, remaining: 128 });
    // … and a per-host reserve comes off before the ratio: (64 − 8) × 4 × 50%.
    await admin().inventory.updateBaremetalGroup({
      group: { id: group.id, scheduling: { cpuAllocationRatio: 4, reservedPerHost: { cpuCores: 8 } } },
      updateMask: { paths: ["scheduling"] },
    });
    expect(await cpu()).toEqual({ limit: 112, used: 0, remaining: 112 });
    await admin().inventory.deleteBaremetal({ id: first.id });
    expect(await cpu()).toEqual({ limit: 0, used: 0, remaining: 0 });
  });

  it("shows every group of the tenant with used and remaining, and the totals", async () => {
    const tenantId = await newTenant();
    const [g1, g2] = [await newGroup(), await newGroup()];
    await newHost(g1.id, 40);
    await newHost(g2.id, 100);
    const q1 = await newQuota(tenantId, g1.id, { cpu: absolute(20), memoryMib: absolute(8192), storageGib: absolute(100) });
    const q2 = await newQuota(tenantId, g2.id, { cpu: percent(30), memoryMib: absolute(1024), storageGib: absolute(50) });
    // Another tenant's quota in the same group is not this tenant's business.
    await newQuota(await newTenant(), g1.id);
    await setUsed(q1.id, 12, 4096, 80);
    await setUsed(q2.id, 5, 0, 10);

    const u = await usage(tenantId);
    expect(u.tenantId).toBe(tenantId);
    expect(u.groups.map((g) => g.quotaId).sort()).toEqual([q1.id, q2.id].sort());
    expect(numbers(inGroup(u, g1.id).cpu)).toEqual({ limit: 20, used: 12, remaining: 8 });
    expect(numbers(inGroup(u, g1.id).storageGib)).toEqual({ limit: 100, used: 80, remaining: 20 });
    expect(numbers(inGroup(u, g2.id).cpu)).toEqual({ limit: 30, used: 5, remaining: 25 });
    expect(numbers(u.totalCpu)).toEqual({ limit: 50, used: 17, remaining: 33 });
    expect(numbers(u.totalMemoryMib)).toEqual({ limit: 9216, used: 4096, remaining: 5120 });
    expect(numbers(u.totalStorageGib)).toEqual({ limit: 150, used: 90, remaining: 60 });

    // A tenant without quotas has nothing, and totals of zero; a tenant that does not exist is NOT_FOUND.
    const empty = await usage(await newTenant());
    expect(empty.groups).toEqual([]);
    expect(numbers(empty.totalCpu)).toEqual({ limit: 0, used: 0, remaining: 0 });
    expect(await failure(usage(randomUUID()))).toMatchObject({ code: Code.NotFound, metadata: { resource_type: "tenant" } });
  });

  it("reads a fixed number of queries however many groups the tenant has (no N+1)", async () => {
    const few = await newTenant();
    const many = await newTenant();
    const group = await newGroup();
    await newHost(group.id, 8);
    await newQuota(few, group.id, { cpu: percent(10) });
    for (let i = 0; i < 6; i++) {
      const g = await newGroup();
      await newHost(g.id, 16);
      await newQuota(many, g.id, { cpu: percent(50) });
    }
    // The server runs in this process: its ORM's query log shows every statement a call sends.
    const config = t.server.db.orm.config;
    const logger = config.getLogger() as unknown as { writer: (message: string) => void };
    const writer = logger.writer;
    const queries = async (tenantId: string) => {
      await usage(tenantId); // the token is authenticated and cached first
      const seen: string[] = [];
      logger.writer = (message) => seen.push(message);
      config.set("debug", ["query"]);
      try {
        const u = await usage(tenantId);
        return { count: seen.length, groups: u.groups.length, sql: seen };
      } finally {
        config.set("debug", false);
        logger.writer = writer;
      }
    };
    const one = await queries(few);
    const six = await queries(many);
    expect(one.groups).toBe(1);
    expect(six.groups).toBe(6);
    expect(one.count).toBeGreaterThan(0);
    expect(six.count, six.sql.join("\n")).toBe(one.count);
    // The groups' capacity comes from the totals each group keeps, in one query, not from its hosts.
    expect(six.sql.filter((sql) => /from "?baremetal_group"? /.test(sql)).length, six.sql.join("\n")).toBe(1);
    expect(six.sql.filter((sql) => /from "?baremetal"? /.test(sql)).length, six.sql.join("\n")).toBe(0);
  });
});

describe("changing quotas", () => {
  it("updates the limits named in the mask, switching kinds, and records who and what", async () => {
    const tenantId = await newTenant();
    const group = await newGroup();
    const created = await newQuota(tenantId, group.id, { cpu: absolute(100), memoryMib: percent(20) });
    const operator = as(await t.token(Role.PLATFORM_ADMIN, "operator-olga"));
    const { quota } = await operator.tenants.updateBaremetalGroupTenantQuota({
      quota: { id: created.id, etag: created.etag, cpu: absolute(50), memoryMib: absolute(2048), storageGib: absolute(1) },
      updateMask: { paths: ["cpu", "memory_mib"] },
    });
    expect(quota).toMatchObject({
      cpu: { kind: { case: "absolute", value: 50n } },
      memoryMib: { kind: { case: "absolute", value: 2048n } },
      storageGib: created.storageGib,
      updatedBy: "operator-olga",
      etag: '"2"',
    });
    const [row] = await t.server.db
      .em()
      .execute("select memory_mib_absolute, memory_mib_percent from baremetal_group_tenant_quota where id = ?", [created.id]);
    expect(row).toEqual({ memory_mib_absolute: 2048, memory_mib_percent: null });
    const event = await lastAudit("UpdateBaremetalGroupTenantQuota", created.id);
    expect(event).toMatchObject({ result: "OK", principal: "operator-olga", resourceType: "baremetal_group_tenant_quota" });
    expect(event!.message).toBe("cpu 100 → 50; memory_mib 20% → 2048");

    const tenants = admin().tenants;
    for (const path of ["tenant_id", "group_id", "updated_by", "cpu.absolute"]) {
      expect(
        await failure(
          tenants.updateBaremetalGroupTenantQuota({ quota: { id: created.id, cpu: absolute(1) }, updateMask: { paths: [path] } }),
        ),
        path,
      ).toMatchObject({
        reason: "INVALID_UPDATE_MASK",
      });
    }
    // A limit named in the mask must be set: changed, not cleared.
    expect(
      await failure(tenants.updateBaremetalGroupTenantQuota({ quota: { id: created.id }, updateMask: { paths: ["storage_gib"] } })),
    ).toMatchObject({
      reason: "VALIDATION_FAILED",
      fields: ["quota.storage_gib"],
    });
    expect(
      await failure(
        tenants.updateBaremetalGroupTenantQuota({
          quota: { id: created.id, etag: created.etag, cpu: absolute(1) },
          updateMask: { paths: ["cpu"] },
        }),
      ),
    ).toMatchObject({
      code: Code.Aborted,
      reason: "ETAG_MISMATCH",
    });
    expect(
      await failure(
        tenants.updateBaremetalGroupTenantQuota({ quota: { id: randomUUID(), cpu: absolute(1) }, updateMask: { paths: ["cpu"] } }),
      ),
    ).toMatchObject({
      code: Code.NotFound,
    });
  });

  it("lowers a limit below use: allowed and audited, remaining goes negative, nothing else changes", async () => {
    const tenantId = await newTenant();
    const group = await newGroup();
    await newHost(group.id, 64);
    const quota = await newQuota(tenantId, group.id, { cpu: absolute(100) });
    await setUsed(quota.id, 80, 2048, 10);

    await admin().tenants.updateBaremetalGroupTenantQuota({ quota: { id: quota.id, cpu: absolute(50) }, updateMask: { paths: ["cpu"] } });
    expect(numbers(inGroup(await usage(tenantId), group.id).cpu)).toEqual({ limit: 50, used: 80, remaining: -30 });
    // Use is placement's to change: the update left it alone.
    const [row] = await t.server.db
      .em()
      .execute("select cpu_used, memory_mib_used, storage_gib_used from baremetal_group_tenant_quota where id = ?", [quota.id]);
    expect(row).toEqual({ cpu_used: 80, memory_mib_used: 2048, storage_gib_used: 10 });
    const event = await lastAudit("UpdateBaremetalGroupTenantQuota", quota.id);
    expect(event!.message).toBe("cpu 100 → 50 (below use 80: blocks new allocations, evicts nothing)");

    // A percentage is resolved for the message too: 25% of 64 = 16 < 80.
    await admin().tenants.updateBaremetalGroupTenantQuota({ quota: { id: quota.id, cpu: percent(25) }, updateMask: { paths: ["cpu"] } });
    expect(numbers(inGroup(await usage(tenantId), group.id).cpu)).toEqual({ limit: 16, used: 80, remaining: -64 });
    expect((await lastAudit("UpdateBaremetalGroupTenantQuota", quota.id))!.message).toBe(
      "cpu 50 → 25% (below use 80: blocks new allocations, evicts nothing)",
    );
  });

  it("refuses to delete a quota in use (QUOTA_IN_USE), then deletes it once nothing is used", async () => {
    const tenantId = await newTenant();
    const group = await newGroup();
    const quota = await newQuota(tenantId, group.id);
    await setUsed(quota.id, 0, 0, 1);
    const refused = await failure(admin().tenants.deleteBaremetalGroupTenantQuota({ id: quota.id }));
    expect(refused).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "QUOTA_IN_USE",
      metadata: { resource_id: quota.id, tenant_id: tenantId, group_id: group.id, cpu_used: "0", storage_gib_used: "1" },
    });
    expect(await lastAudit("DeleteBaremetalGroupTenantQuota", quota.id)).toMatchObject({
      result: "FAILED_PRECONDITION",
      reason: "QUOTA_IN_USE",
    });
    expect((await admin().tenants.getBaremetalGroupTenantQuota({ id: quota.id })).quota).toEqual(quota);

    await setUsed(quota.id, 0, 0, 0);
    expect(await failure(admin().tenants.deleteBaremetalGroupTenantQuota({ id: quota.id, etag: '"7"' }))).toMatchObject({
      reason: "ETAG_MISMATCH",
    });
    await admin().tenants.deleteBaremetalGroupTenantQuota({ id: quota.id, etag: quota.etag });
    expect(await failure(admin().tenants.getBaremetalGroupTenantQuota({ id: quota.id }))).toMatchObject({ code: Code.NotFound });
    expect((await usage(tenantId)).groups).toEqual([]);
  });
});

describe("who may do what", () => {
  it("lets tenant principals read only their own tenant's quotas and usage; services read all; only platform admins write", async () => {
    const [a, b] = [await newTenant(), await newTenant()];
    const group = await newGroup();
    const qa = await newQuota(a, group.id);
    const qb = await newQuota(b, group.id);
    const memberA = as(await t.token(Role.TENANT_MEMBER, "member-a", a)).tenants;
    const adminA = as(await t.token(Role.TENANT_ADMIN, "admin-a", a)).tenants;
    const service = as(await t.token(Role.SERVICE, "vm-service")).tenants;
    const agent = as(await t.token(Role.AGENT, "agent")).tenants;

    for (const own of [memberA, adminA]) {
      expect((await own.getBaremetalGroupTenantQuota({ id: qa.id })).quota).toEqual(qa);
      // Another tenant's quota is NOT_FOUND, exactly like one that does not exist.
      const hidden = await failure(own.getBaremetalGroupTenantQuota({ id: qb.id }));
      const absent = await failure(own.getBaremetalGroupTenantQuota({ id: randomUUID() }));
      expect(hidden).toMatchObject({
        code: Code.NotFound,
        reason: "RESOURCE_NOT_FOUND",
        metadata: { resource_type: "baremetal_group_tenant_quota" },
      });
      expect(absent.code).toBe(hidden.code);
      // Lists are scoped whatever the filter says.
      expect((await own.listBaremetalGroupTenantQuotas({ filter: `group_id = "${group.id}"` })).quotas.map((q) => q.id)).toEqual([qa.id]);
      expect((await own.listBaremetalGroupTenantQuotas({ filter: `tenant_id = "${b}"` })).quotas).toEqual([]);
      expect((await own.getTenantUsage({ tenantId: a })).groups.map((g) => g.quotaId)).toEqual([qa.id]);
      expect(await failure(own.getTenantUsage({ tenantId: b }))).toMatchObject({
        code: Code.NotFound,
        metadata: { resource_type: "tenant", resource_id: b },
      });
      // Writing is the platform's.
      expect(
        await failure(
          own.createBaremetalGroupTenantQuota({
            quota: { tenantId: a, groupId: (await newGroup()).id, cpu: absolute(1), memoryMib: absolute(1), storageGib: absolute(1) },
          }),
        ),
      ).toMatchObject({
        code: Code.PermissionDenied,
        reason: "ROLE_NOT_ALLOWED",
      });
      expect(
        await failure(own.updateBaremetalGroupTenantQuota({ quota: { id: qa.id, cpu: absolute(1000) }, updateMask: { paths: ["cpu"] } })),
      ).toMatchObject({
        code: Code.PermissionDenied,
      });
      expect(await failure(own.deleteBaremetalGroupTenantQuota({ id: qa.id }))).toMatchObject({ code: Code.PermissionDenied });
    }

    expect((await service.getBaremetalGroupTenantQuota({ id: qb.id })).quota).toEqual(qb);
    expect((await service.listBaremetalGroupTenantQuotas({ filter: `group_id = "${group.id}"` })).quotas.map((q) => q.id)).toEqual([
      qa.id,
      qb.id,
    ]);
    expect((await service.getTenantUsage({ tenantId: b })).groups.map((g) => g.quotaId)).toEqual([qb.id]);
    expect(
      await failure(service.updateBaremetalGroupTenantQuota({ quota: { id: qa.id, cpu: absolute(1) }, updateMask: { paths: ["cpu"] } })),
    ).toMatchObject({
      code: Code.PermissionDenied,
    });

    expect(await failure(agent.getBaremetalGroupTenantQuota({ id: qa.id }))).toMatchObject({ code: Code.PermissionDenied });
    expect(await failure(agent.listBaremetalGroupTenantQuotas({}))).toMatchObject({ code: Code.PermissionDenied });
    expect(await failure(agent.getTenantUsage({ tenantId: a }))).toMatchObject({ code: Code.PermissionDenied });

    // Nothing the refused writes tried happened.
    expect((await admin().tenants.getBaremetalGroupTenantQuota({ id: qa.id })).quota).toEqual(qa);
    expect(await lastAudit("UpdateBaremetalGroupTenantQuota", qa.id)).toMatchObject({
      result: "PERMISSION_DENIED",
      principal: "vm-service",
    });
  });
});

describe("tenants holding quotas", () => {
  it("are deleted with their quotas (TEN-3: quotas do not block); another tenant's quota in the group stays", async () => {
    const tenantId = await newTenant();
    const other = await newTenant();
    const [g1, g2] = [await newGroup(), await newGroup()];
    const q1 = await newQuota(tenantId, g1.id);
    const q2 = await newQuota(tenantId, g2.id);
    const kept = await newQuota(other, g1.id);
    await admin().tenants.deleteTenant({ id: tenantId });
    expect(await failure(admin().tenants.getTenant({ id: tenantId }))).toMatchObject({ code: Code.NotFound });
    for (const gone of [q1, q2]) {
      expect(await failure(admin().tenants.getBaremetalGroupTenantQuota({ id: gone.id }))).toMatchObject({ code: Code.NotFound });
    }
    expect((await admin().tenants.getBaremetalGroupTenantQuota({ id: kept.id })).quota).toEqual(kept);
    expect((await lastAudit("DeleteTenant", tenantId))?.message).toContain("quotas=2");
  });
});
