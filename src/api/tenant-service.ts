// rackplane.v1.TenantService: maps requests to use cases and results back. No rules here.
import type { ServiceImpl } from "@connectrpc/connect";
import { TenantKind, TenantService } from "../../gen/es/rackplane/v1/tenant_pb.js";
import type { Database } from "../app/database.js";
import * as tenants from "../app/tenants/tenants.js";
import { callContext, listRequest, maskedPatch, required } from "./convert.js";
import { tenantContact, tenantFields, tenantMessage } from "./tenant-mapping.js";

/** The tenant half of TenantService (quotas and usage may be implemented by another module, merged
 * in src/server/routes.ts). */
export function tenantService(db: Database, tokens: tenants.TokenCache): Partial<ServiceImpl<typeof TenantService>> {
  return {
    async createTenant(req, ctx) {
      return { tenant: tenantMessage(await tenants.createTenant(db, callContext(ctx), tenantFields(req.tenant!), req.requestId)) };
    },
    async getTenant(req, ctx) {
      return { tenant: tenantMessage(await tenants.getTenant(db, callContext(ctx), req.id)) };
    },
    async listTenants(req, ctx) {
      const page = await tenants.listTenants(db, callContext(ctx), listRequest(req));
      return { tenants: page.items.map(tenantMessage), nextPageToken: page.nextPageToken };
    },
    async updateTenant(req, ctx) {
      const tenant = req.tenant!;
      const contact = tenantContact(tenant);
      const patch = maskedPatch<tenants.TenantFields>(req.updateMask, {
        name: () => ({ name: required("tenant.name", tenant.name) }),
        description: () => ({ description: tenant.description }),
        // A kind can be changed, not cleared: UNSPECIFIED is refused rather than read as PROJECT.
        kind: () => ({ kind: TenantKind[required("tenant.kind", tenant.kind)] as tenants.TenantFields["kind"] }),
        contact: () => contact,
        "contact.name": () => ({ contactName: contact.contactName }),
        "contact.email": () => ({ contactEmail: contact.contactEmail }),
        "contact.phone": () => ({ contactPhone: contact.contactPhone }),
      });
      return { tenant: tenantMessage(await tenants.updateTenant(db, callContext(ctx), tenant.id, tenant.etag, patch)) };
    },
    async deleteTenant(req, ctx) {
      await tenants.deleteTenant(db, callContext(ctx), tokens, req.id, req.etag);
      return {};
    },
    async disableTenant(req, ctx) {
      return { tenant: tenantMessage(await tenants.disableTenant(db, callContext(ctx), req.id, req.reason)) };
    },
    async enableTenant(req, ctx) {
      return { tenant: tenantMessage(await tenants.enableTenant(db, callContext(ctx), req.id, req.reason)) };
    },
  };
}
