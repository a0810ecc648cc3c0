// rackplane.v1.AuditService.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AuditEventSchema, type AuditService } from "../../gen/es/rackplane/v1/audit_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { listAuditEvents, type AuditEvent } from "../app/audit.js";
import type { Database } from "../app/database.js";
import { callContext, listRequest, timestamp } from "./convert.js";
import { reads, type TargetRules } from "./request-targets.js";

export function auditService(db: Database): ServiceImpl<typeof AuditService> {
  return {
    async listAuditEvents(req, ctx) {
      const page = await listAuditEvents(db, callContext(ctx), listRequest(req));
      return { auditEvents: page.items.map(auditEventMessage), nextPageToken: page.nextPageToken };
    },
  };
}

function auditEventMessage(event: AuditEvent) {
  return create(AuditEventSchema, {
    id: event.id,
    time: timestamp(event.time),
    principal: event.principal,
    role: Role[event.role as keyof typeof Role] ?? Role.UNSPECIFIED,
    tenantId: event.tenantId ?? "",
    method: event.method,
    resourceType: event.resourceType,
    resourceId: event.resourceId,
    requestId: event.requestId,
    result: event.result,
    reason: event.reason,
    message: event.message,
  });
}

export const auditTargets: TargetRules<typeof AuditService> = { listAuditEvents: reads };
