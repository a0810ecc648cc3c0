// TenantService end to end (TEN-1..3): a real server over a real PostgreSQL database, called through
// the connect-node gRPC client. Who may do what is tests/e2e/tenant-isolation.test.ts; this file is
// what each call does.
import { randomUUID } from "node:crypto";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditService } from "../../gen/es/rackplane/v1/audit_pb.js";
import { IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { InventoryService, RackUnitStatus } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { TenantKind, TenantService, type Tenant } from "../../gen/es/rackplane/v1/tenant_pb.js";
import { VirtualMachineState } from "../../gen/es/rackplane/v1/compute_pb.js";
import { MaintainerRole, MaintainerService } from "../../gen/es/rackplane/v1/maintainer_pb.js";
import { buildCloud } from "../support/compute.js";
import { failure } from "../support/failure.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t?.close());

// ---------------------------------------------------------------------------------------------
// Helpers

let counter = 0;
/** A name no other test uses (tenant names are lower case, digits and dashes). */
const unique = (prefix: string) => `${prefix}-${++counter}`;

function transportFor(secret: string) {
  return createGrpcTransport({
    baseUrl: t.url,
    interceptors: [bearer(secret)],
  });
}

/** Clients authenticated with the given secret (the platform admin by default). */
function as(secret: string = t.adminToken) {
  const transport = transportFor(secret);
  return {
    tenants: createClient(TenantService, transport),
    identity: createClient(IdentityService, transport),
    inventory: createClient(InventoryService, transport),
    audit: createClient(AuditService, transport),
  };
}
const admin = () => as();

/** Awaits a call that must fail and returns its status code and ErrorInfo. */

async function newTenant(
  fields: Partial<Omit<Tenant, "$typeName" | "contact">> & { contact?: { name?: string; email?: string; phone?: string } } = {},
) {
  const { tenant } = await admin().tenants.createTenant({ tenant: { name: unique("tenant"), ...fields } });
  return tenant!;
}

async function newRoom() {
  const { inventory } = admin();
  const { region } = await inventory.createRegion({ region: { name: unique("region") } });
  const { datacenter } = await inventory.createDatacenter({ datacenter: { name: unique("dc"), regionId: region!.id } });
  const { room } = await inventory.createRoom({ room: { name: unique("room"), datacenterId: datacenter!.id } });
  return room!;
}

async function newRack(roomId: string, allowedTenantIds: string[] = [], heightUnits = 10) {
  const { rack } = await admin().inventory.createRack({ rack: { name: unique("rack"), roomId, heightUnits, allowedTenantIds } });
  return rack!;
}

/** Issues a token as the platform admin; returns its id and secret. */
async function token(role: Role, principal: string, tenantId = "") {
  const { token: issued, secret } = await admin().identity.createToken({ principal, role, tenantId });
  return { id: issued!.id, secret };
}

/** Every tenant the filter matches, as the platform admin sees them, following next_page_token. */
async function allTenants(filter = "", pageSize = 100): Promise<Tenant[]> {
  const found: Tenant[] = [];
  let pageToken = "";
  do {
    const page = await admin().tenants.listTenants({ filter, pageSize, pageToken });
    found.push(...page.tenants);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return found;
}

/**
 * The rows that still name a tenant, by table (tables with none are left out): every column with a
 * foreign key to tenant and every tenant_id column, except the history kept on purpose (audit_event,
 * operation); allowed_tenant_ids of racks and units; and maintainer assignments of its VMs (or of
 * VMs no longer there).
 */
async function rowsNaming(tenantId: string): Promise<Record<string, number>> {
  const em = t.server.db.em();
  const count = async (sql: string) => (await em.execute<{ n: number }[]>(sql, [tenantId]))[0]!.n;
  const columns = await em.execute<{ table_name: string; column_name: string }[]>(
    `select c.conrelid::regclass::text as table_name, a.attname as column_name
       from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)
      where c.contype = 'f' and c.confrelid = 'tenant'::regclass
     union
     select table_name, column_name from information_schema.columns
      where table_schema = current_schema() and column_name = 'tenant_id' and table_name not in ('audit_event', 'operation')`,
  );
  const counts: Record<string, number> = {};
  const add = (name: string, n: number) => {
    if (n > 0) counts[name] = (counts[name] ?? 0) + n;
  };
  add("tenant", await count("select count(*)::int as n from tenant where id = ?"));
  for (const { table_name, column_name } of columns)
    add(table_name, await count(`select count(*)::int as n from ${table_name} where ${column_name} = ?`));
  add("rack_allowed", await count("select count(*)::int as n from rack where ? = any(allowed_tenant_ids)"));
  add("rack_unit_allowed", await count("select count(*)::int as n from rack_unit where ? = any(allowed_tenant_ids)"));
  add(
    "resource_maintainer",
    await count(
      `select count(*)::int as n from resource_maintainer rm where rm.resource_type = 'virtual_machine'
          and not exists (select 1 from virtual_machine vm where vm.id = rm.resource_id and vm.tenant_id <> ?)`,
    ),
  );
  return counts;
}

/** The newest audit event of a method on a resource. */
async function lastAudit(method: string, resourceId: string) {
  const { auditEvents } = await admin().audit.listAuditEvents({
    filter: `method = "rackplane.v1.TenantService/${method}" AND resource_id = "${resourceId}"`,
  });
  return auditEvents[0];
}

// ---------------------------------------------------------------------------------------------

describe("create, get, list, update, delete", () => {
  it("creates an enabled tenant (kind UNSPECIFIED → PROJECT), gets it back unchanged and lists it", async () => {
    const name = unique("payments");
    const before = Date.now();
    const { tenant } = await admin().tenants.createTenant({
      tenant: {
        name,
        description: "the payments team",
        contact: { name: "Pat", email: "pat@example.com", phone: "+1 555 0100" },
        // Output-only fields are ignored on create.
        disabled: true,
        disabledReason: "ignored",
        id: randomUUID(),
      },
    });
    expect(tenant).toMatchObject({
      name,
      description: "the payments team",
      kind: TenantKind.PROJECT,
      contact: { name: "Pat", email: "pat@example.com", phone: "+1 555 0100" },
      disabled: false,
      disabledReason: "",
      etag: '"1"',
    });
    expect(tenant!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(tenant!.stateChangeTime).toBeUndefined();
    expect(Math.abs(timestampDate(tenant!.createTime!).getTime() - before)).toBeLessThan(5_000);

    expect((await admin().tenants.getTenant({ id: tenant!.id })).tenant).toEqual(tenant);
    expect((await allTenants(`name = "${name}"`)).map((x) => x.id)).toEqual([tenant!.id]);

    const customer = await newTenant({ kind: TenantKind.EXTERNAL_CUSTOMER });
    expect(customer.kind).toBe(TenantKind.EXTERNAL_CUSTOMER);
  });

  it("updates only the fields named in update_mask: name, description, kind, contact and its parts, '*'", async () => {
    const tenant = await newTenant({
      description: "first",
      kind: TenantKind.DEPARTMENT,
      contact: { name: "Ann", email: "ann@example.com", phone: "1" },
    });
    const { tenants } = admin();

    const { tenant: described } = await tenants.updateTenant({
      tenant: { id: tenant.id, name: "ignored-not-in-mask", description: "second", kind: TenantKind.PROJECT },
      updateMask: { paths: ["description"] },
    });
    expect(described).toMatchObject({ name: tenant.name, description: "second", kind: TenantKind.DEPARTMENT, etag: '"2"' });

    // contact.email alone: the rest of the contact stays.
    const { tenant: emailed } = await tenants.updateTenant({
      tenant: { id: tenant.id, contact: { email: "team@example.com", name: "ignored" } },
      updateMask: { paths: ["contact.email"] },
    });
    expect(emailed!.contact).toMatchObject({ name: "Ann", email: "team@example.com", phone: "1" });

    // contact: the whole message is replaced.
    const { tenant: replaced } = await tenants.updateTenant({
      tenant: { id: tenant.id, contact: { name: "Bo" } },
      updateMask: { paths: ["contact"] },
    });
    expect(replaced!.contact).toMatchObject({ name: "Bo", email: "", phone: "" });

    const renamed = unique("renamed");
    const { tenant: kinded } = await tenants.updateTenant({
      tenant: { id: tenant.id, name: renamed, kind: TenantKind.EXTERNAL_CUSTOMER, etag: replaced!.etag },
      updateMask: { paths: ["name", "kind"] },
    });
    expect(kinded).toMatchObject({ name: renamed, kind: TenantKind.EXTERNAL_CUSTOMER, description: "second", etag: '"5"' });

    const everything = unique("everything");
    const { tenant: full } = await tenants.updateTenant({
      tenant: { id: tenant.id, name: everything, kind: TenantKind.PROJECT, contact: { phone: "2" } },
      updateMask: { paths: ["*"] },
    });
    expect(full).toMatchObject({
      name: everything,
      description: "",
      kind: TenantKind.PROJECT,
      contact: { name: "", email: "", phone: "2" },
      etag: '"6"',
    });
    expect((await tenants.getTenant({ id: tenant.id })).tenant).toEqual(full);
  });

  it("refuses bad updates: output-only paths, clearing name or kind, a stale etag, an unknown tenant", async () => {
    const tenant = await newTenant();
    const { tenants } = admin();
    for (const path of ["disabled", "disabled_reason", "state_change_time", "id", "etag", "create_time", "nonsense"]) {
      expect(
        await failure(tenants.updateTenant({ tenant: { id: tenant.id, disabled: true }, updateMask: { paths: [path] } })),
        path,
      ).toMatchObject({
        code: Code.InvalidArgument,
        reason: "INVALID_UPDATE_MASK",
      });
    }
    expect(await failure(tenants.updateTenant({ tenant: { id: tenant.id }, updateMask: { paths: ["name"] } }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
    });
    expect(
      await failure(tenants.updateTenant({ tenant: { id: tenant.id, kind: TenantKind.UNSPECIFIED }, updateMask: { paths: ["kind"] } })),
    ).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
    });
    expect(
      await failure(tenants.updateTenant({ tenant: { id: tenant.id, name: "Not Valid" }, updateMask: { paths: ["name"] } })),
    ).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
    });
    expect(
      await failure(
        tenants.updateTenant({ tenant: { id: tenant.id, contact: { email: "not-an-email" } }, updateMask: { paths: ["contact.email"] } }),
      ),
    ).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
    });
    expect(
      await failure(
        tenants.updateTenant({ tenant: { id: tenant.id, description: "x", etag: '"7"' }, updateMask: { paths: ["description"] } }),
      ),
    ).toMatchObject({ code: Code.Aborted, reason: "ETAG_MISMATCH" });
    const missing = randomUUID();
    expect(
      await failure(tenants.updateTenant({ tenant: { id: missing, description: "x" }, updateMask: { paths: ["description"] } })),
    ).toMatchObject({
      code: Code.NotFound,
      reason: "RESOURCE_NOT_FOUND",
      metadata: { resource_type: "tenant", resource_id: missing },
    });
    // Nothing changed.
    expect((await tenants.getTenant({ id: tenant.id })).tenant).toEqual(tenant);
  });

  it("a tenant's name is unique: create and rename to a taken name are ALREADY_EXISTS", async () => {
    const first = await newTenant();
    const second = await newTenant();
    expect(await failure(admin().tenants.createTenant({ tenant: { name: first.name } }))).toMatchObject({
      code: Code.AlreadyExists,
      reason: "ALREADY_EXISTS",
    });
    expect(
      await failure(admin().tenants.updateTenant({ tenant: { id: second.id, name: first.name }, updateMask: { paths: ["name"] } })),
    ).toMatchObject({ code: Code.AlreadyExists, reason: "ALREADY_EXISTS" });
    expect(await allTenants(`name = "${first.name}"`)).toHaveLength(1);
    expect((await admin().tenants.getTenant({ id: second.id })).tenant!.name).toBe(second.name);
  });

  it("create is idempotent by request_id; the same id with another request is REQUEST_ID_REUSED", async () => {
    const name = unique("retry");
    const requestId = randomUUID();
    const first = await admin().tenants.createTenant({ tenant: { name, description: "once" }, requestId });
    const again = await admin().tenants.createTenant({ tenant: { name, description: "once" }, requestId });
    expect(again.tenant).toEqual(first.tenant);
    expect(await allTenants(`name = "${name}"`)).toHaveLength(1);
    expect(
      await failure(admin().tenants.createTenant({ tenant: { name: unique("other"), description: "once" }, requestId })),
    ).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "REQUEST_ID_REUSED",
    });
  });

  it("deletes a tenant that owns nothing, honouring the etag; it is NOT_FOUND afterwards", async () => {
    const tenant = await newTenant();
    expect(await failure(admin().tenants.deleteTenant({ id: tenant.id, etag: '"9"' }))).toMatchObject({
      code: Code.Aborted,
      reason: "ETAG_MISMATCH",
    });
    await admin().tenants.deleteTenant({ id: tenant.id, etag: tenant.etag });
    expect(await failure(admin().tenants.getTenant({ id: tenant.id }))).toMatchObject({
      code: Code.NotFound,
      reason: "RESOURCE_NOT_FOUND",
      metadata: { resource_type: "tenant", resource_id: tenant.id },
    });
    expect(await failure(admin().tenants.deleteTenant({ id: tenant.id }))).toMatchObject({
      code: Code.NotFound,
      reason: "RESOURCE_NOT_FOUND",
    });
  });
});

describe("DeleteTenant with resources (TEN-3)", () => {
  it("a tenant that had an auto-named VM, cancelled, deletes: live VMs block it by name and count, its name sequence no longer does", async () => {
    const cloud = await buildCloud(t, { name: unique("seq"), hosts: 1 });
    const compute = t.compute();
    const { virtualMachine, operation } = await compute.createVirtualMachine({
      tenantId: cloud.tenantId,
      target: { case: "groupId", value: cloud.groupId },
      specificationId: cloud.specificationId,
      imageId: cloud.imageId,
    });
    expect(virtualMachine!.name).toMatch(/-vm-0001$/);

    // A live VM blocks: the error names the kind and its count, and nothing changes.
    const refused = await failure(admin().tenants.deleteTenant({ id: cloud.tenantId }));
    expect(refused).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "TENANT_HAS_RESOURCES",
      metadata: { tenant_id: cloud.tenantId, virtual_machines: "1" },
    });
    expect(refused.message).toContain("1 live virtual machine(s)");
    expect(await rowsNaming(cloud.tenantId)).toMatchObject({
      tenant: 1,
      baremetal_group_tenant_quota: 1,
      name_sequence: 1,
      virtual_machine: 1,
    });

    await t.operations().cancelOperation({ id: operation!.id });
    expect((await compute.getVirtualMachine({ id: virtualMachine!.id })).virtualMachine!.state).toBe(VirtualMachineState.DELETED);
    const { quotas } = await admin().tenants.listBaremetalGroupTenantQuotas({ filter: `tenant_id = "${cloud.tenantId}"` });
    await admin().tenants.deleteBaremetalGroupTenantQuota({ id: quotas[0]!.id });

    await admin().tenants.deleteTenant({ id: cloud.tenantId });
    expect(await failure(admin().tenants.getTenant({ id: cloud.tenantId }))).toMatchObject({ code: Code.NotFound });
    expect(await rowsNaming(cloud.tenantId)).toEqual({});
  });

  it("deletes a tenant with quotas, a naming rule, tokens, a reservation, allowed-tenant entries and maintainer assignments in one call, leaving no row behind", async () => {
    const cloud = await buildCloud(t, { name: unique("full"), hosts: 1 });
    const tenantId = cloud.tenantId;
    const other = await newTenant();
    const { inventory, tenants } = admin();
    // A second quota, in another group; another tenant's quota in the same group stays.
    const { group } = await inventory.createBaremetalGroup({ group: { name: unique("g") } });
    const limit = { kind: { case: "percent" as const, value: 50 } };
    await tenants.createBaremetalGroupTenantQuota({
      quota: { tenantId, groupId: group!.id, cpu: limit, memoryMib: limit, storageGib: limit },
    });
    const { quota: othersQuota } = await tenants.createBaremetalGroupTenantQuota({
      quota: { tenantId: other.id, groupId: cloud.groupId, cpu: limit, memoryMib: limit, storageGib: limit },
    });
    // A naming rule, and a VM named by it (its sequence row), cancelled into a DELETED VM with a
    // maintainer assignment.
    const { tenant } = await tenants.updateTenant({
      tenant: { id: tenantId, namingRule: { template: "{tenant}-{role}-{seq:03}", pattern: "" } },
      updateMask: { paths: ["naming_rule"] },
    });
    const created = await t.compute().createVirtualMachine({
      tenantId,
      target: { case: "groupId", value: cloud.groupId },
      specificationId: cloud.specificationId,
      imageId: cloud.imageId,
    });
    const maintainers = createClient(MaintainerService, transportFor(t.adminToken));
    const { maintainer } = await maintainers.createMaintainer({ maintainer: { name: "Ops", account: unique("ops") } });
    const assign = (type: string, id: string) =>
      maintainers.createResourceMaintainer({
        resourceMaintainer: {
          resource: { type, id },
          assignee: { case: "maintainerId", value: maintainer!.id },
          role: MaintainerRole.OWNER,
        },
      });
    await assign("virtual_machine", created.virtualMachine!.id);
    await t.operations().cancelOperation({ id: created.operation!.id });
    // Racks and units naming the tenant, and units reserved for it.
    const room = await newRoom();
    const rack = await newRack(room.id, [tenantId, other.id]);
    const platformRack = await newRack(room.id);
    await assign("rack", rack.id);
    await inventory.updateRackUnit({
      unit: { rackId: platformRack.id, position: 2, allowedTenantIds: [other.id, tenantId] },
      updateMask: { paths: ["allowed_tenant_ids"] },
    });
    await inventory.updateRackUnit({
      unit: { rackId: platformRack.id, position: 3, allowedTenantIds: [tenantId] },
      updateMask: { paths: ["allowed_tenant_ids"] },
    });
    await inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 1, unitCount: 2, purpose: "db", tenantId });
    await inventory.reserveRackUnits({ rackId: platformRack.id, firstPosition: 3, unitCount: 1, purpose: "web", tenantId });
    const theirs = (
      await inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 5, unitCount: 1, purpose: "theirs", tenantId: other.id })
    ).reservation!;
    // Tokens, used first so the server has them in its authentication cache.
    const member = await token(Role.TENANT_MEMBER, "member", tenantId);
    const tenantAdmin = await token(Role.TENANT_ADMIN, "boss", tenantId);
    const bystander = await token(Role.TENANT_MEMBER, "member", other.id);
    for (const holder of [member, tenantAdmin, bystander]) await as(holder.secret).identity.getCallerIdentity({});
    expect(await rowsNaming(tenantId)).toEqual({
      tenant: 1,
      baremetal_group_tenant_quota: 2,
      name_sequence: 1,
      api_token: 2,
      rack_reservation: 2,
      rack_allowed: 1,
      rack_unit_allowed: 2,
      virtual_machine: 1,
      scheduling_record: 1,
      resource_maintainer: 1,
    });

    const rackBefore = (await inventory.getRack({ id: rack.id })).rack!;
    await admin().tenants.deleteTenant({ id: tenantId, etag: tenant!.etag });

    expect(await failure(admin().tenants.getTenant({ id: tenantId }))).toMatchObject({ code: Code.NotFound });
    expect(await rowsNaming(tenantId)).toEqual({});
    // Audited once, with what went with it.
    const audited = await lastAudit("DeleteTenant", tenantId);
    expect(audited).toMatchObject({ result: "OK", resourceType: "tenant" });
    expect(audited!.message).toBe(
      "cleared with the tenant: rack_reservations=2, rack_allowed_tenant_entries=1, unit_allowed_tenant_entries=2, quotas=2, " +
        "name_sequences=1, tokens=2, maintainer_assignments=1, scheduling_records=1, deleted_virtual_machines=1, " +
        "cluster_maintainer_assignments=0, deleted_clusters=0, service_meshes=0",
    );

    // Its tokens stop working at once, even those the server had cached; another tenant's works.
    for (const holder of [member, tenantAdmin]) {
      expect(await failure(as(holder.secret).identity.getCallerIdentity({}))).toMatchObject({
        code: Code.Unauthenticated,
        reason: "TOKEN_INVALID",
      });
    }
    expect((await as(bystander.secret).identity.getCallerIdentity({})).tenantId).toBe(other.id);
    // Its reserved units are free again; the other tenant's reservation, quota and rack entries stay.
    const elevation = await inventory.getRackElevation({ rackId: rack.id });
    expect(elevation.rack!.allowedTenantIds).toEqual([other.id]);
    expect(elevation.rack!.etag).not.toBe(rackBefore.etag);
    const unitAt = (units: typeof elevation.units, position: number) => units.find((unit) => unit.position === position)!;
    expect([1, 2].map((p) => unitAt(elevation.units, p).status)).toEqual([RackUnitStatus.FREE, RackUnitStatus.FREE]);
    expect(unitAt(elevation.units, 5)).toMatchObject({ status: RackUnitStatus.RESERVED, occupant: { kind: "reservation", id: theirs.id } });
    const platformUnits = (await inventory.getRackElevation({ rackId: platformRack.id })).units;
    expect(unitAt(platformUnits, 2).allowedTenantIds).toEqual([other.id]);
    expect(unitAt(platformUnits, 3)).toMatchObject({ allowedTenantIds: [], status: RackUnitStatus.FREE });
    expect(unitAt(platformUnits, 4).etag).toBe('"1"');
    expect((await tenants.getBaremetalGroupTenantQuota({ id: othersQuota!.id })).quota).toEqual(othersQuota);
    // The rack's own maintainer assignment is not the tenant's: it stays.
    expect(
      (await maintainers.listResourceMaintainers({ resource: { type: "rack", id: rack.id } })).maintainers.map((m) => m.maintainer!.id),
    ).toEqual([maintainer!.id]);

    // Nothing can name it any more.
    expect(await failure(admin().identity.createToken({ principal: "late", role: Role.TENANT_MEMBER, tenantId }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "tenant", resource_id: tenantId },
    });
    expect(
      await failure(inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 7, unitCount: 1, purpose: "late", tenantId })),
    ).toMatchObject({ code: Code.NotFound, metadata: { resource_type: "tenant", resource_id: tenantId } });
    expect(await failure(admin().tenants.deleteTenant({ id: tenantId }))).toMatchObject({ code: Code.NotFound });
  });
});

describe("references to tenants must name existing tenants", () => {
  it("CreateToken for a tenant role: NOT_FOUND tenant when it does not exist", async () => {
    const missing = randomUUID();
    for (const role of [Role.TENANT_ADMIN, Role.TENANT_MEMBER]) {
      expect(await failure(admin().identity.createToken({ principal: "ghost", role, tenantId: missing }))).toMatchObject({
        code: Code.NotFound,
        reason: "RESOURCE_NOT_FOUND",
        metadata: { resource_type: "tenant", resource_id: missing },
      });
    }
    expect((await admin().identity.listTokens({ filter: `tenant_id = "${missing}"` })).tokens).toEqual([]);
    const tenant = await newTenant();
    const { secret } = await token(Role.TENANT_MEMBER, "real", tenant.id);
    expect((await as(secret).identity.getCallerIdentity({})).tenantId).toBe(tenant.id);
  });

  it("allowed_tenant_ids of racks and units: NOT_FOUND naming the first missing tenant, nothing written", async () => {
    const tenant = await newTenant();
    const room = await newRoom();
    const [missing1, missing2] = [randomUUID(), randomUUID()];
    const notFound = (id: string) => ({
      code: Code.NotFound,
      reason: "RESOURCE_NOT_FOUND",
      metadata: { resource_type: "tenant", resource_id: id },
    });
    const name = unique("rack");
    const { inventory } = admin();

    expect(
      await failure(
        inventory.createRack({ rack: { name, roomId: room.id, heightUnits: 4, allowedTenantIds: [tenant.id, missing1, missing2] } }),
      ),
    ).toMatchObject(notFound(missing1));
    expect((await inventory.listRacks({ filter: `name = "${name}"` })).racks).toEqual([]);

    const rack = await newRack(room.id, [tenant.id], 4);
    expect(
      await failure(
        inventory.updateRack({
          rack: { id: rack.id, allowedTenantIds: [missing2, tenant.id] },
          updateMask: { paths: ["allowed_tenant_ids"] },
        }),
      ),
    ).toMatchObject(notFound(missing2));
    expect(
      await failure(
        inventory.updateRackUnit({
          unit: { rackId: rack.id, position: 1, allowedTenantIds: [tenant.id, missing1] },
          updateMask: { paths: ["allowed_tenant_ids"] },
        }),
      ),
    ).toMatchObject(notFound(missing1));
    expect((await inventory.getRack({ id: rack.id })).rack).toEqual(rack);
    expect(
      (await inventory.getRackElevation({ rackId: rack.id })).units.every(
        (unit) => unit.allowedTenantIds.length === 0 && unit.etag === '"1"',
      ),
    ).toBe(true);

    // Existing tenants are accepted, as is clearing the list.
    const second = await newTenant();
    const { rack: updated } = await inventory.updateRack({
      rack: { id: rack.id, allowedTenantIds: [second.id, tenant.id] },
      updateMask: { paths: ["allowed_tenant_ids"] },
    });
    expect(updated!.allowedTenantIds).toEqual([second.id, tenant.id]);
    const { unit } = await inventory.updateRackUnit({
      unit: { rackId: rack.id, position: 1, allowedTenantIds: [second.id] },
      updateMask: { paths: ["allowed_tenant_ids"] },
    });
    expect(unit!.allowedTenantIds).toEqual([second.id]);
    await inventory.updateRack({ rack: { id: rack.id, allowedTenantIds: [] }, updateMask: { paths: ["allowed_tenant_ids"] } });
  });

  it("ReserveRackUnits for a tenant that does not exist: NOT_FOUND tenant", async () => {
    const room = await newRoom();
    const rack = await newRack(room.id);
    const missing = randomUUID();
    expect(
      await failure(
        admin().inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 1, unitCount: 1, purpose: "x", tenantId: missing }),
      ),
    ).toMatchObject({ code: Code.NotFound, metadata: { resource_type: "tenant", resource_id: missing } });
  });
});

describe("DisableTenant and EnableTenant (TEN-2)", () => {
  it("disable records the reason and time and audits it; the tenant's own mutations are TENANT_DISABLED, its reads work; enable undoes it", async () => {
    const tenant = await newTenant();
    const room = await newRoom();
    const rack = await newRack(room.id, [tenant.id]);
    const boss = await token(Role.TENANT_ADMIN, "boss", tenant.id);
    const tenantClient = as(boss.secret);

    const before = Date.now();
    const { tenant: disabled } = await admin().tenants.disableTenant({ id: tenant.id, reason: "invoice 42 unpaid" });
    expect(disabled).toMatchObject({ id: tenant.id, disabled: true, disabledReason: "invoice 42 unpaid", etag: '"2"' });
    expect(Math.abs(timestampDate(disabled!.stateChangeTime!).getTime() - before)).toBeLessThan(5_000);
    expect((await admin().tenants.getTenant({ id: tenant.id })).tenant).toEqual(disabled);
    expect(await lastAudit("DisableTenant", tenant.id)).toMatchObject({
      result: "OK",
      resourceType: "tenant",
      resourceId: tenant.id,
      message: "invoice 42 unpaid",
    });

    // Its own principals can change nothing…
    const refused = await failure(tenantClient.identity.createToken({ principal: "new", role: Role.TENANT_MEMBER, tenantId: tenant.id }));
    expect(refused).toMatchObject({ code: Code.FailedPrecondition, reason: "TENANT_DISABLED", metadata: { tenant_id: tenant.id } });
    expect(refused.message).toContain("invoice 42 unpaid");
    expect(await failure(tenantClient.identity.revokeToken({ id: boss.id }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "TENANT_DISABLED",
    });
    // …and nothing is reserved for it, even by a platform admin.
    expect(
      await failure(
        admin().inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 1, unitCount: 1, purpose: "x", tenantId: tenant.id }),
      ),
    ).toMatchObject({ code: Code.FailedPrecondition, reason: "TENANT_DISABLED" });
    expect((await admin().inventory.getRackElevation({ rackId: rack.id })).reservations).toEqual([]);
    // Reads still work.
    expect((await tenantClient.tenants.getTenant({ id: tenant.id })).tenant!.disabled).toBe(true);
    expect((await tenantClient.inventory.getRack({ id: rack.id })).rack!.id).toBe(rack.id);
    expect((await tenantClient.identity.listTokens({})).tokens.map((k) => k.id)).toEqual([boss.id]);
    // A platform admin may still issue it tokens: they read, and change nothing either.
    const late = await token(Role.TENANT_ADMIN, "late", tenant.id);
    expect((await as(late.secret).tenants.getTenant({ id: tenant.id })).tenant!.id).toBe(tenant.id);
    expect(await failure(as(late.secret).identity.revokeToken({ id: late.id }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "TENANT_DISABLED",
    });

    // Disabling again replaces the reason, keeps the time.
    const { tenant: again } = await admin().tenants.disableTenant({ id: tenant.id, reason: "still unpaid" });
    expect(again).toMatchObject({ disabled: true, disabledReason: "still unpaid", stateChangeTime: disabled!.stateChangeTime });

    const { tenant: enabled } = await admin().tenants.enableTenant({ id: tenant.id, reason: "paid in full" });
    expect(enabled).toMatchObject({ disabled: false, disabledReason: "" });
    expect(timestampDate(enabled!.stateChangeTime!).getTime()).toBeGreaterThan(timestampDate(disabled!.stateChangeTime!).getTime());
    expect(await lastAudit("EnableTenant", tenant.id)).toMatchObject({ result: "OK", resourceType: "tenant", message: "paid in full" });

    await tenantClient.identity.createToken({ principal: "new", role: Role.TENANT_MEMBER, tenantId: tenant.id });
    await admin().inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 1, unitCount: 1, purpose: "x", tenantId: tenant.id });

    // Enabling an enabled tenant changes nothing.
    const { tenant: still } = await admin().tenants.enableTenant({ id: tenant.id, reason: "" });
    expect(still).toEqual((await admin().tenants.getTenant({ id: tenant.id })).tenant);
    expect(still!.etag).toBe(enabled!.etag);
  });

  it("disable needs a reason; unknown tenants are NOT_FOUND", async () => {
    const tenant = await newTenant();
    expect(await failure(admin().tenants.disableTenant({ id: tenant.id, reason: "" }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
    });
    expect((await admin().tenants.getTenant({ id: tenant.id })).tenant!.disabled).toBe(false);
    const missing = randomUUID();
    for (const call of [
      () => admin().tenants.disableTenant({ id: missing, reason: "x" }),
      () => admin().tenants.enableTenant({ id: missing, reason: "x" }),
    ]) {
      expect(await failure(call())).toMatchObject({ code: Code.NotFound, metadata: { resource_type: "tenant", resource_id: missing } });
    }
  });
});

describe("ListTenants", () => {
  it("filters by disabled, kind, name, description and times; pages in creation order", async () => {
    const marker = unique("flt");
    const a = await newTenant({ name: `${marker}-a`, kind: TenantKind.DEPARTMENT, description: "alpha team" });
    const b = await newTenant({ name: `${marker}-b`, kind: TenantKind.EXTERNAL_CUSTOMER });
    const c = await newTenant({ name: `${marker}-c` });
    await admin().tenants.disableTenant({ id: b.id, reason: "offboarding" });
    await admin().tenants.disableTenant({ id: c.id, reason: "offboarding" });
    const ids = async (filter: string) => (await allTenants(`name = "${marker}-*" AND (${filter})`, 1)).map((x) => x.id);

    expect(await ids("disabled = true")).toEqual([b.id, c.id]);
    expect(await ids("disabled = false")).toEqual([a.id]);
    expect(await ids("NOT disabled = true")).toEqual([a.id]);
    expect((await allTenants("disabled = true")).map((x) => x.id)).toEqual(expect.arrayContaining([b.id, c.id]));
    expect((await allTenants("disabled = true")).every((x) => x.disabled)).toBe(true);
    expect(await ids("kind = DEPARTMENT")).toEqual([a.id]);
    expect(await ids("kind = TENANT_KIND_EXTERNAL_CUSTOMER OR kind = PROJECT")).toEqual([b.id, c.id]);
    expect(await ids(`description : "ALPHA"`)).toEqual([a.id]);
    expect(await ids(`create_time >= "${timestampDate(b.createTime!).toISOString()}"`)).toEqual([b.id, c.id]);
    expect(await ids(`update_time > "2000-01-01T00:00:00Z"`)).toEqual([a.id, b.id, c.id]);

    for (const filter of ["disabled = maybe", "kind = PLANET", "owner = x", "disabled ="]) {
      expect(await failure(admin().tenants.listTenants({ filter })), filter).toMatchObject({
        code: Code.InvalidArgument,
        reason: "INVALID_FILTER",
      });
    }
    const page = await admin().tenants.listTenants({ filter: `name = "${marker}-*"`, pageSize: 2 });
    expect(page.tenants.map((x) => x.id)).toEqual([a.id, b.id]);
    expect(await failure(admin().tenants.listTenants({ filter: "disabled = true", pageToken: page.nextPageToken }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_PAGE_TOKEN",
    });
  });
});
