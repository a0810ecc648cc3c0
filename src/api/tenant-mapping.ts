// Tenants, their quotas and usage: domain ⇄ proto.
import { create } from "@bufbuild/protobuf";
import {
  BaremetalGroupTenantQuotaSchema,
  GetTenantUsageResponseSchema,
  QuotaLimitSchema,
  ResourceUsageSchema,
  TenantKind,
  TenantSchema,
  type BaremetalGroupTenantQuota as QuotaMessage,
  type QuotaLimit as QuotaLimitMessage,
  type Tenant as TenantMessage,
} from "../../gen/es/rackplane/v1/tenant_pb.js";
import type { BaremetalGroupTenantQuota, QuotaFields } from "../app/tenants/quotas.js";
import type { TenantFields } from "../app/tenants/tenants.js";
import type { ResourceUsage, TenantUsage } from "../app/tenants/usage.js";
import { etagOf } from "../domain/etag.js";
import { InvalidArgumentError } from "../domain/errors.js";
import type { QuotaLimit } from "../domain/quota.js";
import type * as tenants from "../domain/tenant.js";
import { timestamp } from "./convert.js";

export function tenantMessage(tenant: tenants.Tenant) {
  return create(TenantSchema, {
    id: tenant.id,
    name: tenant.name,
    description: tenant.description,
    kind: TenantKind[tenant.kind],
    contact: contactMessage(tenant),
    namingRule: { template: tenant.namingTemplate, pattern: tenant.namingPattern },
    disabled: tenant.disabled,
    disabledReason: tenant.disabledReason,
    stateChangeTime: timestamp(tenant.stateChangeTime),
    etag: etagOf(tenant.version),
    createTime: timestamp(tenant.createTime),
    updateTime: timestamp(tenant.updateTime),
  });
}

function contactMessage(contact: tenants.TenantContact) {
  return { name: contact.contactName, email: contact.contactEmail, phone: contact.contactPhone };
}

/** TENANT_KIND_UNSPECIFIED means a project (the contract's default for Create). */
export function tenantKind(kind: TenantKind): tenants.TenantKind {
  return kind === TenantKind.UNSPECIFIED ? "PROJECT" : (TenantKind[kind] as tenants.TenantKind);
}

export function tenantContact(message: TenantMessage): tenants.TenantContact {
  return {
    contactName: message.contact?.name ?? "",
    contactEmail: message.contact?.email ?? "",
    contactPhone: message.contact?.phone ?? "",
  };
}

export function tenantFields(message: TenantMessage): TenantFields {
  return {
    name: message.name,
    description: message.description,
    kind: tenantKind(message.kind),
    ...tenantContact(message),
    namingTemplate: message.namingRule?.template ?? "",
    namingPattern: message.namingRule?.pattern ?? "",
  };
}

// ---------------------------------------------------------------------------------------------
// Quotas and usage (QUO-1..5)

export function quotaMessage(quota: BaremetalGroupTenantQuota) {
  return create(BaremetalGroupTenantQuotaSchema, {
    id: quota.id,
    tenantId: quota.tenantId,
    groupId: quota.groupId,
    cpu: quotaLimitMessage(quota.limits.cpuCores),
    memoryMib: quotaLimitMessage(quota.limits.memoryMib),
    storageGib: quotaLimitMessage(quota.limits.storageGib),
    updatedBy: quota.updatedBy,
    etag: etagOf(quota.version),
    createTime: timestamp(quota.createTime),
    updateTime: timestamp(quota.updateTime),
  });
}

function quotaLimitMessage(limit: QuotaLimit) {
  return create(QuotaLimitSchema, {
    kind: "absolute" in limit ? { case: "absolute", value: BigInt(limit.absolute) } : { case: "percent", value: limit.percent },
  });
}

/**
 * One limit as the use cases take it. protovalidate has checked that a set limit is one of the two
 * and a percentage is 0–100; what it cannot say is here: a limit named in an update_mask must be set
 * (changed, not cleared), and an absolute amount must fit the column exactly.
 */
export function quotaLimit(field: string, message: QuotaLimitMessage | undefined): QuotaLimit {
  switch (message?.kind.case) {
    case "absolute":
      if (message.kind.value > BigInt(Number.MAX_SAFE_INTEGER)) {
        const description = `must be at most ${Number.MAX_SAFE_INTEGER}`;
        throw new InvalidArgumentError("VALIDATION_FAILED", `${field}.absolute: ${description}`, [
          { field: `${field}.absolute`, description },
        ]);
      }
      return { absolute: Number(message.kind.value) };
    case "percent":
      return { percent: message.kind.value };
    default:
      throw new InvalidArgumentError("VALIDATION_FAILED", `${field}: value is required (absolute or percent)`, [
        { field, description: "value is required (absolute or percent)" },
      ]);
  }
}

export function quotaFields(message: QuotaMessage): QuotaFields {
  return {
    tenantId: message.tenantId,
    groupId: message.groupId,
    limits: {
      cpuCores: quotaLimit("quota.cpu", message.cpu),
      memoryMib: quotaLimit("quota.memory_mib", message.memoryMib),
      storageGib: quotaLimit("quota.storage_gib", message.storageGib),
    },
  };
}

function resourceUsageMessage(usage: ResourceUsage) {
  return create(ResourceUsageSchema, { limit: BigInt(usage.limit), used: BigInt(usage.used), remaining: BigInt(usage.remaining) });
}

export function tenantUsageMessage(usage: TenantUsage) {
  return create(GetTenantUsageResponseSchema, {
    tenantId: usage.tenantId,
    groups: usage.groups.map((group) => ({
      groupId: group.groupId,
      groupName: group.groupName,
      quotaId: group.quotaId,
      cpu: resourceUsageMessage(group.cpuCores),
      memoryMib: resourceUsageMessage(group.memoryMib),
      storageGib: resourceUsageMessage(group.storageGib),
    })),
    totalCpu: resourceUsageMessage(usage.total.cpuCores),
    totalMemoryMib: resourceUsageMessage(usage.total.memoryMib),
    totalStorageGib: resourceUsageMessage(usage.total.storageGib),
  });
}
