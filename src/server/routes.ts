// Every service on the one router. Each entry pairs a service of the contract with its whole
// implementation and what each of its methods acts on (for the audit record): the compiler refuses a
// service with a method missing from either, and the lists health and reflection need are derived
// from the same entries.
import type { DescFile } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { AgentService } from "../../gen/es/rackplane/v1/agent_pb.js";
import { AuditService } from "../../gen/es/rackplane/v1/audit_pb.js";
import { ComputeService } from "../../gen/es/rackplane/v1/compute_pb.js";
import { IdentityService } from "../../gen/es/rackplane/v1/identity_pb.js";
import { InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { KubernetesAddonService } from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import { MaintainerService } from "../../gen/es/rackplane/v1/maintainer_pb.js";
import { ObservationService } from "../../gen/es/rackplane/v1/observation_pb.js";
import { OperationService } from "../../gen/es/rackplane/v1/operation_pb.js";
import { TenantService } from "../../gen/es/rackplane/v1/tenant_pb.js";
import type { Dispatcher } from "../agents/dispatcher.js";
import { agentService, agentTargets } from "../api/agent-service.js";
import { auditService, auditTargets } from "../api/audit-service.js";
import { computeService, computeTargets } from "../api/compute-service.js";
import { identityService, identityTargets } from "../api/identity-service.js";
import { inventoryService, inventoryTargets } from "../api/inventory-service.js";
import { kubernetesService, kubernetesTargets } from "../api/kubernetes-service.js";
import { kubernetesAddonService, kubernetesAddonTargets } from "../api/kubernetes-addon-service.js";
import { maintainerService, maintainerTargets } from "../api/maintainer-service.js";
import { observationService, observationTargets } from "../api/observation-service.js";
import { operationService, operationTargets } from "../api/operation-service.js";
import { RequestTargets, type TargetRules } from "../api/request-targets.js";
import { tenantService, tenantTargets } from "../api/tenant-service.js";
import type { Database } from "../app/database.js";
import type { Authenticator } from "../app/identity.js";
import type { ObservationSettings } from "../app/observations/latest.js";
import type { AutoscalerSettings } from "../app/kubernetes/addons/autoscaler.js";
import type { ClusterHealthSettings } from "../app/kubernetes/addons/cluster-health.js";
import type { SecretBox } from "../app/kubernetes/secret-box.js";
import type { Notifications } from "../persistence/notifications.js";
import { type HealthStatus, registerHealth } from "./health.js";
import { registerReflection } from "./reflection.js";

export interface RouteDependencies {
  readonly db: Database;
  readonly authenticator: Authenticator;
  readonly health: HealthStatus;
  readonly notifications: Notifications;
  readonly dispatcher: Dispatcher;
  readonly leaseMillis: number;
  /** How observations read (staleness). */
  readonly observations: ObservationSettings;
  /** How clusters' health reports read (staleness). */
  readonly clusterHealth: ClusterHealthSettings;
  /** The autoscaler's cool-down and empty-node period. */
  readonly autoscaler: AutoscalerSettings;
  /** The server's secret key: seals clusters' CA keys at rest (app/kubernetes/secret-box.ts). */
  readonly secrets: SecretBox;
}

/** One service of the contract, as this server serves it. */
export interface Route {
  readonly service: GenService<GenServiceMethods>;
  /** Builds the implementation and puts it on the router. */
  register(router: ConnectRouter, dependencies: RouteDependencies): void;
  /** Adds the service's request targets. */
  describe(targets: RequestTargets): void;
}

function route<S extends GenService<GenServiceMethods>>(
  service: S,
  implement: (dependencies: RouteDependencies) => ServiceImpl<S>,
  targets: TargetRules<S>,
): Route {
  return {
    service,
    register: (router, dependencies) => router.service(service, implement(dependencies)),
    describe: (all) => all.add(service, targets),
  };
}

/** Every rackplane service. */
export const served: readonly Route[] = [
  route(InventoryService, ({ db, observations }) => inventoryService(db, observations), inventoryTargets),
  route(IdentityService, ({ db, authenticator }) => identityService(db, authenticator), identityTargets),
  route(AuditService, ({ db }) => auditService(db), auditTargets),
  route(TenantService, ({ db, authenticator }) => tenantService(db, authenticator), tenantTargets),
  route(MaintainerService, ({ db }) => maintainerService(db), maintainerTargets),
  route(ComputeService, ({ db, observations }) => computeService(db, observations), computeTargets),
  route(KubernetesService, ({ db, secrets, clusterHealth }) => kubernetesService(db, secrets, clusterHealth), kubernetesTargets),
  route(
    KubernetesAddonService,
    ({ db, clusterHealth, autoscaler }) => kubernetesAddonService(db, clusterHealth, autoscaler),
    kubernetesAddonTargets,
  ),
  route(OperationService, ({ db, notifications }) => operationService(db, notifications), operationTargets),
  route(
    AgentService,
    ({ db, dispatcher, leaseMillis, observations }) => agentService(db, dispatcher, leaseMillis, observations),
    agentTargets,
  ),
  route(ObservationService, ({ db }) => observationService(db), observationTargets),
];

/** The contract files whose services this server implements, for reflection. */
export const contractFiles: readonly DescFile[] = [...new Set(served.map((route) => route.service.file))];

/** The fully qualified names of the services, for health. */
export const serviceNames: readonly string[] = served.map((route) => route.service.typeName);

/** What every method of every service acts on, for the call interceptor. */
export function requestTargets(): RequestTargets {
  const targets = new RequestTargets();
  for (const route of served) route.describe(targets);
  return targets;
}

export function routes(dependencies: RouteDependencies) {
  return (router: ConnectRouter): void => {
    for (const route of served) route.register(router, dependencies);
    registerHealth(router, dependencies.health);
    registerReflection(router, contractFiles);
  };
}
