// Tokens: issued with a secret shown once and never stored, bound to a role (and, for tenant roles,
// a tenant), issued only by those allowed to, revoked at once, listed within the caller's scope.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { AuditService } from "../../gen/es/rackplane/v1/audit_pb.js";
import { IdentityService, Role, type ApiToken } from "../../gen/es/rackplane/v1/identity_pb.js";
import { InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;

/** The tenants of the tenant principals, created in beforeAll (a tenant token names a tenant that
 * exists, TEN-2); "" is no tenant. */
type TenantKey = "A" | "B" | "";
let tenants: Record<TenantKey, string>;
const MISSING = "0f5b4a3e-58a1-4c4e-9b7e-1d2c3b4a5f60";

/** Callers, issued by the platform admin in beforeAll: name → [secret, token id]. */
const callers: Record<string, { secret: string; id: string }> = {};

async function issue(name: string, principal: string, role: Role, tenantId = "") {
  const { token, secret } = await t.clients().identity.createToken({ principal, role, tenantId });
  callers[name] = { secret, id: token!.id };
}

beforeAll(async () => {
  t = await startTestServer();
  tenants = { A: await t.tenant("identity-a"), B: await t.tenant("identity-b"), "": "" };
  await issue("alice", "alice", Role.TENANT_ADMIN, tenants.A);
  await issue("amy", "amy", Role.TENANT_MEMBER, tenants.A);
  await issue("bob", "bob", Role.TENANT_ADMIN, tenants.B);
  await issue("bert", "bert", Role.TENANT_MEMBER, tenants.B);
  await issue("svc", "svc", Role.SERVICE);
  await issue("agent", "agent", Role.AGENT);
  await issue("ops", "ops", Role.PLATFORM_ADMIN);
});
afterAll(() => t.close());

function as(caller: string | undefined) {
  const secret = caller === undefined ? t.adminToken : (callers[caller]?.secret ?? caller);
  const transport = createGrpcTransport({
    baseUrl: t.url,
    interceptors: [bearer(secret)],
  });
  return {
    identity: createClient(IdentityService, transport),
    inventory: createClient(InventoryService, transport),
    audit: createClient(AuditService, transport),
  };
}

async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("the call was accepted");
}

function expectRefusal(error: ConnectError, code: Code, reason: string): void {
  expect(Code[error.code]).toBe(Code[code]);
  expect(error.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason, domain: "rackplane.dev" });
}

/** Every token, as the platform admin sees them (all of them), newest first. */
async function allTokens(filter = ""): Promise<ApiToken[]> {
  return (await t.clients().identity.listTokens({ pageSize: 1000, filter })).tokens;
}

// ------------------------------------------------------------------------------------------------

describe("CreateToken", () => {
  it("returns the secret once; it works as a bearer token and GetCallerIdentity names its holder", async () => {
    const before = Date.now();
    const { token, secret } = await t
      .clients()
      .identity.createToken({ principal: "carol", role: Role.TENANT_MEMBER, tenantId: tenants.A, description: "carol's laptop" });
    expect(secret).toMatch(/^rpt_[A-Za-z0-9_-]{43}$/);
    expect(token).toMatchObject({
      principal: "carol",
      role: Role.TENANT_MEMBER,
      tenantId: tenants.A,
      description: "carol's laptop",
      createdBy: "admin",
    });
    expect(token!.expireTime).toBeUndefined();
    expect(token!.revokeTime).toBeUndefined();
    expect(Math.abs(timestampDate(token!.createTime!).getTime() - before)).toBeLessThan(5_000);
    expect(secret.startsWith(token!.secretPrefix)).toBe(true);
    expect(token!.secretPrefix.length).toBeGreaterThanOrEqual(4);
    expect(token!.secretPrefix.length).toBeLessThanOrEqual(12);

    const me = await as(secret).identity.getCallerIdentity({});
    expect(me).toMatchObject({ principal: "carol", role: Role.TENANT_MEMBER, tenantId: tenants.A, tokenId: token!.id });
    const admin = await t.clients().identity.getCallerIdentity({});
    expect(admin).toMatchObject({ principal: "admin", role: Role.PLATFORM_ADMIN, tenantId: "" });
  });

  it("the secret is never shown again, and not stored: ListTokens and the database hold only its prefix", async () => {
    const { token, secret } = await t.clients().identity.createToken({ principal: "dave", role: Role.SERVICE });
    const listed = await t.json("IdentityService/ListTokens", { filter: 'principal = "dave"' });
    expect(listed.status).toBe(200);
    expect(listed.body.tokens).toHaveLength(1);
    expect(listed.body.tokens[0].secretPrefix).toBe(token!.secretPrefix);
    const rest = secret.slice(token!.secretPrefix.length);
    expect(JSON.stringify(listed.body)).not.toContain(rest);

    const em = t.server.db.em();
    for (const table of ["api_token", "audit_event", "idempotency_key"]) {
      const rows = await em.execute(`select * from ${table}`);
      expect(JSON.stringify(rows), table).not.toContain(rest);
    }
    const [row] = await em.execute<{ secret_prefix: string }[]>(`select * from api_token where id = ?`, [token!.id]);
    expect(row!.secret_prefix).toBe(token!.secretPrefix);
  });

  it.each<[string, Role, TenantKey]>([
    ["a tenant admin token without tenant_id", Role.TENANT_ADMIN, ""],
    ["a tenant member token without tenant_id", Role.TENANT_MEMBER, ""],
    ["a platform admin token with a tenant_id", Role.PLATFORM_ADMIN, "A"],
    ["a service token with a tenant_id", Role.SERVICE, "A"],
    ["an agent token with a tenant_id", Role.AGENT, "A"],
  ])("refuses %s: INVALID_ARGUMENT on tenant_id", async (_what, role, tenant) => {
    const count = (await allTokens()).length;
    const error = await refusal(t.clients().identity.createToken({ principal: "erin", role, tenantId: tenants[tenant] }));
    expectRefusal(error, Code.InvalidArgument, "VALIDATION_FAILED");
    expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["tenant_id"]);
    expect((await allTokens()).length).toBe(count);
  });

  it("a token with ttl 60 s (the minimum) expires 60 s from now, and works until then", async () => {
    const before = Date.now();
    const { token, secret } = await t.clients().identity.createToken({ principal: "brief", role: Role.AGENT, ttl: { seconds: 60n } });
    const after = Date.now();
    const expires = timestampDate(token!.expireTime!).getTime();
    expect(expires).toBeGreaterThanOrEqual(before + 60_000 - 1_000);
    expect(expires).toBeLessThanOrEqual(after + 60_000 + 1_000);
    expect((await as(secret).identity.getCallerIdentity({})).principal).toBe("brief");
    const listed = await allTokens(`principal = "brief" AND expire_time > "${new Date(before + 30_000).toISOString()}"`);
    expect(listed.map((k) => k.id)).toEqual([token!.id]);
    expectRefusal(
      await refusal(t.clients().identity.createToken({ principal: "briefer", role: Role.AGENT, ttl: { seconds: 59n } })),
      Code.InvalidArgument,
      "VALIDATION_FAILED",
    );
  });
});

// ------------------------------------------------------------------------------------------------

describe("who may issue which token", () => {
  it.each<[string, Role, TenantKey, "OK" | "PERMISSION_DENIED"]>([
    ["a tenant member of its own tenant", Role.TENANT_MEMBER, "A", "OK"],
    ["a tenant admin of its own tenant", Role.TENANT_ADMIN, "A", "OK"],
    ["a tenant member of another tenant", Role.TENANT_MEMBER, "B", "PERMISSION_DENIED"],
    ["a tenant admin of another tenant", Role.TENANT_ADMIN, "B", "PERMISSION_DENIED"],
    ["a service token", Role.SERVICE, "", "PERMISSION_DENIED"],
    ["an agent token", Role.AGENT, "", "PERMISSION_DENIED"],
    ["a platform admin token", Role.PLATFORM_ADMIN, "", "PERMISSION_DENIED"],
  ])("a tenant admin issuing %s → %s", async (_what, role, tenant, outcome) => {
    const tenantId = tenants[tenant];
    const count = (await allTokens()).length;
    const call = as("alice").identity.createToken({ principal: `by-alice-${count}`, role, tenantId });
    if (outcome === "OK") {
      const { token, secret } = await call;
      expect(token).toMatchObject({ role, tenantId: tenants.A, createdBy: "alice" });
      expect((await as(secret).identity.getCallerIdentity({})).tenantId).toBe(tenants.A);
      expect((await allTokens()).length).toBe(count + 1);
    } else {
      expectRefusal(await refusal(call), Code.PermissionDenied, "ROLE_NOT_ALLOWED");
      expect((await allTokens()).length).toBe(count);
    }
  });

  it.each<[string, Role, TenantKey]>([
    ["svc", Role.SERVICE, ""],
    ["svc", Role.TENANT_MEMBER, "A"],
    ["agent", Role.AGENT, ""],
    ["agent", Role.TENANT_MEMBER, "A"],
    ["amy", Role.TENANT_MEMBER, "A"],
    ["amy", Role.TENANT_ADMIN, "A"],
  ])("%s may not issue tokens (role %s) → PERMISSION_DENIED", async (caller, role, tenant) => {
    const count = (await allTokens()).length;
    expectRefusal(
      await refusal(as(caller).identity.createToken({ principal: "minted", role, tenantId: tenants[tenant] })),
      Code.PermissionDenied,
      "ROLE_NOT_ALLOWED",
    );
    expect((await allTokens()).length).toBe(count);
  });
});

// ------------------------------------------------------------------------------------------------

describe("RevokeToken", () => {
  it("makes the token fail with UNAUTHENTICATED at once, on every RPC; revoking again changes nothing", async () => {
    const { token, secret } = await t.clients().identity.createToken({ principal: "victim", role: Role.SERVICE });
    const victim = as(secret);
    // Used first, so that the server has it in its authentication cache.
    expect((await victim.identity.getCallerIdentity({})).tokenId).toBe(token!.id);
    await victim.inventory.listRegions({});

    const { token: revoked } = await t.clients().identity.revokeToken({ id: token!.id });
    expect(revoked!.id).toBe(token!.id);
    expect(revoked!.revokeTime).toBeDefined();

    expectRefusal(await refusal(victim.identity.getCallerIdentity({})), Code.Unauthenticated, "TOKEN_INVALID");
    expectRefusal(await refusal(victim.inventory.listRegions({})), Code.Unauthenticated, "TOKEN_INVALID");
    expectRefusal(
      await refusal(victim.inventory.createRegion({ region: { name: "after-revoke" } })),
      Code.Unauthenticated,
      "TOKEN_INVALID",
    );

    const again = await t.clients().identity.revokeToken({ id: token!.id });
    expect(again.token!.revokeTime).toEqual(revoked!.revokeTime);
    const [listed] = await allTokens(`principal = "victim"`);
    expect(listed!.revokeTime).toEqual(revoked!.revokeTime);
  });

  it("a holder may revoke its own token", async () => {
    const { token, secret } = await t.clients().identity.createToken({ principal: "selfish", role: Role.AGENT });
    await as(secret).identity.revokeToken({ id: token!.id });
    expectRefusal(await refusal(as(secret).identity.getCallerIdentity({})), Code.Unauthenticated, "TOKEN_INVALID");
  });

  it("a tenant admin may revoke its tenant's tokens", async () => {
    const { token, secret } = await t.clients().identity.createToken({ principal: "temp", role: Role.TENANT_MEMBER, tenantId: tenants.A });
    await as("alice").identity.revokeToken({ id: token!.id });
    expectRefusal(await refusal(as(secret).identity.getCallerIdentity({})), Code.Unauthenticated, "TOKEN_INVALID");
  });

  it.each<[string, string, () => string]>([
    ["a tenant admin, another tenant's token", "alice", () => callers.bert!.id],
    ["a tenant admin, the platform's tokens", "alice", () => callers.svc!.id],
    ["a tenant member, another member's token", "amy", () => callers.alice!.id],
    ["a service, another principal's token", "svc", () => callers.agent!.id],
    ["a tenant member named like a platform admin, that admin's token", "ops-of-tenant-a", () => callers.ops!.id],
    ["anyone, a token that does not exist", "alice", () => MISSING],
  ])("%s → NOT_FOUND, and the token keeps working", async (_what, caller, id) => {
    if (caller === "ops-of-tenant-a" && !callers[caller]) {
      // A tenant admin names its tenant's principals as it likes, "ops" included.
      const { token, secret } = await as("alice").identity.createToken({ principal: "ops", role: Role.TENANT_MEMBER, tenantId: tenants.A });
      callers[caller] = { secret, id: token!.id };
    }
    expectRefusal(await refusal(as(caller).identity.revokeToken({ id: id() })), Code.NotFound, "RESOURCE_NOT_FOUND");
    const holder = Object.values(callers).find((c) => c.id === id());
    if (holder) expect((await as(holder.secret).identity.getCallerIdentity({})).tokenId).toBe(id());
  });
});

// ------------------------------------------------------------------------------------------------

describe("ListTokens", () => {
  const ids = (tokens: ApiToken[]) => tokens.map((k) => k.id);

  it("a platform admin sees every token, newest first", async () => {
    const all = await allTokens();
    for (const caller of Object.values(callers)) expect(ids(all)).toContain(caller.id);
    const created = all.map((k) => timestampDate(k.createTime!).getTime());
    expect(created).toEqual([...created].sort((a, b) => b - a));
    expect(ids(all)).toEqual([...ids(all)].sort().reverse());
  });

  it("a tenant admin sees exactly its tenant's tokens", async () => {
    const seen = (await as("alice").identity.listTokens({ pageSize: 1000 })).tokens;
    expect(seen.length).toBeGreaterThan(2);
    expect(ids(seen)).toEqual(ids((await allTokens()).filter((k) => k.tenantId === tenants.A)));
    expect(ids(seen)).toContain(callers.amy!.id);
    expect(ids(seen)).not.toContain(callers.bert!.id);
  });

  it.each<[string, string, TenantKey]>([
    ["a tenant member", "amy", "A"],
    ["a service", "svc", ""],
    ["an agent", "agent", ""],
  ])("%s sees only its own principal's tokens", async (_what, caller, tenant) => {
    const tenantId = tenants[tenant];
    await t.clients().identity.createToken({ principal: caller, role: tenantId ? Role.TENANT_MEMBER : Role.SERVICE, tenantId });
    const seen = (await as(caller).identity.listTokens({ pageSize: 1000 })).tokens;
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((k) => k.principal === caller)).toBe(true);
    expect(ids(seen)).toEqual(ids((await allTokens()).filter((k) => k.principal === caller && k.tenantId === tenantId)));
  });

  it("a tenant member named like a platform principal does not see that principal's tokens", async () => {
    const { secret, token } = await as("alice").identity.createToken({ principal: "ops", role: Role.TENANT_MEMBER, tenantId: tenants.A });
    const seen = (await as(secret).identity.listTokens({ pageSize: 1000 })).tokens;
    expect(ids(seen)).toContain(token!.id);
    expect(ids(seen)).not.toContain(callers.ops!.id);
    expect(seen.every((k) => k.tenantId === tenants.A)).toBe(true);
  });

  it("filters by role = ROLE_SERVICE", async () => {
    const services = await allTokens("role = ROLE_SERVICE");
    expect(ids(services)).toContain(callers.svc!.id);
    expect(ids(services)).toEqual(ids((await allTokens()).filter((k) => k.role === Role.SERVICE)));
    expect(ids(await allTokens("role = SERVICE"))).toEqual(ids(services));
  });

  it("filters by principal and role, tenant_id and revoke_time", async () => {
    expect(ids(await allTokens('principal = "alice" AND role = ROLE_TENANT_ADMIN'))).toEqual([callers.alice!.id]);
    expect(ids(await allTokens(`tenant_id = "${tenants.B}"`))).toEqual(ids((await allTokens()).filter((k) => k.tenantId === tenants.B)));
    const revoked = await allTokens('revoke_time > "2000-01-01T00:00:00Z"');
    expect(revoked.length).toBeGreaterThan(0);
    expect(ids(revoked)).toEqual(ids((await allTokens()).filter((k) => k.revokeTime)));
  });

  it("pages", async () => {
    const all = ids(await allTokens());
    const paged: string[] = [];
    let pageToken = "";
    do {
      const page = await t.clients().identity.listTokens({ pageSize: 4, pageToken });
      expect(page.tokens.length).toBeLessThanOrEqual(4);
      paged.push(...ids(page.tokens));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(paged).toEqual(all);
  });
});
