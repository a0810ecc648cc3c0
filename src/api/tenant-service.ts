// rackplane.v1.TenantService: maps requests to use cases and results back. No rules here.
import type { ServiceImpl } from "@connectrpc/connect";
import { TenantKind, type TenantService } from "../../gen/es/rackplane/v1/tenant_pb.js";
import type { Database } from "../app/database.js";
import * as quotas from "../app/tenants/quotas.js";
import * as tenants from "../app/tenants/tenants.js";
import * as usage from "../app/tenants/usage.js";
import { callContext, listRequest, maskedPatch, required } from "./convert.js";
import { quotaFields, quotaLimit, quotaMessage, tenantContact, tenantFields, tenantMessage, tenantUsageMessage } from "./tenant-mapping.js";
import { at, byId, creates, reads, type TargetRules } from "./request-targets.js";

/** TenantService: tenants (TEN-1..3), their quotas in host groups and their usage (QUO-1..5). */
export function tenantService(db: Database, tokens: tenants.TokenCache): ServiceImpl<typeof TenantService> {
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
        naming_rule: () => ({ namingTemplate: tenant.namingRule?.template ?? "", namingPattern: tenant.namingRule?.pattern ?? "" }),
        "naming_rule.template": () => ({ namingTemplate: tenant.namingRule?.template ?? "" }),
        "naming_rule.pattern": () => ({ namingPattern: tenant.namingRule?.pattern ?? "" }),
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

    async createBaremetalGroupTenantQuota(req, ctx) {
      return { quota: quotaMessage(await quotas.createQuota(db, callContext(ctx), quotaFields(req.quota!))) };
    },
    async getBaremetalGroupTenantQuota(req, ctx) {
      return { quota: quotaMessage(await quotas.getQuota(db, callContext(ctx), req.id)) };
    },
    async listBaremetalGroupTenantQuotas(req, ctx) {
      const page = await quotas.listQuotas(db, callContext(ctx), listRequest(req));
      return { quotas: page.items.map(quotaMessage), nextPageToken: page.nextPageToken };
    },
    async updateBaremetalGroupTenantQuota(req, ctx) {
      const quota = req.quota!;
      // A limit can be changed (absolute ⇄ percent too), not cleared; tenant and group are fixed.
      const patch = maskedPatch<quotas.QuotaLimitsPatch>(req.updateMask, {
        cpu: () => ({ cpuCores: quotaLimit("quota.cpu", quota.cpu) }),
        memory_mib: () => ({ memoryMib: quotaLimit("quota.memory_mib", quota.memoryMib) }),
        storage_gib: () => ({ storageGib: quotaLimit("quota.storage_gib", quota.storageGib) }),
      });
      return { quota: quotaMessage(await quotas.updateQuota(db, callContext(ctx), quota.id, quota.etag, patch)) };
    },
    async deleteBaremetalGroupTenantQuota(req, ctx) {
      await quotas.deleteQuota(db, callContext(ctx), req.id, req.etag);
      return {};
    },
    async getTenantUsage(req, ctx) {
      return tenantUsageMessage(await usage.getTenantUsage(db, callContext(ctx), req.tenantId));
    },
  };
}

export const tenantTargets: TargetRules<typeof TenantService> = {
  createTenant: creates("tenant"),
  getTenant: reads,
  listTenants: reads,
  updateTenant: at("tenant", (request) => request.tenant?.id),
  deleteTenant: byId("tenant"),
  disableTenant: byId("tenant"),
  enableTenant: byId("tenant"),
  createBaremetalGroupTenantQuota: creates("baremetal_group_tenant_quota"),
  getBaremetalGroupTenantQuota: reads,
  listBaremetalGroupTenantQuotas: reads,
  updateBaremetalGroupTenantQuota: at("baremetal_group_tenant_quota", (request) => request.quota?.id),
  deleteBaremetalGroupTenantQuota: byId("baremetal_group_tenant_quota"),
  getTenantUsage: reads,
};
