import { AuditEvent, IdempotencyKey } from "./audit.js";
import {
  BaremetalGroupTenantQuota,
  Image,
  NameSequence,
  SchedulingRecord,
  VirtualMachine,
  VirtualMachineSpecification,
} from "./compute.js";
import { Baremetal, BaremetalGroup, CustomFieldDefinition } from "./hosts.js";
import { Agent, Job, Operation } from "./jobs.js";
import { ApiToken } from "./identity.js";
import {
  BastionClusterAssociation,
  K8sClusterToServiceMesh,
  KubernetesClusterPlugin,
  KubernetesPlugin,
  ServiceMesh,
} from "./kubernetes-addons.js";
import { KubernetesClusterHealth, KubernetesNodePoolScalingEvent } from "./kubernetes-health.js";
import { KubernetesCluster, KubernetesClusterCa, KubernetesClusterTemplate, KubernetesNodePool, KubernetesVersion } from "./kubernetes.js";
import { Maintainer, MaintainerGroup, MaintainerToMaintainerGroup, ResourceMaintainer } from "./maintainer.js";
import { Observation, ObservationRollup, ObservationSample } from "./observation.js";
import { Tenant } from "./tenant.js";
import { Datacenter, Rack, RackReservation, RackUnit, Region, Room, SlotGroup } from "./inventory.js";

export * from "./audit.js";
export * from "./compute.js";
export * from "./hosts.js";
export * from "./jobs.js";
export * from "./identity.js";
export * from "./kubernetes.js";
export * from "./kubernetes-addons.js";
export * from "./kubernetes-health.js";
export * from "./maintainer.js";
export * from "./observation.js";
export * from "./tenant.js";
export * from "./inventory.js";

/** Every entity, for the ORM configuration. */
export const entities = [
  Region,
  Datacenter,
  Room,
  Rack,
  SlotGroup,
  RackReservation,
  RackUnit,
  ApiToken,
  AuditEvent,
  IdempotencyKey,
  Tenant,
  Maintainer,
  MaintainerGroup,
  MaintainerToMaintainerGroup,
  ResourceMaintainer,
  BaremetalGroup,
  Baremetal,
  CustomFieldDefinition,
  VirtualMachineSpecification,
  Image,
  BaremetalGroupTenantQuota,
  NameSequence,
  VirtualMachine,
  SchedulingRecord,
  Operation,
  Job,
  Agent,
  KubernetesVersion,
  KubernetesClusterTemplate,
  KubernetesCluster,
  KubernetesNodePool,
  KubernetesClusterCa,
  Observation,
  ObservationSample,
  ObservationRollup,
  KubernetesPlugin,
  KubernetesClusterPlugin,
  BastionClusterAssociation,
  ServiceMesh,
  K8sClusterToServiceMesh,
  KubernetesClusterHealth,
  KubernetesNodePoolScalingEvent,
];
