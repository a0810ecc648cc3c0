// Every service on the one router.
import type { DescFile } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { AgentService, file_rackplane_v1_agent } from "../../gen/es/rackplane/v1/agent_pb.js";
import { AuditService, file_rackplane_v1_audit } from "../../gen/es/rackplane/v1/audit_pb.js";
import { ComputeService, file_rackplane_v1_compute } from "../../gen/es/rackplane/v1/compute_pb.js";
import { file_rackplane_v1_identity, IdentityService } from "../../gen/es/rackplane/v1/identity_pb.js";
import { file_rackplane_v1_inventory, InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { file_rackplane_v1_kubernetes, KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { file_rackplane_v1_maintainer, MaintainerService } from "../../gen/es/rackplane/v1/maintainer_pb.js";
import { file_rackplane_v1_operation, OperationService } from "../../gen/es/rackplane/v1/operation_pb.js";
import { file_rackplane_v1_tenant, TenantService } from "../../gen/es/rackplane/v1/tenant_pb.js";
import { agentService } from "../api/agent-service.js";
import { auditService } from "../api/audit-service.js";
import type { Dispatcher } from "../agents/dispatcher.js";
import { computeCatalogue } from "../api/compute-catalogue.js";
import { identityService } from "../api/identity-service.js";
import { hostService } from "../api/host-service.js";
import { inventoryService } from "../api/inventory-service.js";
import { kubernetesService } from "../api/kubernetes-service.js";
import { maintainerService } from "../api/maintainer-service.js";
import { operationService } from "../api/operation-service.js";
import { vmService } from "../api/vm-service.js";
import { tenantService } from "../api/tenant-service.js";
import type { Database } from "../app/database.js";
import type { Authenticator } from "../app/identity.js";
import type { Notifications } from "../persistence/notifications.js";
import { registerHealth, type HealthStatus } from "./health.js";
import { registerReflection } from "./reflection.js";

/** The contract files whose services this server implements, for reflection. */
export const contractFiles: readonly DescFile[] = [
  file_rackplane_v1_inventory,
  file_rackplane_v1_identity,
  file_rackplane_v1_audit,
  file_rackplane_v1_tenant,
  file_rackplane_v1_maintainer,
  file_rackplane_v1_compute,
  file_rackplane_v1_operation,
  file_rackplane_v1_agent,
  file_rackplane_v1_kubernetes,
];

export interface RouteDependencies {
  readonly db: Database;
  readonly authenticator: Authenticator;
  readonly health: HealthStatus;
  readonly notifications: Notifications;
  readonly dispatcher: Dispatcher;
  readonly leaseMillis: number;
}

/** Each service's implementation; a service may be implemented by several api/ modules. */
export function implementations({ db, authenticator, notifications, dispatcher, leaseMillis }: RouteDependencies) {
  return [
    [InventoryService, { ...inventoryService(db), ...hostService(db) }],
    [IdentityService, identityService(db, authenticator)],
    [AuditService, auditService(db)],
    [MaintainerService, maintainerService(db)],
    [TenantService, tenantService(db, authenticator)],
    [
      ComputeService,
      {
        ...computeCatalogue(db),
        ...vmService(db),
      },
    ],
    [OperationService, operationService(db, notifications)],
    [AgentService, agentService(db, dispatcher, leaseMillis)],
    [KubernetesService, kubernetesService(db)],
  ] as const;
}

export function routes(dependencies: RouteDependencies) {
  return (router: ConnectRouter): void => {
    for (const [service, implementation] of implementations(dependencies)) router.service(service, implementation as never);
    registerHealth(router, dependencies.health);
    registerReflection(router, contractFiles);
  };
}

export const serviceNames = [
  InventoryService.typeName,
  IdentityService.typeName,
  AuditService.typeName,
  TenantService.typeName,
  MaintainerService.typeName,
  ComputeService.typeName,
  OperationService.typeName,
  AgentService.typeName,
  KubernetesService.typeName,
];
