// OpenID Connect: JWT bearer tokens from one configured issuer, beside rackplane's own opaque
// tokens. A bearer that looks like a JWT is verified here (signature against the issuer's JWKS,
// issuer, audience, lifetime); anything else goes to the opaque-token Authenticator unchanged.
// Claims map to a role and, for tenant roles, a tenant by configuration. docs/security.md#oidc.
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { UnauthenticatedError, UnavailableError } from "../domain/errors.js";
import { isTenantRole, roles, type Principal, type Role } from "../domain/principal.js";
import type { Database } from "./database.js";
import type { Authenticator } from "./identity.js";

export interface OidcSettings {
  /** The `iss` every token must carry, e.g. "https://login.example.com/realms/ops". */
  readonly issuer: string;
  /** The `aud` every token must include: this rackplane's client id at the provider. */
  readonly audience: string;
  /** Where the signing keys are; unset: `jwks_uri` of the issuer's discovery document. */
  readonly jwksUrl?: string;
  /** The claim holding role names: a top-level claim, or a dotted path ("realm_access.roles"). */
  readonly roleClaim: string;
  /** The claim naming the tenant (its id or its name), for tenant roles. */
  readonly tenantClaim: string;
  /** Claim value → role, tried in this order: the first value the token carries decides. Empty:
   * values that are role names (PLATFORM_ADMIN, TENANT_ADMIN …) stand for themselves. */
  readonly roleMap: readonly (readonly [value: string, role: Role])[];
  /** How soon a token signed by an unknown `kid` may fetch the JWKS again (default 30 s). */
  readonly jwksCooldownMs?: number;
}

/** Asymmetric algorithms only: a symmetric one would let anyone holding the JWKS sign, and
 * `none` signs nothing. */
const algorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
/** Clock skew tolerated between the provider and this server. */
const clockToleranceSeconds = 30;
/** A principal name is stored in 128 characters (audit, tokens, operations). */
const maxNameLength = 128;
const tenantCacheMillis = 5_000;
const jwsCompact = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class OidcAuthenticator {
  private keys: Promise<JWTVerifyGetKey> | undefined;
  private readonly tenants = new Map<string, { readonly id: string | undefined; readonly until: number }>();

  constructor(
    private readonly db: Database,
    private readonly tokens: Pick<Authenticator, "authenticate">,
    private readonly settings: OidcSettings,
  ) {}

  async authenticate(secret: string | undefined): Promise<Principal> {
    if (secret === undefined || !jwsCompact.test(secret)) return this.tokens.authenticate(secret);
    const payload = await this.verify(secret);
    return this.principalOf(payload);
  }

  private async verify(jwt: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(jwt, (header, token) => this.key(header, token), {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms,
        clockTolerance: clockToleranceSeconds,
        requiredClaims: ["exp", "sub"],
      });
      return payload;
    } catch (error) {
      throw refusal(error);
    }
  }

  /** The verification key for a token's header; an unknown `kid` fetches the JWKS again (after the
   * cooldown), which is how a provider's key rotation is picked up. */
  private async key(...args: Parameters<JWTVerifyGetKey>): Promise<Awaited<ReturnType<JWTVerifyGetKey>>> {
    this.keys ??= this.locateKeys().catch((error: unknown) => {
      this.keys = undefined; // try discovery again on the next token
      throw error;
    });
    const keys = await this.keys;
    try {
      return await keys(...args);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      if (error instanceof errors.JOSENotSupported || error instanceof errors.JOSEAlgNotAllowed) throw error;
      throw keysUnavailable(error);
    }
  }

  private async locateKeys(): Promise<JWTVerifyGetKey> {
    const options = { cooldownDuration: this.settings.jwksCooldownMs ?? 30_000 };
    if (this.settings.jwksUrl) return createRemoteJWKSet(new URL(this.settings.jwksUrl), options);
    const discovery = `${this.settings.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await fetch(discovery, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new Error(`${discovery} answered HTTP ${response.status}`);
      document = (await response.json()) as typeof document;
    } catch (error) {
      throw keysUnavailable(error);
    }
    // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer it was fetched for.
    if (document.issuer !== this.settings.issuer || typeof document.jwks_uri !== "string") {
      throw keysUnavailable(new Error(`${discovery} does not describe issuer ${this.settings.issuer} with a jwks_uri`));
    }
    return createRemoteJWKSet(new URL(document.jwks_uri), options);
  }

  private async principalOf(payload: JWTPayload): Promise<Principal> {
    // issuer and subject together name a person for good (OpenID Connect Core §2); the "#" keeps the
    // name out of reach of CreateToken's principal names, so no opaque token can share it.
    const name = `${payload.iss}#${payload.sub}`;
    if (name.length > maxNameLength) {
      throw new UnauthenticatedError("TOKEN_CLAIM_INVALID", `the token's issuer and sub make a name over ${maxNameLength} characters`);
    }
    const role = this.roleOf(payload);
    // An agent's reach (datacenters, groups, job kinds) is set on its token by the admin who issues
    // it; a provider's token carries none, so it would reach the whole fleet. Agents use opaque tokens.
    if (role === "AGENT") {
      throw new UnauthenticatedError("TOKEN_ROLE_NOT_ALLOWED", "agents authenticate with a rackplane agent token, not an OIDC token", {
        role,
      });
    }
    const tokenId = typeof payload.jti === "string" ? payload.jti : "";
    if (!isTenantRole(role)) return { name, role, tenantId: undefined, tokenId };
    const claimed = claimAt(payload, this.settings.tenantClaim);
    if (typeof claimed !== "string" || claimed === "") {
      throw new UnauthenticatedError(
        "TOKEN_TENANT_MISSING",
        `role ${role} needs a tenant; the token has no ${this.settings.tenantClaim} claim`,
        {
          role,
          claim: this.settings.tenantClaim,
        },
      );
    }
    const tenantId = await this.tenantId(claimed);
    if (tenantId === undefined) {
      throw new UnauthenticatedError("TOKEN_TENANT_UNKNOWN", `the token's ${this.settings.tenantClaim} claim names no tenant: ${claimed}`, {
        claim: this.settings.tenantClaim,
        tenant: claimed,
      });
    }
    return { name, role, tenantId, tokenId };
  }

  private roleOf(payload: JWTPayload): Role {
    const claimed = claimAt(payload, this.settings.roleClaim);
    const values = new Set((Array.isArray(claimed) ? claimed : [claimed]).filter((value): value is string => typeof value === "string"));
    const map = this.settings.roleMap.length > 0 ? this.settings.roleMap : roles.map((role) => [role, role] as const);
    const found = map.find(([value]) => values.has(value));
    if (!found) {
      throw new UnauthenticatedError(
        "TOKEN_ROLE_MISSING",
        `no value of the token's ${this.settings.roleClaim} claim maps to a rackplane role`,
        {
          claim: this.settings.roleClaim,
        },
      );
    }
    return found[1];
  }

  /** A tenant by id or by name, remembered for a few seconds (a deleted tenant's tokens stop
   * working within that time). */
  private async tenantId(claimed: string): Promise<string | undefined> {
    const now = Date.now();
    const cached = this.tenants.get(claimed);
    if (cached && cached.until > now) return cached.id;
    const column = uuid.test(claimed) ? "id" : "name";
    const rows = await this.db.em().execute<{ id: string }[]>(`select id from tenant where ${column} = ?`, [claimed]);
    const id = rows[0]?.id;
    if (this.tenants.size > 10_000) this.tenants.clear();
    this.tenants.set(claimed, { id, until: now + tenantCacheMillis });
    return id;
  }
}

/** A claim by its top-level name (names may hold dots: "https://example.com/roles"), else by a
 * dotted path into nested objects. */
function claimAt(payload: JWTPayload, claim: string): unknown {
  if (claim in payload) return payload[claim];
  let value: unknown = payload;
  for (const part of claim.split("."))
    value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[part] : undefined;
  return value;
}

class KeysUnavailable extends UnavailableError {}

function keysUnavailable(cause: unknown): UnavailableError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new KeysUnavailable(
    "OIDC_KEYS_UNAVAILABLE",
    `the identity provider's signing keys cannot be fetched now: ${detail}`,
    {},
    { cause },
  );
}

/** Why a JWT is refused, as a stable reason per failure. */
function refusal(error: unknown): Error {
  if (error instanceof UnavailableError) return error;
  const refuse = (reason: string, message: string) => new UnauthenticatedError(reason, message, {}, { cause: error });
  if (error instanceof errors.JWTExpired) return refuse("TOKEN_EXPIRED", "the bearer token has expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "iss") return refuse("TOKEN_WRONG_ISSUER", "the bearer token comes from another issuer");
    if (error.claim === "aud") return refuse("TOKEN_WRONG_AUDIENCE", "the bearer token is meant for another audience");
    if (error.claim === "nbf") return refuse("TOKEN_NOT_YET_VALID", "the bearer token is not valid yet");
    return refuse(
      "TOKEN_CLAIM_INVALID",
      `the bearer token's ${error.claim} claim is ${error.reason === "missing" ? "missing" : "invalid"}`,
    );
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return refuse("TOKEN_ALGORITHM_NOT_ALLOWED", `the bearer token must be signed with one of ${algorithms.join(", ")}`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return refuse("TOKEN_SIGNATURE_INVALID", "the bearer token's signature does not verify");
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return refuse("TOKEN_KEY_UNKNOWN", "the bearer token is signed with a key the issuer does not publish");
  }
  return refuse("TOKEN_MALFORMED", "the bearer token is not a well-formed signed JWT");
}

/**
 * The settings from the environment; undefined when RACKPLANE_OIDC_ISSUER is unset (OIDC off).
 * Throws an Error naming the setting that is wrong.
 */
export function oidcSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): OidcSettings | undefined {
  const issuer = env.RACKPLANE_OIDC_ISSUER?.trim();
  if (!issuer) return undefined;
  const audience = env.RACKPLANE_OIDC_AUDIENCE?.trim();
  if (!audience) throw new Error("RACKPLANE_OIDC_AUDIENCE is required with RACKPLANE_OIDC_ISSUER: the client id tokens must be issued for");
  const jwksUrl = env.RACKPLANE_OIDC_JWKS_URL?.trim() || undefined;
  for (const [setting, url] of [
    ["RACKPLANE_OIDC_ISSUER", issuer],
    ["RACKPLANE_OIDC_JWKS_URL", jwksUrl],
  ] as const) {
    if (url !== undefined && !URL.canParse(url)) throw new Error(`${setting} must be a URL, not ${JSON.stringify(url)}`);
  }
  return {
    issuer,
    audience,
    ...(jwksUrl ? { jwksUrl } : {}),
    roleClaim: env.RACKPLANE_OIDC_ROLE_CLAIM?.trim() || "roles",
    tenantClaim: env.RACKPLANE_OIDC_TENANT_CLAIM?.trim() || "tenant",
    roleMap: parseRoleMap(env.RACKPLANE_OIDC_ROLE_MAP ?? ""),
  };
}

/** "ops-admins=PLATFORM_ADMIN,payments-admins=TENANT_ADMIN": comma-separated `value=ROLE` entries,
 * in precedence order; the role may carry the contract's ROLE_ prefix. */
export function parseRoleMap(text: string): [string, Role][] {
  const entries: [string, Role][] = [];
  for (const entry of text.split(",").map((part) => part.trim())) {
    if (entry === "") continue;
    const at = entry.lastIndexOf("=");
    const value = entry.slice(0, at).trim();
    const role = entry
      .slice(at + 1)
      .trim()
      .replace(/^ROLE_/, "");
    if (at <= 0 || value === "" || !(roles as readonly string[]).includes(role)) {
      throw new Error(`RACKPLANE_OIDC_ROLE_MAP: ${JSON.stringify(entry)} is not value=ROLE with ROLE one of ${roles.join(", ")}`);
    }
    entries.push([value, role as Role]);
  }
  return entries;
}
