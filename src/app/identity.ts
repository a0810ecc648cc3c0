// Tokens and authentication. A token is looked up by the hash of its secret; the answer is cached
// for a few seconds per process, so the hot path costs no query. A change to a token row (a
// revocation, a deletion) is announced by a trigger on `rackplane_token`, and every replica drops the
// token when the notice arrives; `cacheMillis` bounds it only while notices cannot arrive.
import { InvalidArgumentError, NotFoundError, PermissionDeniedError, UnauthenticatedError } from "../domain/errors.js";
import type { FilterSchema } from "../domain/filter.js";
import { isTenantRole, roles, type AgentTokenScope, type Principal, type Role } from "../domain/principal.js";
import { hashSecret, newSecret, secretPrefix } from "../domain/token.js";
import { isWholeFleet } from "../domain/agent-scope.js";
import type { Notifications } from "../persistence/notifications.js";
import { ApiToken as ApiTokenEntity } from "../persistence/entities/index.js";
import type { CallContext } from "./context.js";
import type { Database } from "./database.js";
import { enumValues } from "../domain/filter-schema.js";
import { listPage, type ListRequest, type Page } from "./list.js";
import { mutate } from "./mutation.js";
import { requireTenantsExist } from "./tenants/references.js";
import { requireScopeReferencesExist } from "./agents/scope.js";
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
  /** For agent tokens; all lists empty for the whole fleet. */
  readonly scopeDatacenterIds: readonly string[];
  readonly scopeGroupIds: readonly string[];
  readonly scopeJobKinds: readonly string[];
}

export interface TokenRequest {
  readonly principal: string;
  readonly role: Role;
  readonly tenantId: string | null;
  readonly description: string;
  /** Lifetime in milliseconds; null for a token that does not expire. */
  readonly ttlMillis: number | null;
  /** For agent tokens: the part of the fleet it is confined to; absent for the whole fleet. */
  readonly agentScope?: AgentTokenScope;
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

/** A look-up's answer and the generation it began under. */
interface Loaded {
  readonly generation: number;
  readonly entry: CachedPrincipal;
}

export class Authenticator {
  private readonly cache = new Map<string, CachedPrincipal>();
  private readonly loading = new Map<string, Promise<Loaded>>();
  /** Raised by every invalidation. A look-up that began under an older generation may have read a
   * token before its revocation committed: its answer serves the calls that were waiting for it but
   * is not cached. */
  private generation = 0;

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
      const { generation, entry: loaded } = await this.loadOnce(hash, now);
      entry = loaded;
      if (generation === this.generation) {
        if (this.cache.size > 10_000) this.cache.clear();
        this.cache.set(hash, entry);
      }
    }
    if (!entry.principal || (entry.expireTime !== null && entry.expireTime <= now)) {
      throw new UnauthenticatedError("TOKEN_INVALID", "the bearer token is unknown, expired or revoked");
    }
    return entry.principal;
  }

  /** Forgets a revoked token at once on this replica. */
  forget(tokenId: string): void {
    this.invalidate();
    for (const [hash, entry] of this.cache) if (entry.principal?.tokenId === tokenId) this.cache.delete(hash);
  }

  /** Forgets every token of a deleted tenant at once on this replica. */
  forgetTenant(tenantId: string): void {
    this.invalidate();
    for (const [hash, entry] of this.cache) if (entry.principal?.tenantId === tenantId) this.cache.delete(hash);
  }

  /** Forgets every token: notices may have been lost. */
  forgetAll(): void {
    this.invalidate();
    this.cache.clear();
  }

  /** Follows the database's notices of changed tokens (and forgets everything when the listening
   * connection was lost and is back) until the returned function is called. */
  follow(notifications: Notifications): () => void {
    const unsubscribe = notifications.subscribe("rackplane_token", (tokenId) => this.forget(tokenId));
    const unfollow = notifications.onReconnect(() => this.forgetAll());
    return () => {
      unsubscribe();
      unfollow();
    };
  }

  /** Look-ups under way may have read the old row: later calls start their own, and theirs are
   * not cached. */
  private invalidate(): void {
    this.generation++;
    this.loading.clear();
  }

  /**
   * Concurrent calls with the same secret share one look-up: a fleet of agents reconnecting at once
   * presents one token a thousand times before the first answer fills the cache, and each look-up
   * would otherwise hold an EntityManager and its query while it waits for a pooled connection.
   */
  private loadOnce(hash: string, now: number): Promise<Loaded> {
    let pending = this.loading.get(hash);
    if (!pending) {
      const generation = this.generation;
      const started: Promise<Loaded> = this.load(hash, now)
        .then((entry) => ({ generation, entry }))
        .finally(() => {
          if (this.loading.get(hash) === started) this.loading.delete(hash);
        });
      pending = started;
      this.loading.set(hash, pending);
    }
    return pending;
  }

  private async load(hash: string, now: number): Promise<CachedPrincipal> {
    const token = await this.db.em().findOne(ApiTokenEntity, { secretHash: hash, revokeTime: null });
    const cachedUntil = now + this.cacheMillis;
    if (!token) return { principal: undefined, expireTime: null, cachedUntil };
    const scope = scopeOf(token);
    return {
      principal: {
        name: token.principal,
        role: token.role as Role,
        tenantId: token.tenantId ?? undefined,
        tokenId: token.id,
        ...(scope ? { agentScope: scope } : {}),
      },
      expireTime: token.expireTime?.getTime() ?? null,
      cachedUntil,
    };
  }
}

/** An agent token's scope, or undefined for the whole fleet (and for every other role). */
export function scopeOf(token: Pick<ApiToken, "scopeDatacenterIds" | "scopeGroupIds" | "scopeJobKinds">): AgentTokenScope | undefined {
  const scope = { datacenterIds: token.scopeDatacenterIds, groupIds: token.scopeGroupIds, jobKinds: token.scopeJobKinds };
  return isWholeFleet(scope) ? undefined : scope;
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
  if (request.agentScope && request.role !== "AGENT") {
    throw new InvalidArgumentError("AGENT_SCOPE_NOT_FOR_ROLE", "agent_scope is only for ROLE_AGENT tokens", [
      { field: "agent_scope", description: "allowed only with role ROLE_AGENT" },
    ]);
  }
  const secret = newSecret();
  const token = await mutate(db, ctx, async (em) => {
    // A tenant role's tenant must exist (read FOR SHARE, so a concurrent DeleteTenant cannot slip
    // between the check and the new token).
    if (request.tenantId !== null) await requireTenantsExist(em, [request.tenantId]);
    if (request.agentScope) await requireScopeReferencesExist(em, request.agentScope);
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
    scopeDatacenterIds: [...(request.agentScope?.datacenterIds ?? [])],
    scopeGroupIds: [...(request.agentScope?.groupIds ?? [])],
    scopeJobKinds: [...(request.agentScope?.jobKinds ?? [])],
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
