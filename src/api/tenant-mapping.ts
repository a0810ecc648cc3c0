// Tenants: domain ⇄ proto.
import { create } from "@bufbuild/protobuf";
import { TenantKind, TenantSchema, type Tenant as TenantMessage } from "../../gen/es/rackplane/v1/tenant_pb.js";
import type { TenantFields } from "../app/tenants/tenants.js";
import { etagOf } from "../domain/etag.js";
import type * as tenants from "../domain/tenant.js";
import { timestamp } from "./convert.js";

export function tenantMessage(tenant: tenants.Tenant) {
  return create(TenantSchema, {
    id: tenant.id,
    name: tenant.name,
    description: tenant.description,
    kind: TenantKind[tenant.kind],
    contact: contactMessage(tenant),
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
  return { name: message.name, description: message.description, kind: tenantKind(message.kind), ...tenantContact(message) };
}
