// Reading the audit trail (API-4). Writing happens in app/mutation.ts, with every change.
import type { FilterSchema } from "../domain/filter.js";
import { requireRole, roles } from "../domain/principal.js";
import { AuditEvent as AuditEventEntity } from "../persistence/entities/index.js";
import type { CallContext } from "./context.js";
import type { Database } from "./database.js";
import { enumValues } from "../domain/filter-schema.js";
import { listPage, type ListRequest, type Page } from "./list.js";

export interface AuditEvent {
  readonly id: string;
  readonly time: Date;
  readonly principal: string;
  readonly role: string;
  readonly tenantId?: string | null;
  readonly method: string;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly requestId: string;
  readonly result: string;
  readonly reason: string;
  readonly message: string;
}

const string = { kind: "string" } as const;
const auditFilter: FilterSchema = {
  principal: { type: string, property: "principal" },
  // The API shows the role as a Role enum (ROLE_TENANT_ADMIN), the table stores "TENANT_ADMIN", and
  // "" for an unauthenticated caller (ROLE_UNSPECIFIED).
  role: { type: { kind: "enum", values: { ...enumValues("ROLE_", roles), ROLE_UNSPECIFIED: "", UNSPECIFIED: "" } }, property: "role" },
  tenant_id: { type: { kind: "uuid" }, property: "tenantId" },
  method: { type: string, property: "method" },
  resource_type: { type: string, property: "resourceType" },
  resource_id: { type: string, property: "resourceId" },
  request_id: { type: string, property: "requestId" },
  result: { type: string, property: "result" },
  reason: { type: string, property: "reason" },
  time: { type: { kind: "timestamp" }, property: "time" },
};

/** Platform admins and services read the whole trail; tenant admins read what their tenant's
 * principals did. */
export async function listAuditEvents(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<AuditEvent>> {
  requireRole(ctx.principal, ["PLATFORM_ADMIN", "SERVICE", "TENANT_ADMIN"], "read the audit trail");
  const scope = ctx.principal.role === "TENANT_ADMIN" ? { tenantId: ctx.principal.tenantId ?? "" } : undefined;
  return listPage(db.em(), AuditEventEntity, request, auditFilter, { newestFirst: true, ...(scope ? { scope } : {}) });
}
