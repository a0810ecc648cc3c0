// Tenants (TEN-1..3): plain types and the rules of a tenant's state.
import { FailedPreconditionError } from "./errors.js";

export const tenantKinds = ["DEPARTMENT", "PROJECT", "EXTERNAL_CUSTOMER"] as const;
export type TenantKind = (typeof tenantKinds)[number];

export interface TenantContact {
  readonly contactName: string;
  readonly contactEmail: string;
  readonly contactPhone: string;
}

export interface Tenant extends TenantContact {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly name: string;
  readonly description: string;
  readonly kind: TenantKind;
  readonly disabled: boolean;
  readonly disabledReason: string;
  readonly stateChangeTime?: Date | null;
  /** VM naming rule (VM-6): the template and the pattern given names must match. */
  readonly namingTemplate: string;
  readonly namingPattern: string;
}

export function tenantDisabled(tenant: Pick<Tenant, "id" | "name" | "disabledReason">): FailedPreconditionError {
  return new FailedPreconditionError(
    "TENANT_DISABLED",
    `tenant ${tenant.name} is disabled${tenant.disabledReason ? ` (${tenant.disabledReason})` : ""}: it can create and change nothing until it is enabled again`,
    { tenant_id: tenant.id },
  );
}
