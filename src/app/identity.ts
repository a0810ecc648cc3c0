// Tokens and authentication. A token is looked up by the hash of its secret; the answer is cached
// for a few seconds per process, so the hot path costs no query. A revocation is therefore seen at
// once by the replica that made it and within `cacheMillis` by the others.
import { InvalidArgumentError, NotFoundError, PermissionDeniedError, UnauthenticatedError } from "../domain/errors.js";
import type { FilterSchema } from "../domain/filter.js";
import { isTenantRole, roles, type Principal, type Role } from "../domain/principal.js";
import { hashSecret, newSecret, secretPrefix } from "../domain/token.js";
import { ApiToken as ApiTokenEntity } from "../persistence/entities/index.js";
import type { CallContext } from "./context.js";
import type { Database } from "./database.js";
import { enumValues } from "../domain/filter-schema.js";
import { listPage, type ListRequest, type Page } from "./list.js";
import { mutate } from "./mutation.js";
import { requireTenantsExist } from "./tenants/references.js";
import { LockMode } from "@mikro-orm/postgresql";

export interface ApiToken {
  readonly id: string;
  readonly principal: string;
  readonly role: Role;
  readonly tenantId?: string | null;
  readonly description: string;
  readonly secretPrefix: string;
  readonly createdBy: string;
  readonly createTime: Date;
  readonly expireTime?: Date | null;
  readonly revokeTime?: Date | null;
}

export interface TokenRequest {
  readonly principal: string;
  readonly role: Role;
  readonly tenantId: string | null;
  readonly description: string;
  /** Lifetime in milliseconds; null for a token that does not expire. */
  readonly ttlMillis: number | null;
}

const tokenFilter: FilterSchema = {
  principal: { type: { kind: "string" }, property: "principal" },
  role: { type: { kind: "enum", values: enumValues("ROLE_", roles) }, property: "role" },
  tenant_id: { type: { kind: "uuid" }, property: "tenantId" },
  create_time: { type: { kind: "timestamp" }, property: "createTime" },
  expire_time: { type: { kind: "timestamp" }, property: "expireTime" },
  revoke_time: { type: { kind: "timestamp" }, property: "revokeTime" },
};

interface CachedPrincipal {
  readonly principal: Principal | undefined;
  readonly expireTime: number | null;
  readonly cachedUntil: number;
}

export class Authenticator {
  private readonly cache = new Map<string, CachedPrincipal>();
  private readonly loading = new Map<string, Promise<CachedPrincipal>>();

  constructor(
    private readonly db: Database,
    private readonly cacheMillis = 5_000,
  ) {}

  /** The principal a bearer secret speaks for; UNAUTHENTICATED for a missing, unknown, expired or
   * revoked one (the message does not say which, to give a guesser nothing). */
  async authenticate(secret: string | undefined): Promise<Principal> {
    if (!secret) throw new UnauthenticatedError("TOKEN_MISSING", "send a bearer token: authorization: Bearer <token>");
    const hash = hashSecret(secret);
    const now = Date.now();
    let entry = this.cache.get(hash);
    if (!entry || entry.cachedUntil <= now) {
      entry = await this.loadOnce(hash, now);
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, entry);
    }
    if (!entry.principal || (entry.expireTime !== null && entry.expireTime <= now)) {
      throw new UnauthenticatedError("TOKEN_INVALID", "the bearer token is unknown, expired or revoked");
    }
    return entry.principal;
  }

  /** Forgets a revoked token at once on this replica. */
  forget(tokenId: string): void {
    for (const [hash, entry] of this.cache) if (entry.principal?.tokenId === tokenId) this.cache.delete(hash);
  }

  /** Forgets every token of a deleted tenant at once on this replica. */
  forgetTenant(tenantId: string): void {
    for (const [hash, entry] of this.cache) if (entry.principal?.tenantId === tenantId) this.cache.delete(hash);
  }

  /**
   * Concurrent calls with the same secret share one look-up: a fleet of agents reconnecting at once
   * presents one token a thousand times before the first answer fills the cache, and each look-up
   * would otherwise hold an EntityManager and its query while it waits for a pooled connection.
   */
  private loadOnce(hash: string, now: number): Promise<CachedPrincipal> {
    let pending = this.loading.get(hash);
    if (!pending) {
      pending = this.load(hash, now).finally(() => this.loading.delete(hash));
      this.loading.set(hash, pending);
    }
    return pending;
  }

  private async load(hash: string, now: number): Promise<CachedPrincipal> {
    const token = await this.db.em().findOne(ApiTokenEntity, { secretHash: hash, revokeTime: null });
    const cachedUntil = now + this.cacheMillis;
    if (!token) return { principal: undefined, expireTime: null, cachedUntil };
    return {
      principal: { name: token.principal, role: token.role as Role, tenantId: token.tenantId ?? undefined, tokenId: token.id },
      expireTime: token.expireTime?.getTime() ?? null,
      cachedUntil,
    };
  }
}

/** Platform admins issue any token; tenant admins issue tenant tokens for their own tenant. */
function requireMayIssue(principal: Principal, request: TokenRequest): void {
  if (principal.role === "PLATFORM_ADMIN") return;
  if (principal.role === "TENANT_ADMIN" && isTenantRole(request.role) && request.tenantId === principal.tenantId) return;
  throw new PermissionDeniedError(
    "ROLE_NOT_ALLOWED",
    `role ${principal.role} may not issue ${request.role} tokens${request.tenantId ? ` for tenant ${request.tenantId}` : ""}`,
    {
      role: principal.role,
    },
  );
}

export async function createToken(db: Database, ctx: CallContext, request: TokenRequest): Promise<{ token: ApiToken; secret: string }> {
  requireMayIssue(ctx.principal, request);
  if (isTenantRole(request.role) !== (request.tenantId !== null)) {
    throw new InvalidArgumentError("TENANT_ROLE_MISMATCH", "tenant_id is required for tenant roles and must be empty for the others", [
      { field: "tenant_id", description: "required exactly for ROLE_TENANT_ADMIN and ROLE_TENANT_MEMBER" },
    ]);
  }
  const secret = newSecret();
  const token = await mutate(db, ctx, async (em) => {
    // A tenant role's tenant must exist (read FOR SHARE, so a concurrent DeleteTenant cannot slip
    // between the check and the new token).
    if (request.tenantId !== null) await requireTenantsExist(em, [request.tenantId]);
    return issue(em, ctx.principal.name, request, secret, ctx);
  });
  return { token, secret };
}

/** Writes the token row; shared by CreateToken and the first start's admin token. */
export function issue(
  em: ReturnType<Database["em"]>,
  createdBy: string,
  request: TokenRequest,
  secret: string,
  ctx?: CallContext,
): ApiToken {
  const token = em.create(ApiTokenEntity, {
    principal: request.principal,
    role: request.role,
    tenantId: request.tenantId,
    description: request.description,
    secretHash: hashSecret(secret),
    secretPrefix: secretPrefix(secret),
    createdBy,
    expireTime: request.ttlMillis === null ? null : new Date(Date.now() + request.ttlMillis),
  });
  if (ctx) {
    ctx.audit.resourceType = "api_token";
    ctx.audit.resourceId = token.id;
  }
  return token as ApiToken;
}

export async function listTokens(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<ApiToken>> {
  const { principal } = ctx;
  const scope =
    principal.role === "PLATFORM_ADMIN"
      ? undefined
      : principal.role === "TENANT_ADMIN"
        ? { tenantId: principal.tenantId ?? "" }
        : // A principal name is only unique within its tenant (a tenant admin picks the names of
          // its tenant's tokens): "alice" of tenant A is not the platform's "alice".
          { principal: principal.name, tenantId: principal.tenantId ?? null };
  const page = await listPage(db.em(), ApiTokenEntity, request, tokenFilter, { newestFirst: true, ...(scope ? { scope } : {}) });
  return page as Page<ApiToken>;
}

export async function revokeToken(db: Database, ctx: CallContext, authenticator: Authenticator, id: string): Promise<ApiToken> {
  const token = await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = "api_token";
    ctx.audit.resourceId = id;
    const token = await em.findOne(ApiTokenEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!token || !mayManage(ctx.principal, token)) throw new NotFoundError("api_token", id);
    token.revokeTime ??= new Date();
    return token;
  });
  authenticator.forget(id);
  return token as ApiToken;
}

function mayManage(principal: Principal, token: { principal: string; tenantId?: string | null }): boolean {
  if (principal.role === "PLATFORM_ADMIN") return true;
  if (principal.role === "TENANT_ADMIN" && token.tenantId === principal.tenantId) return true;
  return token.principal === principal.name && (token.tenantId ?? undefined) === principal.tenantId;
}

/** On first start with an empty token table, the platform-admin token an operator begins with. */
export async function bootstrapAdminToken(db: Database): Promise<string | undefined> {
  const em = db.em();
  return em.transactional(async (tx) => {
    // One replica wins the first start; the others see the token and do nothing.
    await tx.execute("select pg_advisory_xact_lock(7245031)");
    if ((await tx.count(ApiTokenEntity, {})) > 0) return undefined;
    const secret = newSecret();
    issue(
      tx,
      "rackplane",
      { principal: "admin", role: "PLATFORM_ADMIN", tenantId: null, description: "created on first start", ttlMillis: null },
      secret,
    );
    return secret;
  });
}
