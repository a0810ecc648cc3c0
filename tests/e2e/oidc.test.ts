// OIDC: JWT bearer tokens from the configured issuer, verified against a JWKS this test serves on
// loopback, mapped to a role and a tenant by configuration. Opaque tokens keep working beside them;
// every refusal is UNAUTHENTICATED with its own stable reason.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { AuditService } from "../../gen/es/rackplane/v1/audit_pb.js";
import { IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { OidcAuthenticator, type OidcSettings } from "../../src/app/oidc.js";
import { DomainError } from "../../src/domain/errors.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

/** A stand-in identity provider: a discovery document and a JWKS whose keys the tests change. */
const published: JWK[] = [];
let fetches = 0;
/** While set, the discovery document answers 503. */
let discoveryDown = false;
let provider: http.Server;
let issuer: string;
const audience = "rackplane";

type SigningKey = { kid: string; privateKey: CryptoKey; jwk: JWK };
async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } };
}

let first: SigningKey;
let t: TestServer;
let payments: string;
let settings: OidcSettings;

beforeAll(async () => {
  provider = http.createServer((req, res) => {
    if (req.url === "/jwks") {
      fetches++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: published }));
    } else if (req.url === "/.well-known/openid-configuration" && discoveryDown) {
      res.writeHead(503).end();
    } else if (req.url === "/.well-known/openid-configuration") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  first = await signingKey("key-1");
  published.push(first.jwk);
  settings = {
    issuer,
    audience,
    jwksUrl: `${issuer}/jwks`,
    roleClaim: "groups",
    tenantClaim: "rackplane_tenant",
    // In precedence order: someone in both payments groups is a tenant admin.
    roleMap: [
      ["ops", "PLATFORM_ADMIN"],
      ["payments-admins", "TENANT_ADMIN"],
      ["payments", "TENANT_MEMBER"],
      ["robots", "AGENT"],
    ],
    // The test rotates keys at once; a real provider is given the default 30 s.
    jwksCooldownMs: 0,
  };
  t = await startTestServer(undefined, { oidc: settings });
  payments = await t.tenant("payments");
});
afterAll(async () => {
  await t?.close();
  provider.close();
});

const now = () => Math.floor(Date.now() / 1000);

function sign(claims: JWTPayload, key: SigningKey = first, header: { iss?: string; aud?: string; exp?: number } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "JWT" })
    .setIssuer(header.iss ?? issuer)
    .setAudience(header.aud ?? audience)
    .setIssuedAt()
    .setExpirationTime(header.exp ?? now() + 300)
    .sign(key.privateKey);
}

function as(token: string) {
  const transport = createGrpcTransport({
    baseUrl: t.url,
    interceptors: [bearer(token)],
  });
  return {
    identity: createClient(IdentityService, transport),
    inventory: createClient(InventoryService, transport),
    audit: createClient(AuditService, transport),
  };
}

async function refusedWith(bearer: string): Promise<{ code: string; reason: string | undefined }> {
  try {
    await as(bearer).identity.getCallerIdentity({});
  } catch (error) {
    const connectError = ConnectError.from(error);
    return { code: Code[connectError.code], reason: connectError.findDetails(ErrorInfoSchema)[0]?.reason };
  }
  throw new Error("the token was accepted");
}

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("a valid token", () => {
  it("makes a platform admin of an ops person, named by issuer and subject", async () => {
    const jwt = await sign({ sub: "alice", groups: ["ops"], jti: "jwt-1" });
    const identity = await as(jwt).identity.getCallerIdentity({});
    expect(identity).toMatchObject({ principal: `${issuer}#alice`, role: Role.PLATFORM_ADMIN, tenantId: "", tokenId: "jwt-1" });
  });

  it("gives a tenant role the tenant its claim names, by name or by id; the first mapped value wins", async () => {
    for (const tenant of ["payments", payments]) {
      const jwt = await sign({ sub: "pat", groups: ["payments", "payments-admins"], rackplane_tenant: tenant });
      const identity = await as(jwt).identity.getCallerIdentity({});
      expect(identity).toMatchObject({ principal: `${issuer}#pat`, role: Role.TENANT_ADMIN, tenantId: payments });
    }
  });

  it("reads a role claim by a dotted path, and a single string as one value", async () => {
    const authenticator = new OidcAuthenticator(
      t.server.db,
      { authenticate: () => Promise.reject(new Error("not a JWT")) },
      {
        ...settings,
        roleClaim: "realm_access.roles",
      },
    );
    const nested = await authenticator.authenticate(await sign({ sub: "kc", realm_access: { roles: ["offline", "ops"] } }));
    expect(nested.role).toBe("PLATFORM_ADMIN");
    const single = await new OidcAuthenticator(
      t.server.db,
      { authenticate: () => Promise.reject(new Error("not a JWT")) },
      settings,
    ).authenticate(await sign({ sub: "one", groups: "payments", rackplane_tenant: "payments" }));
    expect(single).toMatchObject({ role: "TENANT_MEMBER", tenantId: payments });
  });

  it("names the person in the audit trail of what they changed", async () => {
    const jwt = await sign({ sub: "alice", groups: ["ops"] });
    const { region } = await as(jwt).inventory.createRegion({ region: { name: "oidc-audited" } });
    const { auditEvents: events } = await t.clients().audit.listAuditEvents({ filter: `resource_id = "${region!.id}"`, pageSize: 10 });
    expect(events.map((event) => [event.principal, event.method, event.result])).toEqual([
      [`${issuer}#alice`, "rackplane.v1.InventoryService/CreateRegion", "OK"],
    ]);
  });

  it("leaves opaque tokens working", async () => {
    expect(await t.clients().identity.getCallerIdentity({})).toMatchObject({ principal: "admin", role: Role.PLATFORM_ADMIN });
  });
});

describe("key rotation", () => {
  it("accepts a token signed by a key the provider publishes after the last fetch", async () => {
    await as(await sign({ sub: "alice", groups: ["ops"] })).identity.getCallerIdentity({});
    const second = await signingKey("key-2");
    const early = await sign({ sub: "alice", groups: ["ops"] }, second);
    expect(await refusedWith(early)).toEqual({ code: "Unauthenticated", reason: "TOKEN_KEY_UNKNOWN" });

    const before = fetches;
    published.push(second.jwk);
    const identity = await as(await sign({ sub: "alice", groups: ["ops"] }, second)).identity.getCallerIdentity({});
    expect(identity.role).toBe(Role.PLATFORM_ADMIN);
    expect(fetches).toBeGreaterThan(before);
    // The old key still works while the provider publishes it.
    await as(await sign({ sub: "alice", groups: ["ops"] }, first)).identity.getCallerIdentity({});
  });
});

describe("refusals, each UNAUTHENTICATED with its own reason", () => {
  const ops = { sub: "mallory", groups: ["ops"] };

  it.each<[string, () => Promise<string>, string]>([
    ["expired", () => sign(ops, first, { exp: now() - 3600 }), "TOKEN_EXPIRED"],
    ["for another audience", () => sign(ops, first, { aud: "someone-else" }), "TOKEN_WRONG_AUDIENCE"],
    ["from another issuer", () => sign(ops, first, { iss: "https://evil.example" }), "TOKEN_WRONG_ISSUER"],
    [
      "unsigned (alg: none)",
      async () => `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ ...ops, iss: issuer, aud: audience, exp: now() + 300 })}.`,
      "TOKEN_ALGORITHM_NOT_ALLOWED",
    ],
    [
      "signed with a shared secret (HS256)",
      () =>
        new SignJWT(ops)
          .setProtectedHeader({ alg: "HS256", kid: first.kid })
          .setIssuer(issuer)
          .setAudience(audience)
          .setExpirationTime(now() + 300)
          .sign(new TextEncoder().encode("a secret anyone could guess at all")),
      "TOKEN_ALGORITHM_NOT_ALLOWED",
    ],
    [
      "tampered (claims changed after signing)",
      async () => {
        const [header, , signature] = (await sign({ sub: "mallory", groups: ["payments"], rackplane_tenant: "payments" })).split(".");
        return `${header}.${base64url({ ...ops, iss: issuer, aud: audience, exp: now() + 300 })}.${signature}`;
      },
      "TOKEN_SIGNATURE_INVALID",
    ],
    [
      "without an expiry",
      () =>
        new SignJWT(ops)
          .setProtectedHeader({ alg: "ES256", kid: first.kid })
          .setIssuer(issuer)
          .setAudience(audience)
          .sign(first.privateKey),
      "TOKEN_CLAIM_INVALID",
    ],
    ["not a JWT at all (three dotted parts of nonsense)", async () => "abc.def.ghi", "TOKEN_MALFORMED"],
    ["with no group that maps to a role", () => sign({ sub: "nobody", groups: ["staff"] }), "TOKEN_ROLE_MISSING"],
    ["for a tenant role without a tenant", () => sign({ sub: "pat", groups: ["payments"] }), "TOKEN_TENANT_MISSING"],
    [
      "mapped to the agent role (agents' scopes live on their own tokens)",
      () => sign({ sub: "bot", groups: ["robots"] }),
      "TOKEN_ROLE_NOT_ALLOWED",
    ],
    [
      "naming a tenant that does not exist",
      () => sign({ sub: "pat", groups: ["payments"], rackplane_tenant: "no-such-tenant" }),
      "TOKEN_TENANT_UNKNOWN",
    ],
    [
      "naming a tenant id that does not exist",
      () => sign({ sub: "pat", groups: ["payments"], rackplane_tenant: "0f5b4a3e-58a1-4c4e-9b7e-1d2c3b4a5f60" }),
      "TOKEN_TENANT_UNKNOWN",
    ],
  ])("%s", async (_name, token, reason) => {
    expect(await refusedWith(await token())).toEqual({ code: "Unauthenticated", reason });
  });

  it("a refused mutation is audited as anonymous with the reason", async () => {
    const expired = await sign(ops, first, { exp: now() - 3600 });
    await expect(as(expired).inventory.createRegion({ region: { name: "never" } })).rejects.toThrow();
    const { auditEvents: events } = await t
      .clients()
      .audit.listAuditEvents({ filter: `method = "rackplane.v1.InventoryService/CreateRegion" AND result != "OK"`, pageSize: 10 });
    expect(events[0]).toMatchObject({ principal: "anonymous", result: "UNAUTHENTICATED", reason: "TOKEN_EXPIRED" });
  });
});

describe("finding the keys", () => {
  const opaque = { authenticate: () => Promise.reject(new Error("not a JWT")) };

  it("by discovery when no JWKS URL is set; a failed discovery is tried again on the next token", async () => {
    const { jwksUrl: _, ...discovering } = settings;
    const authenticator = new OidcAuthenticator(t.server.db, opaque, discovering);
    const jwt = await sign({ sub: "alice", groups: ["ops"] });
    discoveryDown = true;
    try {
      await expect(authenticator.authenticate(jwt)).rejects.toMatchObject({ code: "UNAVAILABLE", reason: "OIDC_KEYS_UNAVAILABLE" });
    } finally {
      discoveryDown = false;
    }
    expect(await authenticator.authenticate(jwt)).toMatchObject({ role: "PLATFORM_ADMIN" });
  });

  it("answers UNAVAILABLE while the JWKS cannot be reached", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const gone = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const authenticator = new OidcAuthenticator(t.server.db, opaque, { ...settings, jwksUrl: `${gone}/jwks` });
    const error = await authenticator.authenticate(await sign({ sub: "alice", groups: ["ops"] })).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: "UNAVAILABLE", reason: "OIDC_KEYS_UNAVAILABLE" });
  });
});
