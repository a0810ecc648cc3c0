// Every service on the one router.
import type { DescFile } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { AuditService, file_rackplane_v1_audit } from "../../gen/es/rackplane/v1/audit_pb.js";
import { file_rackplane_v1_identity, IdentityService } from "../../gen/es/rackplane/v1/identity_pb.js";
import { file_rackplane_v1_inventory, InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { auditService } from "../api/audit-service.js";
import { identityService } from "../api/identity-service.js";
import { inventoryService } from "../api/inventory-service.js";
import type { Database } from "../app/database.js";
import type { Authenticator } from "../app/identity.js";
import { registerHealth, type HealthStatus } from "./health.js";
import { registerReflection } from "./reflection.js";

/** The contract files whose services this server implements, for reflection. */
export const contractFiles: readonly DescFile[] = [file_rackplane_v1_inventory, file_rackplane_v1_identity, file_rackplane_v1_audit];

export interface RouteDependencies {
  readonly db: Database;
  readonly authenticator: Authenticator;
  readonly health: HealthStatus;
}

export function routes({ db, authenticator, health }: RouteDependencies) {
  return (router: ConnectRouter): void => {
    router.service(InventoryService, inventoryService(db));
    router.service(IdentityService, identityService(db, authenticator));
    router.service(AuditService, auditService(db));
    registerHealth(router, health);
    registerReflection(router, contractFiles);
  };
}

export const serviceNames = [InventoryService.typeName, IdentityService.typeName, AuditService.typeName];
