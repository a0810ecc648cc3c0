// Tenants (TEN-1..3): create, read, update, disable / enable, delete. Platform admins manage them;
// services read them all; a tenant's own principals read only their own (see access.ts).
import { renderTemplate, requireNameMatches } from "../../domain/naming.js";
import type { Tenant, TenantKind } from "../../domain/tenant.js";
import { Tenant as TenantEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { createOnce, findForChange, readById } from "../standard-methods.js";
import { requireTenantRead, requireTenantVisible, requireTenantWrite, visibleTenants } from "./access.js";
import { tenantFilter } from "./filters.js";
import { clearedDetail, clearWithTenant, countBlockers, requireNoBlockers } from "./owned.js";

export interface TenantFields {
  readonly name: string;
  readonly description: string;
  readonly kind: TenantKind;
  readonly contactName: string;
  readonly contactEmail: string;
  readonly contactPhone: string;
  readonly namingTemplate: string;
  readonly namingPattern: string;
}

/** What DeleteTenant needs of the authenticator: to forget the tenant's deleted tokens at once. */
export interface TokenCache {
  forgetTenant(tenantId: string): void;
}

export async function createTenant(db: Database, ctx: CallContext, fields: TenantFields, requestId: string): Promise<Tenant> {
  requireTenantWrite(ctx.principal, "create tenants");
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, "tenant", requestId, fields, async (id) => {
      em.create(TenantEntity, { id, ...fields, disabled: false, disabledReason: "", stateChangeTime: null });
    }),
  );
  return getTenant(db, ctx, id);
}

/** A tenant principal asking for another tenant gets NOT_FOUND, as for one that does not exist. */
export async function getTenant(db: Database, ctx: CallContext, id: string): Promise<Tenant> {
  requireTenantRead(ctx.principal);
  requireTenantVisible(ctx.principal, id);
  return readById(db.em(), TenantEntity, "tenant", id);
}

export async function listTenants(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<Tenant>> {
  requireTenantRead(ctx.principal);
  const scope = visibleTenants(ctx.principal);
  return listPage(db.em(), TenantEntity, request, tenantFilter, scope ? { scope } : {});
}

export async function updateTenant(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: Partial<TenantFields>,
): Promise<Tenant> {
  target(ctx, id);
  requireTenantWrite(ctx.principal, "change tenants");
  return mutate(db, ctx, async (em) => {
    const tenant = await findForChange(em, ctx, TenantEntity, "tenant", id, etag);
    // A rule is checked when it is set, not when a VM first needs it.
    if (patch.namingTemplate !== undefined) renderTemplate(patch.namingTemplate, { tenant: tenant.name, role: "vm" });
    if (patch.namingPattern) requireNameMatches("", patch.namingPattern, { validateOnly: true });
    em.assign(tenant, patch);
    return tenant;
  });
}

/** TEN-2: from now on every mutation by the tenant's tokens, and every one made for the tenant, is
 * refused with TENANT_DISABLED (src/app/tenant-guard.ts). Disabling a disabled tenant replaces
 * the reason and keeps the time it was disabled. */
export async function disableTenant(db: Database, ctx: CallContext, id: string, reason: string): Promise<Tenant> {
  target(ctx, id);
  requireTenantWrite(ctx.principal, "disable tenants");
  ctx.audit.detail = reason;
  return mutate(db, ctx, async (em) => {
    const tenant = await findForChange(em, ctx, TenantEntity, "tenant", id, "");
    if (!tenant.disabled) em.assign(tenant, { disabled: true, disabledReason: reason, stateChangeTime: new Date() });
    else if (tenant.disabledReason !== reason) em.assign(tenant, { disabledReason: reason });
    return tenant;
  });
}

/** Enabling an enabled tenant changes nothing (the call is still audited). */
export async function enableTenant(db: Database, ctx: CallContext, id: string, reason: string): Promise<Tenant> {
  target(ctx, id);
  requireTenantWrite(ctx.principal, "enable tenants");
  ctx.audit.detail = reason;
  return mutate(db, ctx, async (em) => {
    const tenant = await findForChange(em, ctx, TenantEntity, "tenant", id, "");
    if (tenant.disabled) em.assign(tenant, { disabled: false, disabledReason: "", stateChangeTime: new Date() });
    return tenant;
  });
}

/**
 * TEN-3: a tenant with live VMs (or, later, clusters) is refused, naming them (owned.ts `blockers`).
 * Otherwise its own records go with it in one transaction (owned.ts `clearedWithTenant`: rack
 * reservations, allowed-tenant entries, quotas, name sequences, tokens, its deleted VMs with their
 * records and maintainer assignments), the audit detail counts each kind, and this replica forgets
 * the tenant's tokens at once (the others within their cache time).
 */
export async function deleteTenant(db: Database, ctx: CallContext, tokens: TokenCache, id: string, etag: string): Promise<void> {
  target(ctx, id);
  requireTenantWrite(ctx.principal, "delete tenants");
  await mutate(db, ctx, async (em) => {
    // Locked FOR UPDATE: whatever names the tenant and is being written now holds a share lock on
    // this row (a reservation, token or rack reads it FOR SHARE; a VM, quota or name sequence
    // holds its foreign key's lock), so it commits first (and is counted or cleared below) or
    // waits and then finds the tenant gone.
    const tenant = await findForChange(em, ctx, TenantEntity, "tenant", id, etag);
    requireNoBlockers(tenant, await countBlockers(em, tenant.id));
    ctx.audit.detail = clearedDetail(await clearWithTenant(em, tenant.id));
    em.remove(tenant);
  });
  tokens.forgetTenant(id);
}

/** Names the target before the role check, so a refused call's audit record names it too. */
function target(ctx: CallContext, id: string): void {
  ctx.audit.resourceType = "tenant";
  ctx.audit.resourceId = id;
}
