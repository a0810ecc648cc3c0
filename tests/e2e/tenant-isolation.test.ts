// Who sees and changes what around tenants (API-6, TEN-2): one matrix of principals × operations
// with the outcome of every cell, then what a disabled tenant may still do. Tenant principals see
// only their own tenant and the racks that allow it; anything else is NOT_FOUND, exactly as if it
// did not exist.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { AuditService } from "../../gen/es/rackplane/v1/audit_pb.js";
import { IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { InventoryService, type Rack } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { TenantService, type Tenant } from "../../gen/es/rackplane/v1/tenant_pb.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;

function clientsFor(secret: string) {
  const transport = createGrpcTransport({
    baseUrl: t.url,
    interceptors: [bearer(secret)],
  });
  return {
    tenants: createClient(TenantService, transport),
    identity: createClient(IdentityService, transport),
    inventory: createClient(InventoryService, transport),
    audit: createClient(AuditService, transport),
  };
}
type Clients = ReturnType<typeof clientsFor>;

const principals = ["platform admin", "service", "tenant-admin of A", "tenant-member of A", "tenant-admin of B", "agent"] as const;
type PrincipalName = (typeof principals)[number];

/** Everything the matrix works on, made by the platform admin in beforeAll. */
const world = {} as {
  A: Tenant;
  B: Tenant;
  /** Racks by name: allowing A, allowing only B, allowing both, allowing nobody. */
  racks: Record<"rack-a" | "rack-b" | "rack-ab" | "rack-none", Rack>;
  secrets: Record<PrincipalName, string>;
};
const as = (principal: PrincipalName) => clientsFor(world.secrets[principal]);
const admin = () => as("platform admin");

beforeAll(async () => {
  t = await startTestServer();
  const { tenants, inventory, identity } = clientsFor(t.adminToken);
  world.A = (await tenants.createTenant({ tenant: { name: "tenant-a" } })).tenant!;
  world.B = (await tenants.createTenant({ tenant: { name: "tenant-b" } })).tenant!;
  const { region } = await inventory.createRegion({ region: { name: "iso-region" } });
  const { datacenter } = await inventory.createDatacenter({ datacenter: { name: "iso-dc", regionId: region!.id } });
  const { room } = await inventory.createRoom({ room: { name: "iso-room", datacenterId: datacenter!.id } });
  const rack = async (name: string, allowedTenantIds: string[]) =>
    (await inventory.createRack({ rack: { name, roomId: room!.id, heightUnits: 8, allowedTenantIds } })).rack!;
  world.racks = {
    "rack-a": await rack("rack-a", [world.A.id]),
    "rack-b": await rack("rack-b", [world.B.id]),
    "rack-ab": await rack("rack-ab", [world.A.id, world.B.id]),
    "rack-none": await rack("rack-none", []),
  };
  const issue = async (principal: string, role: Role, tenantId = "") => (await identity.createToken({ principal, role, tenantId })).secret;
  world.secrets = {
    "platform admin": t.adminToken,
    service: await issue("vm-service", Role.SERVICE),
    "tenant-admin of A": await issue("alice", Role.TENANT_ADMIN, world.A.id),
    "tenant-member of A": await issue("amy", Role.TENANT_MEMBER, world.A.id),
    "tenant-admin of B": await issue("bob", Role.TENANT_ADMIN, world.B.id),
    agent: await issue("agent-1", Role.AGENT),
  };
  // Something in the audit trail by each tenant's principals (and by the platform, above).
  await as("tenant-admin of A").identity.createToken({ principal: "a-seed", role: Role.TENANT_MEMBER, tenantId: world.A.id });
  await as("tenant-admin of B").identity.createToken({ principal: "b-seed", role: Role.TENANT_MEMBER, tenantId: world.B.id });
});
afterAll(() => t?.close());

async function refusal(call: Promise<unknown>): Promise<{ code: string; reason: string }> {
  try {
    await call;
  } catch (e) {
    const error = ConnectError.from(e);
    return { code: Code[error.code], reason: error.findDetails(ErrorInfoSchema)[0]?.reason ?? "" };
  }
  throw new Error("expected the call to be refused, but it succeeded");
}

// ---------------------------------------------------------------------------------------------
// The matrix

/** OK; refused with a status; or, for a List, accepted and showing exactly these items. */
type Outcome = "OK" | "NOT_FOUND" | "PERMISSION_DENIED" | { sees: string[] };

const tenantLabel = (tenantId: string) =>
  tenantId === world.A.id ? "A" : tenantId === world.B.id ? "B" : tenantId === "" ? "platform" : `? ${tenantId}`;

let seq = 0;
/** Each operation; Lists return what they show, as names, sorted. */
const operations: Record<string, { run(c: Clients): Promise<unknown>; restore?(): Promise<void> }> = {
  "GetTenant(A)": { run: async (c) => (await c.tenants.getTenant({ id: world.A.id })).tenant!.id },
  ListTenants: { run: async (c) => (await c.tenants.listTenants({ pageSize: 1000 })).tenants.map((x) => x.name).sort() },
  "UpdateTenant(A)": {
    run: (c) =>
      c.tenants.updateTenant({ tenant: { id: world.A.id, description: `changed ${++seq}` }, updateMask: { paths: ["description"] } }),
  },
  "DisableTenant(A)": {
    run: (c) => c.tenants.disableTenant({ id: world.A.id, reason: "matrix" }),
    restore: async () => void (await admin().tenants.enableTenant({ id: world.A.id, reason: "matrix done" })),
  },
  "GetRack(rack allowing A)": { run: async (c) => (await c.inventory.getRack({ id: world.racks["rack-a"].id })).rack!.name },
  "GetRack(rack allowing only B)": { run: async (c) => (await c.inventory.getRack({ id: world.racks["rack-b"].id })).rack!.name },
  ListRacks: { run: async (c) => (await c.inventory.listRacks({ pageSize: 1000 })).racks.map((rack) => rack.name).sort() },
  "CreateToken for tenant A member": {
    run: (c) => c.identity.createToken({ principal: `matrix-${++seq}`, role: Role.TENANT_MEMBER, tenantId: world.A.id }),
  },
  // Which tenants' principals the visible events come from.
  ListAuditEvents: {
    run: async (c) =>
      [...new Set((await c.audit.listAuditEvents({ pageSize: 1000 })).auditEvents.map((e) => tenantLabel(e.tenantId)))].sort(),
  },
};

const ALL_RACKS = ["rack-a", "rack-ab", "rack-b", "rack-none"];
const NF = "NOT_FOUND" as const;
const PD = "PERMISSION_DENIED" as const;

const expected: Record<PrincipalName, Record<keyof typeof operations, Outcome>> = {
  "platform admin": {
    "GetTenant(A)": "OK",
    ListTenants: { sees: ["tenant-a", "tenant-b"] },
    "UpdateTenant(A)": "OK",
    "DisableTenant(A)": "OK",
    "GetRack(rack allowing A)": "OK",
    "GetRack(rack allowing only B)": "OK",
    ListRacks: { sees: ALL_RACKS },
    "CreateToken for tenant A member": "OK",
    ListAuditEvents: { sees: ["A", "B", "platform"] },
  },
  service: {
    "GetTenant(A)": "OK",
    ListTenants: { sees: ["tenant-a", "tenant-b"] },
    "UpdateTenant(A)": PD,
    "DisableTenant(A)": PD,
    "GetRack(rack allowing A)": "OK",
    "GetRack(rack allowing only B)": "OK",
    ListRacks: { sees: ALL_RACKS },
    "CreateToken for tenant A member": PD,
    ListAuditEvents: { sees: ["A", "B", "platform"] },
  },
  "tenant-admin of A": {
    "GetTenant(A)": "OK",
    ListTenants: { sees: ["tenant-a"] },
    "UpdateTenant(A)": PD,
    "DisableTenant(A)": PD,
    "GetRack(rack allowing A)": "OK",
    "GetRack(rack allowing only B)": NF,
    ListRacks: { sees: ["rack-a", "rack-ab"] },
    "CreateToken for tenant A member": "OK",
    ListAuditEvents: { sees: ["A"] },
  },
  "tenant-member of A": {
    "GetTenant(A)": "OK",
    ListTenants: { sees: ["tenant-a"] },
    "UpdateTenant(A)": PD,
    "DisableTenant(A)": PD,
    "GetRack(rack allowing A)": "OK",
    "GetRack(rack allowing only B)": NF,
    ListRacks: { sees: ["rack-a", "rack-ab"] },
    "CreateToken for tenant A member": PD,
    ListAuditEvents: PD,
  },
  "tenant-admin of B": {
    "GetTenant(A)": NF,
    ListTenants: { sees: ["tenant-b"] },
    "UpdateTenant(A)": PD,
    "DisableTenant(A)": PD,
    "GetRack(rack allowing A)": NF,
    "GetRack(rack allowing only B)": "OK",
    ListRacks: { sees: ["rack-ab", "rack-b"] },
    "CreateToken for tenant A member": PD,
    ListAuditEvents: { sees: ["B"] },
  },
  agent: {
    "GetTenant(A)": PD,
    ListTenants: PD,
    "UpdateTenant(A)": PD,
    "DisableTenant(A)": PD,
    "GetRack(rack allowing A)": PD,
    "GetRack(rack allowing only B)": PD,
    ListRacks: PD,
    "CreateToken for tenant A member": PD,
    ListAuditEvents: PD,
  },
};

const reasons = { NOT_FOUND: "RESOURCE_NOT_FOUND", PERMISSION_DENIED: "ROLE_NOT_ALLOWED" } as const;

describe("the matrix is complete", () => {
  it("has an outcome for every principal × operation", () => {
    for (const principal of principals) expect(Object.keys(expected[principal]).sort(), principal).toEqual(Object.keys(operations).sort());
  });
});

describe.each(principals)("as %s", (principal) => {
  it.each(Object.keys(operations))("%s", async (operation) => {
    const outcome = expected[principal][operation]!;
    const { run, restore } = operations[operation]!;
    const before = (await admin().tenants.getTenant({ id: world.A.id })).tenant!;
    if (outcome === "NOT_FOUND" || outcome === "PERMISSION_DENIED") {
      expect(await refusal(run(as(principal)))).toEqual({
        code: Code[outcome === NF ? Code.NotFound : Code.PermissionDenied],
        reason: reasons[outcome],
      });
      // A refused call changed nothing.
      expect((await admin().tenants.getTenant({ id: world.A.id })).tenant).toEqual(before);
      return;
    }
    const result = await run(as(principal));
    if (typeof outcome === "object") expect(result).toEqual(outcome.sees);
    await restore?.();
  });
});

// ---------------------------------------------------------------------------------------------

describe("a disabled tenant (TEN-2)", () => {
  it("can change nothing (TENANT_DISABLED) but still reads; other tenants are unaffected; enabling restores it", async () => {
    const tenantAdminA = as("tenant-admin of A");
    const memberA = as("tenant-member of A");
    const tenantAdminB = as("tenant-admin of B");
    const newMemberOf = (c: Clients, tenantId: string) =>
      c.identity.createToken({ principal: `member-${++seq}`, role: Role.TENANT_MEMBER, tenantId });

    await admin().tenants.disableTenant({ id: world.A.id, reason: "security review" });

    expect(await refusal(newMemberOf(tenantAdminA, world.A.id))).toEqual({
      code: Code[Code.FailedPrecondition],
      reason: "TENANT_DISABLED",
    });
    const ownToken = (await tenantAdminA.identity.listTokens({ filter: `principal = "amy"` })).tokens[0]!;
    expect(await refusal(memberA.identity.revokeToken({ id: ownToken.id }))).toEqual({
      code: Code[Code.FailedPrecondition],
      reason: "TENANT_DISABLED",
    });
    expect(
      await refusal(
        admin().inventory.reserveRackUnits({
          rackId: world.racks["rack-ab"].id,
          firstPosition: 1,
          unitCount: 1,
          purpose: "a",
          tenantId: world.A.id,
        }),
      ),
    ).toEqual({ code: Code[Code.FailedPrecondition], reason: "TENANT_DISABLED" });
    // The refusals are audited with their reason.
    const refused = (await admin().audit.listAuditEvents({ filter: `tenant_id = "${world.A.id}" AND reason = "TENANT_DISABLED"` }))
      .auditEvents;
    expect(refused.map((e) => e.method).sort()).toEqual([
      "rackplane.v1.IdentityService/CreateToken",
      "rackplane.v1.IdentityService/RevokeToken",
    ]);

    // Reads still work.
    expect((await tenantAdminA.tenants.getTenant({ id: world.A.id })).tenant).toMatchObject({
      disabled: true,
      disabledReason: "security review",
    });
    expect((await memberA.tenants.listTenants({})).tenants.map((x) => x.name)).toEqual(["tenant-a"]);
    expect((await memberA.inventory.getRack({ id: world.racks["rack-a"].id })).rack!.name).toBe("rack-a");
    expect((await memberA.inventory.listRacks({})).racks.map((rack) => rack.name).sort()).toEqual(["rack-a", "rack-ab"]);
    expect((await tenantAdminA.identity.listTokens({})).tokens.length).toBeGreaterThan(0);
    expect((await tenantAdminA.audit.listAuditEvents({})).auditEvents.length).toBeGreaterThan(0);
    // The token still authenticates (disabling is not revoking).
    expect((await memberA.identity.getCallerIdentity({})).tenantId).toBe(world.A.id);

    // B is unaffected.
    await newMemberOf(tenantAdminB, world.B.id);
    const { reservation } = await admin().inventory.reserveRackUnits({
      rackId: world.racks["rack-ab"].id,
      firstPosition: 1,
      unitCount: 1,
      purpose: "b",
      tenantId: world.B.id,
    });
    await admin().inventory.releaseRackUnits({ reservationId: reservation!.id });

    await admin().tenants.enableTenant({ id: world.A.id, reason: "review passed" });

    await newMemberOf(tenantAdminA, world.A.id);
    const { reservation: forA } = await admin().inventory.reserveRackUnits({
      rackId: world.racks["rack-ab"].id,
      firstPosition: 1,
      unitCount: 1,
      purpose: "a",
      tenantId: world.A.id,
    });
    expect(forA!.tenantId).toBe(world.A.id);
    await admin().inventory.releaseRackUnits({ reservationId: forA!.id });
  });
});
