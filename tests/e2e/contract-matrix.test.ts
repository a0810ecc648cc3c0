// The contract matrix: every RPC of every service the server serves — read from the descriptor set,
// so an RPC added later is tried without anyone writing its cases — is called with what a hostile
// or broken client sends: no token, a revoked token, a role that may not, another tenant's ids,
// bodies that do not decode in each protocol, NUL and invalid UTF-8, overlong strings, ids that are
// not UUIDs, hostile filters, forged page tokens and odd page sizes. Each answer must be a clear
// code (never INTERNAL, never UNKNOWN) with a google.rpc.ErrorInfo, the x-request-id header exactly
// once, and nothing may change: a fingerprint of every table but the audit trail is the same after
// the matrix, every refused mutation left exactly one audit record (and nothing else left any), and
// the server still answers SERVING. What differs per RPC (a request it would accept, the role it
// refuses, where another tenant's id goes) is the table `rows`; an RPC without a row fails the test.
//
// Requests are sent as raw bytes over HTTP/2 (gRPC, gRPC-Web and Connect share the port), so one
// small client speaks every protocol for every method by its descriptor.
import {
  create,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
  toBinary,
  toJsonString,
} from "@bufbuild/protobuf";
import { base64Decode, base64Encode, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { AnySchema, MethodOptions_IdempotencyLevel, timestampNow } from "@bufbuild/protobuf/wkt";
import { field as fieldRules } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { getOption } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import http from "node:http";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { file_grpc_health_v1_health } from "../../gen/es/grpc/health/v1/health_pb.js";
import { JobReportState, ObservedState } from "../../gen/es/rackplane/v1/agent_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { VirtualMachineRole } from "../../gen/es/rackplane/v1/compute_pb.js";
import { CustomFieldType } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { KubernetesService } from "../../gen/es/rackplane/v1/kubernetes_pb.js";
import { KubernetesAddonService, ServiceMeshType } from "../../gen/es/rackplane/v1/kubernetes_addons_pb.js";
import { MaintainerRole, MaintainerService } from "../../gen/es/rackplane/v1/maintainer_pb.js";
import { PowerState } from "../../gen/es/rackplane/v1/observation_pb.js";
import { contractFiles } from "../../src/server/routes.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;

// ------------------------------------------------------------------------------------------------
// The seed: one small cloud of tenant A (a VM and its operation included), and what a second tenant
// B and the other roles call with.

interface Seed extends Cloud {
  region: string;
  room: string;
  slotGroup: string;
  reservation: string;
  fieldDefinition: string;
  serviceToken: string;
  quota: string;
  vm: string;
  operation: string;
  maintainer: string;
  maintainerGroup: string;
  resourceMaintainer: string;
  tenantB: string;
  kubernetesVersion: string;
  /** Tenant A's cluster template. */
  template: string;
  /** Tenant A's cluster (PROVISIONING: no agent builds it here). */
  cluster: string;
  nodePool: string;
  /** A catalogue plugin, and its install on tenant A's cluster (INSTALLING: waiting for the cluster). */
  plugin: string;
  clusterPlugin: string;
  /** A BASTION VM of tenant A associated with its cluster. */
  bastionAssociation: string;
  /** Tenant A's service mesh (no binding: its cluster is not ACTIVE here). */
  mesh: string;
  /** A real page token, to hand-edit. */
  pageToken: string;
  secrets: Record<Exclude<Caller, "no token">, string>;
}
let s: Seed;

type Caller = "admin" | "no token" | "revoked token" | "tenant A admin" | "tenant B admin" | "tenant member" | "agent" | "service";

const MISSING = "0f5b4a3e-58a1-4c4e-9b7e-1d2c3b4a5f60";

beforeAll(async () => {
  t = await startTestServer();
  const cloud = await buildCloud(t, { name: "mx", hosts: 2 });
  const { inventory, identity, tenants } = t.clients();
  const compute = t.compute();
  const region = (await inventory.createRegion({ region: { name: "mx-second" } })).region!;
  const rack = (await inventory.getRack({ id: cloud.rackId })).rack!;
  const slotGroup = (await inventory.createSlotGroup({ slotGroup: { name: "mx-slots" } })).slotGroup!;
  const reservation = (await inventory.reserveRackUnits({ rackId: cloud.rackId, firstPosition: 40, unitCount: 2, purpose: "mx" }))
    .reservation!;
  const fieldDefinition = (
    await inventory.createCustomFieldDefinition({ definition: { name: "owner", type: CustomFieldType.STRING, resourceTypes: ["rack"] } })
  ).definition!;
  const serviceToken = await identity.createToken({ principal: "mx-service", role: Role.SERVICE });
  const revoked = await identity.createToken({ principal: "mx-gone", role: Role.PLATFORM_ADMIN });
  await identity.revokeToken({ id: revoked.token!.id });
  const quota = (await tenants.listBaremetalGroupTenantQuotas({ filter: `tenant_id = "${cloud.tenantId}"` })).quotas[0]!;
  const created = await compute.createVirtualMachine({
    tenantId: cloud.tenantId,
    target: { case: "groupId", value: cloud.groupId },
    specificationId: cloud.specificationId,
    imageId: cloud.imageId,
  });
  const maintainers = createClient(
    MaintainerService,
    createGrpcTransport({
      baseUrl: t.url,
      interceptors: [bearer(t.adminToken)],
    }),
  );
  const maintainer = (await maintainers.createMaintainer({ maintainer: { name: "mx-ann", account: "ann" } })).maintainer!;
  const maintainerGroup = (await maintainers.createMaintainerGroup({ group: { name: "mx-team", managerId: maintainer.id } })).group!;
  await maintainers.addGroupMember({ groupId: maintainerGroup.id, maintainerId: maintainer.id });
  const resourceMaintainer = (
    await maintainers.createResourceMaintainer({
      resourceMaintainer: {
        resource: { type: "rack", id: rack.id },
        assignee: { case: "maintainerId", value: maintainer.id },
        role: MaintainerRole.OWNER,
      },
    })
  ).resourceMaintainer!;
  const tenantB = await t.tenant("mx-b");
  const kubernetes = createClient(
    KubernetesService,
    createGrpcTransport({
      baseUrl: t.url,
      interceptors: [bearer(t.adminToken)],
    }),
  );
  const kubernetesVersion = (await kubernetes.createKubernetesVersion({ version: { version: "1.31.4" } })).version!;
  const template = (
    await kubernetes.createKubernetesClusterTemplate({ template: { name: "mx-template", tenantId: cloud.tenantId, version: "1.31.4" } })
  ).template!;
  const node = { groupId: cloud.groupId, specificationId: cloud.specificationId, imageId: cloud.imageId };
  const addons = createClient(KubernetesAddonService, createGrpcTransport({ baseUrl: t.url, interceptors: [bearer(t.adminToken)] }));
  const plugin = (
    await addons.createKubernetesPlugin({ plugin: { name: "mx-plugin", versions: [{ version: "1.0.0", kubernetesVersions: ["1.31"] }] } })
  ).plugin!;
  const cluster = (
    await kubernetes.createKubernetesCluster({
      cluster: {
        name: "mx-cluster",
        tenantId: cloud.tenantId,
        version: "1.31.4",
        controlPlane: { count: 1, ...node },
        nodePools: [{ name: "mx-pool", ...node }],
      },
      plugins: [{ plugin: "mx-plugin", version: "1.0.0" }],
    })
  ).cluster!;
  const clusterPlugin = (await addons.listKubernetesClusterPlugins({})).plugins[0]!;
  const bastion = await compute.createVirtualMachine({
    tenantId: cloud.tenantId,
    target: { case: "groupId", value: cloud.groupId },
    specificationId: cloud.specificationId,
    imageId: cloud.imageId,
    role: VirtualMachineRole.BASTION,
  });
  const bastionAssociation = (
    await addons.createBastionAssociation({ association: { clusterId: cluster.id, virtualMachineId: bastion.virtualMachine!.id } })
  ).association!;
  const mesh = (await addons.createServiceMesh({ mesh: { name: "mx-mesh", tenantId: cloud.tenantId, type: ServiceMeshType.ISTIO } })).mesh!;
  s = {
    ...cloud,
    region: region.id,
    room: rack.roomId,
    slotGroup: slotGroup.id,
    reservation: reservation.id,
    fieldDefinition: fieldDefinition.id,
    serviceToken: serviceToken.token!.id,
    quota: quota.id,
    vm: created.virtualMachine!.id,
    operation: created.operation!.id,
    maintainer: maintainer.id,
    maintainerGroup: maintainerGroup.id,
    resourceMaintainer: resourceMaintainer.id,
    tenantB,
    kubernetesVersion: kubernetesVersion.id,
    template: template.id,
    cluster: cluster.id,
    nodePool: cluster.nodePools[0]!.id,
    plugin: plugin.id,
    clusterPlugin: clusterPlugin.id,
    bastionAssociation: bastionAssociation.id,
    mesh: mesh.id,
    pageToken: (await inventory.listRegions({ pageSize: 1 })).nextPageToken,
    secrets: {
      admin: t.adminToken,
      "revoked token": revoked.secret,
      "tenant A admin": await t.token(Role.TENANT_ADMIN, "mx-a-admin", cloud.tenantId),
      "tenant B admin": await t.token(Role.TENANT_ADMIN, "mx-b-admin", tenantB),
      "tenant member": await t.token(Role.TENANT_MEMBER, "mx-b-member", tenantB),
      agent: await t.token(Role.AGENT, "mx-agent"),
      service: serviceToken.secret,
    },
  };
  expect(s.pageToken).not.toBe("");
  before = await fingerprint();
  auditBefore = await auditCount();
});
afterAll(() => {
  h2session?.close();
  return t.close();
});

// ------------------------------------------------------------------------------------------------
// The per-RPC table. `valid` is a request that passes validation (so a refusal of a caller is the
// caller's, not the input's); `deniedTo` a role that may not call the RPC (null: every role may);
// `foreign`, for tenant-owned resources, tenant B's admin naming tenant A's: the answer expected.

interface Row {
  valid: () => object;
  deniedTo: Caller | null;
  foreign?: { request: () => object; code: string; reason: string };
}

const mask = (...paths: string[]) => ({ paths });
const read = (valid: () => object): Row => ({ valid, deniedTo: "agent" });
const write = (valid: () => object, deniedTo: Caller = "tenant member"): Row => ({ valid, deniedTo });
const hidden = (request: () => object) => ({ request, code: "NOT_FOUND", reason: "RESOURCE_NOT_FOUND" });
const denied = (request: () => object) => ({ request, code: "PERMISSION_DENIED", reason: "ROLE_NOT_ALLOWED" });
const mismatch = (request: () => object) => ({ request, code: "PERMISSION_DENIED", reason: "TENANT_MISMATCH" });
const list = read(() => ({}));
const host = (name: string, position: number) => ({
  name,
  serialNumber: `SN-${name}`,
  capacity: { cpuCores: 8, memoryMib: 1024n, storageGib: 10n },
  placement: { rackId: s.rackId, firstPosition: position, heightUnits: 1 },
  groupId: s.groupId,
});

const rows: Record<string, Row> = {
  "InventoryService/CreateRegion": write(() => ({ region: { name: "would-be" } })),
  "InventoryService/GetRegion": read(() => ({ id: s.region })),
  "InventoryService/ListRegions": list,
  "InventoryService/UpdateRegion": write(() => ({ region: { id: s.region, description: "x" }, updateMask: mask("description") })),
  "InventoryService/DeleteRegion": write(() => ({ id: s.region, force: true })),
  "InventoryService/CreateDatacenter": write(() => ({ datacenter: { name: "would-be", regionId: s.region } })),
  "InventoryService/GetDatacenter": read(() => ({ id: MISSING })),
  "InventoryService/ListDatacenters": list,
  "InventoryService/UpdateDatacenter": write(() => ({ datacenter: { id: MISSING, description: "x" }, updateMask: mask("description") })),
  "InventoryService/DeleteDatacenter": write(() => ({ id: MISSING })),
  "InventoryService/CreateRoom": write(() => ({ room: { name: "would-be", datacenterId: MISSING } })),
  "InventoryService/GetRoom": read(() => ({ id: s.room })),
  "InventoryService/ListRooms": list,
  "InventoryService/UpdateRoom": write(() => ({ room: { id: s.room, description: "x" }, updateMask: mask("description") })),
  "InventoryService/DeleteRoom": write(() => ({ id: s.room, force: true })),
  "InventoryService/CreateRack": write(() => ({ rack: { name: "would-be", roomId: s.room, heightUnits: 42 } })),
  "InventoryService/GetRack": { ...read(() => ({ id: s.rackId })), foreign: hidden(() => ({ id: s.rackId })) },
  "InventoryService/ListRacks": list,
  "InventoryService/UpdateRack": write(() => ({ rack: { id: s.rackId, description: "x" }, updateMask: mask("description") })),
  "InventoryService/DeleteRack": write(() => ({ id: s.rackId, force: true })),
  "InventoryService/GetRackElevation": { ...read(() => ({ rackId: s.rackId })), foreign: hidden(() => ({ rackId: s.rackId })) },
  "InventoryService/UpdateRackUnit": write(() => ({
    unit: { rackId: s.rackId, position: 30, network: { vlan: 7 } },
    updateMask: mask("network.vlan"),
  })),
  "InventoryService/ReserveRackUnits": write(() => ({ rackId: s.rackId, firstPosition: 30, unitCount: 1, purpose: "x" })),
  "InventoryService/ReleaseRackUnits": write(() => ({ reservationId: s.reservation })),
  "InventoryService/SetRackUnitsFaulty": write(() => ({ rackId: s.rackId, firstPosition: 30, unitCount: 1, faulty: true, reason: "psu" })),
  "InventoryService/CreateSlotGroup": write(() => ({ slotGroup: { name: "would-be" } })),
  "InventoryService/GetSlotGroup": read(() => ({ id: s.slotGroup })),
  "InventoryService/ListSlotGroups": list,
  "InventoryService/UpdateSlotGroup": write(() => ({ slotGroup: { id: s.slotGroup, description: "x" }, updateMask: mask("description") })),
  "InventoryService/DeleteSlotGroup": write(() => ({ id: s.slotGroup, force: true })),
  "InventoryService/CreateBaremetal": write(() => ({ baremetal: host("would-be", 30) })),
  "InventoryService/BatchCreateBaremetals": write(() => ({ requests: [{ baremetal: host("would-be-2", 31) }] })),
  "InventoryService/GetBaremetal": read(() => ({ id: s.hostIds[0] })),
  "InventoryService/ListBaremetals": list,
  "InventoryService/UpdateBaremetal": write(() => ({ baremetal: { id: s.hostIds[0], description: "x" }, updateMask: mask("description") })),
  "InventoryService/DeleteBaremetal": write(() => ({ id: s.hostIds[0] })),
  "InventoryService/SetBaremetalStatus": write(() => ({ id: s.hostIds[0], status: 3, reason: "fan" })),
  "InventoryService/LocateBaremetal": read(() => ({ id: s.hostIds[0] })),
  "InventoryService/CreateBaremetalGroup": write(() => ({ group: { name: "would-be" } })),
  "InventoryService/GetBaremetalGroup": read(() => ({ id: s.groupId })),
  "InventoryService/ListBaremetalGroups": list,
  "InventoryService/UpdateBaremetalGroup": write(() => ({ group: { id: s.groupId, description: "x" }, updateMask: mask("description") })),
  "InventoryService/DeleteBaremetalGroup": write(() => ({ id: s.groupId, force: true })),
  "InventoryService/CreateCustomFieldDefinition": write(
    () => ({ definition: { name: "would_be", type: CustomFieldType.STRING, resourceTypes: ["rack"] } }),
    "service",
  ),
  "InventoryService/ListCustomFieldDefinitions": list,
  "InventoryService/DeleteCustomFieldDefinition": write(() => ({ id: s.fieldDefinition }), "service"),

  "IdentityService/CreateToken": write(() => ({ principal: "would-be", role: Role.PLATFORM_ADMIN })),
  // Every role lists its own tokens and asks who it is.
  "IdentityService/ListTokens": { valid: () => ({}), deniedTo: null },
  "IdentityService/RevokeToken": {
    valid: () => ({ id: s.serviceToken }),
    deniedTo: null,
    foreign: hidden(() => ({ id: s.serviceToken })),
  },
  "IdentityService/GetCallerIdentity": { valid: () => ({}), deniedTo: null },

  "AuditService/ListAuditEvents": write(() => ({})),

  "TenantService/CreateTenant": write(() => ({ tenant: { name: "would-be" } })),
  "TenantService/GetTenant": { ...read(() => ({ id: s.tenantId })), foreign: hidden(() => ({ id: s.tenantId })) },
  "TenantService/ListTenants": list,
  "TenantService/UpdateTenant": {
    ...write(() => ({ tenant: { id: s.tenantId, description: "x" }, updateMask: mask("description") })),
    foreign: denied(() => ({ tenant: { id: s.tenantId, description: "x" }, updateMask: mask("description") })),
  },
  "TenantService/DeleteTenant": write(() => ({ id: s.tenantId })),
  "TenantService/DisableTenant": write(() => ({ id: s.tenantId, reason: "x" })),
  "TenantService/EnableTenant": write(() => ({ id: s.tenantId, reason: "x" })),
  "TenantService/CreateBaremetalGroupTenantQuota": write(() => ({
    quota: {
      tenantId: s.tenantB,
      groupId: s.groupId,
      cpu: { kind: { case: "percent", value: 10 } },
      memoryMib: { kind: { case: "percent", value: 10 } },
      storageGib: { kind: { case: "percent", value: 10 } },
    },
  })),
  "TenantService/GetBaremetalGroupTenantQuota": { ...read(() => ({ id: s.quota })), foreign: hidden(() => ({ id: s.quota })) },
  "TenantService/ListBaremetalGroupTenantQuotas": list,
  "TenantService/UpdateBaremetalGroupTenantQuota": write(() => ({
    quota: { id: s.quota, cpu: { kind: { case: "percent", value: 10 } } },
    updateMask: mask("cpu"),
  })),
  "TenantService/DeleteBaremetalGroupTenantQuota": write(() => ({ id: s.quota })),
  "TenantService/GetTenantUsage": { ...read(() => ({ tenantId: s.tenantId })), foreign: hidden(() => ({ tenantId: s.tenantId })) },

  "MaintainerService/CreateMaintainer": write(() => ({ maintainer: { name: "would-be", account: "wb" } })),
  "MaintainerService/GetMaintainer": read(() => ({ id: s.maintainer })),
  "MaintainerService/ListMaintainers": list,
  "MaintainerService/UpdateMaintainer": write(() => ({ maintainer: { id: s.maintainer, phone: "1" }, updateMask: mask("phone") })),
  "MaintainerService/DeleteMaintainer": write(() => ({ id: s.maintainer })),
  "MaintainerService/CreateMaintainerGroup": write(() => ({ group: { name: "would-be", managerId: s.maintainer } })),
  "MaintainerService/GetMaintainerGroup": read(() => ({ id: s.maintainerGroup })),
  "MaintainerService/ListMaintainerGroups": list,
  "MaintainerService/UpdateMaintainerGroup": write(() => ({
    group: { id: s.maintainerGroup, description: "x" },
    updateMask: mask("description"),
  })),
  "MaintainerService/DeleteMaintainerGroup": write(() => ({ id: s.maintainerGroup })),
  "MaintainerService/AddGroupMember": write(() => ({ groupId: s.maintainerGroup, maintainerId: MISSING })),
  "MaintainerService/RemoveGroupMember": write(() => ({ groupId: s.maintainerGroup, maintainerId: s.maintainer })),
  "MaintainerService/ListGroupMembers": read(() => ({ groupId: s.maintainerGroup })),
  "MaintainerService/CreateResourceMaintainer": write(() => ({
    resourceMaintainer: {
      resource: { type: "rack", id: s.rackId },
      assignee: { case: "groupId", value: s.maintainerGroup },
      role: MaintainerRole.ON_CALL,
    },
  })),
  "MaintainerService/DeleteResourceMaintainer": write(() => ({ id: s.resourceMaintainer })),
  "MaintainerService/ListResourceMaintainers": read(() => ({ resource: { type: "rack", id: s.rackId } })),
  "MaintainerService/ListMaintainerResources": read(() => ({ owner: { case: "maintainerId", value: s.maintainer } })),

  "ComputeService/CreateVirtualMachineSpecification": write(() => ({
    specification: { name: "would-be", vcpu: 1, memoryMib: 1024n, storageGib: 10n },
  })),
  "ComputeService/GetVirtualMachineSpecification": read(() => ({ id: s.specificationId })),
  "ComputeService/ListVirtualMachineSpecifications": list,
  "ComputeService/UpdateVirtualMachineSpecification": write(() => ({
    specification: { id: s.specificationId, description: "x" },
    updateMask: mask("description"),
  })),
  "ComputeService/DeleteVirtualMachineSpecification": write(() => ({ id: s.specificationId })),
  "ComputeService/CreateImage": write(() => ({ image: { name: "would-be", osFamily: "ubuntu", osVersion: "24.04", architecture: 1 } })),
  "ComputeService/GetImage": read(() => ({ id: s.imageId })),
  "ComputeService/ListImages": list,
  "ComputeService/UpdateImage": write(() => ({ image: { id: s.imageId, description: "x" }, updateMask: mask("description") })),
  "ComputeService/DeleteImage": write(() => ({ id: s.imageId })),
  "ComputeService/CreateVirtualMachine": {
    ...write(
      () => ({
        tenantId: s.tenantId,
        target: { case: "groupId", value: s.groupId },
        specificationId: s.specificationId,
        imageId: s.imageId,
      }),
      "agent",
    ),
    foreign: mismatch(() => ({
      tenantId: s.tenantId,
      target: { case: "groupId", value: s.groupId },
      specificationId: s.specificationId,
      imageId: s.imageId,
    })),
  },
  "ComputeService/GetVirtualMachine": { ...read(() => ({ id: s.vm })), foreign: hidden(() => ({ id: s.vm })) },
  "ComputeService/ListVirtualMachines": list,
  "ComputeService/StartVirtualMachine": { ...write(() => ({ id: s.vm }), "agent"), foreign: hidden(() => ({ id: s.vm })) },
  "ComputeService/StopVirtualMachine": { ...write(() => ({ id: s.vm }), "agent"), foreign: hidden(() => ({ id: s.vm })) },
  "ComputeService/RebootVirtualMachine": { ...write(() => ({ id: s.vm }), "agent"), foreign: hidden(() => ({ id: s.vm })) },
  "ComputeService/DeleteVirtualMachine": { ...write(() => ({ id: s.vm }), "agent"), foreign: hidden(() => ({ id: s.vm })) },
  "ComputeService/ListSchedulingRecords": list,
  "ComputeService/PreviewVirtualMachineName": {
    ...read(() => ({ tenantId: s.tenantId })),
    foreign: hidden(() => ({ tenantId: s.tenantId })),
  },

  "OperationService/GetOperation": { ...read(() => ({ id: s.operation })), foreign: hidden(() => ({ id: s.operation })) },
  "OperationService/ListOperations": list,
  "OperationService/WatchOperation": { ...read(() => ({ id: s.operation })), foreign: hidden(() => ({ id: s.operation })) },
  "OperationService/CancelOperation": { ...write(() => ({ id: s.operation }), "agent"), foreign: hidden(() => ({ id: s.operation })) },

  "AgentService/StreamJobs": write(() => ({ agentId: "mx-kvm", maxConcurrentJobs: 1 }), "service"),
  "AgentService/ReportJob": write(() => ({ jobId: MISSING, leaseToken: "x", state: JobReportState.IN_PROGRESS }), "service"),
  "AgentService/ReportResourceState": write(() => ({ virtualMachineId: s.vm, state: ObservedState.RUNNING }), "service"),
  "AgentService/ReportObservations": write(
    () => ({
      observations: [
        { subject: { case: "virtualMachineId", value: s.vm }, observeTime: timestampNow(), powerState: PowerState.ON, cpuPercent: 1 },
      ],
    }),
    "service",
  ),
  "AgentService/ListAgents": list,

  "ObservationService/ListObservationHistory": {
    ...read(() => ({ resource: { case: "virtualMachineId", value: s.vm } })),
    foreign: hidden(() => ({ resource: { case: "virtualMachineId", value: s.vm } })),
  },

  "KubernetesService/CreateKubernetesVersion": write(() => ({ version: { version: "1.31.5" } })),
  "KubernetesService/GetKubernetesVersion": read(() => ({ id: s.kubernetesVersion })),
  "KubernetesService/ListKubernetesVersions": list,
  "KubernetesService/UpdateKubernetesVersion": write(() => ({
    version: { id: s.kubernetesVersion, description: "x" },
    updateMask: mask("description"),
  })),
  "KubernetesService/DeleteKubernetesVersion": write(() => ({ id: s.kubernetesVersion })),
  "KubernetesService/CreateKubernetesClusterTemplate": write(() => ({ template: { name: "would-be", tenantId: s.tenantId } })),
  "KubernetesService/GetKubernetesClusterTemplate": { ...read(() => ({ id: s.template })), foreign: hidden(() => ({ id: s.template })) },
  "KubernetesService/ListKubernetesClusterTemplates": list,
  "KubernetesService/UpdateKubernetesClusterTemplate": {
    ...write(() => ({ template: { id: s.template, description: "x" }, updateMask: mask("description") })),
    foreign: hidden(() => ({ template: { id: s.template, description: "x" }, updateMask: mask("description") })),
  },
  "KubernetesService/DeleteKubernetesClusterTemplate": {
    ...write(() => ({ id: s.template })),
    foreign: hidden(() => ({ id: s.template })),
  },

  "KubernetesService/CreateKubernetesCluster": {
    ...write(
      () => ({
        cluster: {
          name: "would-be",
          tenantId: s.tenantId,
          version: "1.31.4",
          controlPlane: { count: 1, groupId: s.groupId, specificationId: s.specificationId, imageId: s.imageId },
        },
      }),
      "agent",
    ),
    foreign: mismatch(() => ({
      cluster: {
        name: "would-be",
        tenantId: s.tenantId,
        version: "1.31.4",
        controlPlane: { count: 1, groupId: s.groupId, specificationId: s.specificationId, imageId: s.imageId },
      },
    })),
  },
  "KubernetesService/GetKubernetesCluster": { ...read(() => ({ id: s.cluster })), foreign: hidden(() => ({ id: s.cluster })) },
  "KubernetesService/ListKubernetesClusters": list,
  "KubernetesService/UpdateKubernetesCluster": {
    ...write(() => ({ cluster: { id: s.cluster, description: "x" }, updateMask: mask("description") }), "agent"),
    foreign: hidden(() => ({ cluster: { id: s.cluster, description: "x" }, updateMask: mask("description") })),
  },
  "KubernetesService/DeleteKubernetesCluster": { ...write(() => ({ id: s.cluster }), "agent"), foreign: hidden(() => ({ id: s.cluster })) },
  "KubernetesService/SetKubernetesClusterStatus": {
    ...write(() => ({ id: s.cluster, status: 4, reason: "x" }), "service"),
    foreign: denied(() => ({ id: s.cluster, status: 4, reason: "x" })),
  },
  "KubernetesService/CreateNodePool": {
    ...write(
      () => ({
        clusterId: s.cluster,
        nodePool: { name: "would-be", groupId: s.groupId, specificationId: s.specificationId, imageId: s.imageId },
      }),
      "agent",
    ),
    foreign: hidden(() => ({
      clusterId: s.cluster,
      nodePool: { name: "would-be", groupId: s.groupId, specificationId: s.specificationId, imageId: s.imageId },
    })),
  },
  "KubernetesService/UpdateNodePool": {
    ...write(() => ({ nodePool: { id: s.nodePool, nodeCount: 1 }, updateMask: mask("node_count") }), "agent"),
    foreign: hidden(() => ({ nodePool: { id: s.nodePool, nodeCount: 1 }, updateMask: mask("node_count") })),
  },
  "KubernetesService/DeleteNodePool": { ...write(() => ({ id: s.nodePool }), "agent"), foreign: hidden(() => ({ id: s.nodePool })) },
  "KubernetesService/UpgradeKubernetesCluster": {
    ...write(() => ({ id: s.cluster, version: "1.32.0" }), "agent"),
    foreign: hidden(() => ({ id: s.cluster, version: "1.32.0" })),
  },
  "KubernetesService/RetryKubernetesClusterOperation": {
    ...write(() => ({ clusterId: s.cluster }), "agent"),
    foreign: hidden(() => ({ clusterId: s.cluster })),
  },
  "KubernetesService/IssueKubeconfig": {
    ...write(() => ({ clusterId: s.cluster }), "agent"),
    foreign: hidden(() => ({ clusterId: s.cluster })),
  },

  // Public: no token needed, no role refused.
  "KubernetesAddonService/CreateKubernetesPlugin": write(() => ({ plugin: { name: "would-be" } })),
  "KubernetesAddonService/GetKubernetesPlugin": read(() => ({ id: s.plugin })),
  "KubernetesAddonService/ListKubernetesPlugins": list,
  "KubernetesAddonService/UpdateKubernetesPlugin": write(() => ({
    plugin: { id: s.plugin, description: "x" },
    updateMask: mask("description"),
  })),
  "KubernetesAddonService/DeleteKubernetesPlugin": write(() => ({ id: s.plugin })),
  "KubernetesAddonService/InstallKubernetesClusterPlugin": {
    ...write(() => ({ clusterId: s.cluster, plugin: { plugin: "mx-plugin", version: "1.0.0" } }), "agent"),
    foreign: hidden(() => ({ clusterId: s.cluster, plugin: { plugin: "mx-plugin", version: "1.0.0" } })),
  },
  "KubernetesAddonService/GetKubernetesClusterPlugin": {
    ...read(() => ({ id: s.clusterPlugin })),
    foreign: hidden(() => ({ id: s.clusterPlugin })),
  },
  "KubernetesAddonService/ListKubernetesClusterPlugins": list,
  "KubernetesAddonService/UpgradeKubernetesClusterPlugin": {
    ...write(() => ({ id: s.clusterPlugin, version: "1.0.0" }), "agent"),
    foreign: hidden(() => ({ id: s.clusterPlugin, version: "1.0.0" })),
  },
  "KubernetesAddonService/UninstallKubernetesClusterPlugin": {
    ...write(() => ({ id: s.clusterPlugin }), "agent"),
    foreign: hidden(() => ({ id: s.clusterPlugin })),
  },
  "KubernetesAddonService/ReportKubernetesClusterPluginStatus": {
    ...write(() => ({ id: s.clusterPlugin, status: 2 }), "service"),
    foreign: denied(() => ({ id: s.clusterPlugin, status: 2 })),
  },
  "KubernetesAddonService/ReportKubernetesClusterHealth": {
    ...write(() => ({ clusterId: s.cluster, health: { observeTime: timestampNow() } }), "service"),
    foreign: denied(() => ({ clusterId: s.cluster, health: { observeTime: timestampNow() } })),
  },
  "KubernetesAddonService/ListNodePoolScalingEvents": list,
  "KubernetesAddonService/CreateBastionAssociation": {
    ...write(() => ({ association: { clusterId: s.cluster, virtualMachineId: s.vm } }), "agent"),
    foreign: hidden(() => ({ association: { clusterId: s.cluster, virtualMachineId: s.vm } })),
  },
  "KubernetesAddonService/GetBastionAssociation": {
    ...read(() => ({ id: s.bastionAssociation })),
    foreign: hidden(() => ({ id: s.bastionAssociation })),
  },
  "KubernetesAddonService/ListBastionAssociations": list,
  "KubernetesAddonService/DeleteBastionAssociation": {
    ...write(() => ({ id: s.bastionAssociation }), "agent"),
    foreign: hidden(() => ({ id: s.bastionAssociation })),
  },
  "KubernetesAddonService/CreateServiceMesh": {
    ...write(() => ({ mesh: { name: "would-be", tenantId: s.tenantId, type: ServiceMeshType.ISTIO } }), "agent"),
    foreign: mismatch(() => ({ mesh: { name: "would-be", tenantId: s.tenantId, type: ServiceMeshType.ISTIO } })),
  },
  "KubernetesAddonService/GetServiceMesh": { ...read(() => ({ id: s.mesh })), foreign: hidden(() => ({ id: s.mesh })) },
  "KubernetesAddonService/ListServiceMeshes": list,
  "KubernetesAddonService/DeleteServiceMesh": { ...write(() => ({ id: s.mesh }), "agent"), foreign: hidden(() => ({ id: s.mesh })) },
  "KubernetesAddonService/BindClusterToServiceMesh": {
    ...write(() => ({ meshId: s.mesh, clusterId: s.cluster, role: 1 }), "agent"),
    foreign: hidden(() => ({ meshId: s.mesh, clusterId: s.cluster, role: 1 })),
  },
  "KubernetesAddonService/UnbindClusterFromServiceMesh": write(() => ({ id: MISSING }), "agent"),
  "KubernetesAddonService/ListServiceMeshBindings": list,
  "KubernetesAddonService/ReportServiceMeshBindingStatus": write(() => ({ id: MISSING, status: 2 }), "service"),

  "Health/Check": { valid: () => ({ service: "" }), deniedTo: null },
  "Health/Watch": { valid: () => ({ service: "" }), deniedTo: null },
  "Health/List": { valid: () => ({}), deniedTo: null },
};

// ------------------------------------------------------------------------------------------------
// The descriptor set: the contract's services and gRPC health. (Reflection is a bidirectional
// stream for tooling, answered by its own code; it has no rackplane input to refuse.)

const services: DescService[] = [...contractFiles, file_grpc_health_v1_health].flatMap((file) => file.services);
const methods = services.flatMap((service) => service.methods.map((method) => ({ key: `${service.name}/${method.name}`, method })));
const isPublic = (method: DescMethod) => method.parent.typeName.startsWith("grpc.");
const mutates = (method: DescMethod) => !isPublic(method) && method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;

// ------------------------------------------------------------------------------------------------
// One raw client for every protocol.

type Protocol = "grpc" | "grpc over HTTP/1.1" | "grpc-web" | "connect proto" | "connect json" | "connect GET";

interface Answer {
  code: string;
  reason: string | undefined;
  fields: string[];
  /** Every x-request-id the response carried, headers and trailers. */
  requestIds: string[];
  /** The one it should carry: the caller's. */
  sentRequestId?: string;
}

let h2session: http2.ClientHttp2Session | undefined;
let nextId = 0;
/** Every request id the matrix sent, with whether the call was a refused mutation. */
const sent = new Map<string, { method: DescMethod; code: string }>();

const envelope = (flags: number, bytes: Uint8Array) => {
  const frame = new Uint8Array(5 + bytes.length);
  frame[0] = flags;
  new DataView(frame.buffer).setUint32(1, bytes.length);
  frame.set(bytes, 5);
  return frame;
};

function frames(body: Uint8Array): Array<{ flags: number; data: Uint8Array }> {
  const out: Array<{ flags: number; data: Uint8Array }> = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const length = new DataView(body.buffer, body.byteOffset + at + 1).getUint32(0);
    out.push({ flags: body[at]!, data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  trailers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

function h2request(path: string, headers: Record<string, string>, body: Uint8Array | undefined, method = "POST"): Promise<RawResponse> {
  if (!h2session || h2session.closed || h2session.destroyed) h2session = http2.connect(t.url);
  const session = h2session;
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": method, ":path": path, ...headers });
    const chunks: Buffer[] = [];
    let response: { status: number; headers: RawResponse["headers"] } | undefined;
    let trailers: RawResponse["trailers"] = {};
    const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 10_000);
    stream.on("response", (h) => (response = { status: Number(h[":status"]), headers: h }));
    stream.on("trailers", (h) => (trailers = h));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", reject);
    stream.on("close", () => {
      clearTimeout(timer);
      if (!response) return reject(new Error(`no response to ${path}`));
      resolve({ ...response, trailers, body: new Uint8Array(Buffer.concat(chunks)) });
    });
    stream.end(body);
  });
}

function h1request(path: string, headers: Record<string, string>, body: Uint8Array): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${t.url}${path}`, { method: "POST", headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body: new Uint8Array(Buffer.concat(chunks)) }),
      );
      res.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`timeout on ${path}`)));
    request.on("error", reject);
    request.end(body);
  });
}

const codeName = (code: number) => Code[code]!.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
const values = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** The google.rpc.Status of grpc-status-details-bin: its details (field 3, Any). */
function statusDetails(bin: string | undefined): Array<{ typeUrl: string; value: Uint8Array }> {
  if (!bin) return [];
  const details: Array<{ typeUrl: string; value: Uint8Array }> = [];
  const bytes = base64Decode(bin);
  // Read field 3 (details) of the Status message by hand: no google.rpc.Status is generated here.
  let at = 0;
  const varint = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++]!;
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) return result;
    }
  };
  while (at < bytes.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 2) {
      const length = varint();
      if (tag >>> 3 === 3) details.push(fromBinary(AnySchema, bytes.subarray(at, at + length)));
      at += length;
    } else throw new Error(`unexpected wire type ${wire} in grpc-status-details-bin`);
  }
  return details;
}

function answerOf(code: number, details: Array<{ typeUrl: string; value: Uint8Array }>, requestIds: string[]): Answer {
  const info = details.filter((d) => d.typeUrl.endsWith("/google.rpc.ErrorInfo")).map((d) => fromBinary(ErrorInfoSchema, d.value));
  const bad = details.filter((d) => d.typeUrl.endsWith("/google.rpc.BadRequest")).map((d) => fromBinary(BadRequestSchema, d.value));
  return {
    code: code === 0 ? "OK" : codeName(code),
    reason: info.length === 1 && info[0]!.domain === "rackplane.dev" ? info[0]!.reason : undefined,
    fields: bad.flatMap((b) => b.fieldViolations.map((v) => v.field)),
    requestIds,
  };
}

/** The answer of a Connect error body ({code, message, details: [{type, value}]}). */
function connectError(json: { code?: string; details?: Array<{ type: string; value: string }> } | undefined, ids: string[]): Answer {
  if (!json?.code) return answerOf(0, [], ids);
  const code = Code[json.code.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase()) as keyof typeof Code];
  return answerOf(
    code,
    (json.details ?? []).map((d) => ({ typeUrl: `type.googleapis.com/${d.type}`, value: base64Decode(d.value) })),
    ids,
  );
}

/** Sends `body` — the request's binary encoding, or its JSON for "connect json" — to `method`. */
async function call(
  protocol: Protocol,
  method: DescMethod,
  body: Uint8Array | string,
  caller: Caller = "admin",
  /** Send `body` as the whole HTTP body, envelope included. */
  enveloped = false,
): Promise<Answer> {
  const requestId = `mx-${++nextId}`;
  const path = `/${method.parent.typeName}/${method.name}`;
  const headers: Record<string, string> = { "x-request-id": requestId };
  if (caller !== "no token") headers.authorization = `Bearer ${s.secrets[caller]}`;
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const stream = method.methodKind !== "unary";
  let answer: Answer;
  switch (protocol) {
    case "grpc":
    case "grpc over HTTP/1.1": {
      const grpcHeaders = { ...headers, "content-type": "application/grpc+proto", te: "trailers" };
      const framed = enveloped ? bytes : envelope(0, bytes);
      const res = protocol === "grpc" ? await h2request(path, grpcHeaders, framed) : await h1request(path, grpcHeaders, framed);
      const status = values(res.trailers["grpc-status"] ?? res.headers["grpc-status"])[0];
      const details = statusDetails(values(res.trailers["grpc-status-details-bin"] ?? res.headers["grpc-status-details-bin"])[0]);
      answer = answerOf(Number(status ?? 2), details, [...values(res.headers["x-request-id"]), ...values(res.trailers["x-request-id"])]);
      break;
    }
    case "grpc-web": {
      const res = await h2request(path, { ...headers, "content-type": "application/grpc-web+proto" }, envelope(0, bytes));
      const trailer = frames(res.body).find((f) => f.flags & 0x80);
      const fields = new Map<string, string[]>();
      for (const line of new TextDecoder().decode(trailer?.data ?? new Uint8Array()).split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon > 0)
          fields.set(line.slice(0, colon).trim().toLowerCase(), [
            ...(fields.get(line.slice(0, colon).trim().toLowerCase()) ?? []),
            line.slice(colon + 1).trim(),
          ]);
      }
      const status = fields.get("grpc-status")?.[0] ?? values(res.headers["grpc-status"])[0];
      const details = statusDetails(fields.get("grpc-status-details-bin")?.[0] ?? values(res.headers["grpc-status-details-bin"])[0]);
      answer = answerOf(Number(status ?? 2), details, [...values(res.headers["x-request-id"]), ...(fields.get("x-request-id") ?? [])]);
      break;
    }
    case "connect proto":
    case "connect json": {
      const json = protocol === "connect json";
      const type = stream ? `application/connect+${json ? "json" : "proto"}` : `application/${json ? "json" : "proto"}`;
      const res = await h2request(path, { ...headers, "content-type": type }, stream ? envelope(0, bytes) : bytes);
      const ids = values(res.headers["x-request-id"]);
      if (stream) {
        const end = frames(res.body).find((f) => f.flags & 0x02);
        const parsed = end ? (JSON.parse(new TextDecoder().decode(end.data)) as { error?: { code?: string } }) : undefined;
        answer = connectError(parsed?.error, ids);
      } else {
        answer = res.status === 200 ? answerOf(0, [], ids) : connectError(JSON.parse(new TextDecoder().decode(res.body)), ids);
      }
      break;
    }
    case "connect GET": {
      const query = typeof body === "string" ? body : `encoding=proto&base64=1&message=${base64Encode(bytes, "url")}`;
      const res = await h2request(`${path}?connect=v1&${query}`, headers, undefined, "GET");
      const ids = values(res.headers["x-request-id"]);
      answer = res.status === 200 ? answerOf(0, [], ids) : connectError(JSON.parse(new TextDecoder().decode(res.body)), ids);
      break;
    }
  }
  sent.set(requestId, { method, code: answer.code });
  return { ...answer, sentRequestId: requestId };
}

// ------------------------------------------------------------------------------------------------
// Requests built from the descriptor.

const rulesOf = (field: DescField) => getOption(field, fieldRules);
const stringRules = (field: DescField) => {
  const rules = rulesOf(field).type;
  return rules.case === "string" ? rules.value : undefined;
};

/** Every string field reachable from `schema` (through singular message fields, at most three
 * deep, one member per oneof), with its path in proto names and in local names. */
function stringFields(
  schema: DescMessage,
  depth = 0,
): Array<{ path: string; set: (init: Record<string, unknown>, value: string) => void; field: DescField }> {
  if (depth > 2) return [];
  const out: ReturnType<typeof stringFields> = [];
  const seenOneofs = new Set<string>();
  for (const field of schema.fields) {
    if (field.oneof) {
      if (seenOneofs.has(field.oneof.name)) continue;
      seenOneofs.add(field.oneof.name);
    }
    const put = (init: Record<string, unknown>, value: unknown) => {
      if (field.oneof) init[field.oneof.localName] = { case: field.localName, value };
      else init[field.localName] = value;
    };
    const get = (init: Record<string, unknown>): Record<string, unknown> => {
      const existing = field.oneof
        ? (init[field.oneof.localName] as { value?: Record<string, unknown> } | undefined)?.value
        : init[field.localName];
      if (existing) return existing as Record<string, unknown>;
      const fresh: Record<string, unknown> = {};
      put(init, fresh);
      return fresh;
    };
    if (field.fieldKind === "scalar" && field.scalar === 9) out.push({ path: field.name, set: (init, value) => put(init, value), field });
    else if (field.fieldKind === "list" && field.listKind === "scalar" && field.scalar === 9) {
      out.push({ path: `${field.name}[0]`, set: (init, value) => put(init, [value]), field });
    } else if (field.fieldKind === "message" && !field.message.typeName.startsWith("google.protobuf.")) {
      for (const inner of stringFields(field.message, depth + 1)) {
        out.push({ path: `${field.name}.${inner.path}`, set: (init, value) => inner.set(get(init), value), field: inner.field });
      }
    }
  }
  return out;
}

const encode = (method: DescMethod, init: object) => toBinary(method.input, create(method.input, init as never));
const json = (method: DescMethod, init: object) => toJsonString(method.input, create(method.input, init as never));

/** A wire field: tag and length-delimited payload. */
const delimited = (fieldNo: number, payload: Uint8Array) =>
  new BinaryWriter().tag(fieldNo, WireType.LengthDelimited).bytes(payload).finish();

/** The first string field's bytes replaced with invalid UTF-8, nested as the field is. */
function invalidUtf8(schema: DescMessage, depth = 0): Uint8Array | undefined {
  for (const field of schema.fields) {
    if (field.fieldKind === "scalar" && field.scalar === 9) return delimited(field.number, new Uint8Array([0x61, 0xff, 0xfe]));
  }
  if (depth > 2) return undefined;
  for (const field of schema.fields) {
    if (field.fieldKind !== "message" || field.message.typeName.startsWith("google.protobuf.")) continue;
    const inner = invalidUtf8(field.message, depth + 1);
    if (inner) return delimited(field.number, inner);
  }
  return undefined;
}

/** A google.protobuf.Struct field somewhere in the input (at most three deep): its path of field numbers. */
function structPath(schema: DescMessage, depth = 0): number[] | undefined {
  for (const field of schema.fields) {
    if (field.fieldKind === "message" && field.message.typeName === "google.protobuf.Struct") return [field.number];
    if (depth < 2 && field.fieldKind === "message" && !field.message.typeName.startsWith("google.protobuf.")) {
      const inner = structPath(field.message, depth + 1);
      if (inner) return [field.number, ...inner];
    }
  }
  return undefined;
}

/** A Struct nested 150 deep ({"k": {"k": …}}), in binary, under the given field numbers. */
function deepStruct(path: number[]): Uint8Array {
  let value = new Uint8Array(); // an empty Struct
  for (let i = 0; i < 150; i++) {
    const structValue = delimited(5, value); // Value.struct_value
    const entry = new Uint8Array([...delimited(1, new TextEncoder().encode("k")), ...delimited(2, structValue)]);
    value = delimited(1, entry); // Struct.fields entry
  }
  return path.reduceRight((inner, fieldNo) => delimited(fieldNo, inner), value);
}

// ------------------------------------------------------------------------------------------------
// The cases of one RPC, from its descriptor and its row.

interface Case {
  what: string;
  run: () => Promise<Answer>;
  /** Acceptable codes; the first names the expectation in the report. */
  codes: string[];
  reason?: string;
  fields?: string[];
}

const INVALID = "INVALID_ARGUMENT";
const hostileFilters = [
  `name = "x' OR '1'='1"`,
  `name = "x"; DROP TABLE region; --"`,
  `${"(".repeat(400)}name = "x"${")".repeat(400)}`,
  `${"NOT ".repeat(400)}name = "x"`,
  Array.from({ length: 150 }, (_, i) => `name = "n${i}"`).join(" OR "),
  `colour = "red"`,
  `name = "unterminated`,
  `name = `,
  `id = "not-a-uuid"`,
  `create_time > "yesterday"`,
  `name = "\\"`,
];

function casesOf(method: DescMethod, row: Row): Case[] {
  const valid = () => encode(method, row.valid());
  const cases: Case[] = [];
  const malformed = { codes: [INVALID], reason: "MALFORMED_REQUEST" };
  const protocols: Protocol[] = ["grpc", "grpc over HTTP/1.1", "grpc-web", "connect proto"];
  for (const protocol of protocols) {
    cases.push({
      what: `ff ff ff ff over ${protocol}`,
      run: () => call(protocol, method, new Uint8Array([0xff, 0xff, 0xff, 0xff])),
      ...malformed,
    });
  }
  // A body cut short: the encoding of a real request without its last byte; and, for the enveloped
  // protocols, an envelope promising more bytes than it holds.
  const cut = () => {
    const bytes = valid();
    return bytes.length > 0 ? bytes.subarray(0, bytes.length - 1) : new Uint8Array([0x0a]);
  };
  for (const protocol of protocols)
    cases.push({ what: `truncated message over ${protocol}`, run: () => call(protocol, method, cut()), ...malformed });
  const short = envelope(0, new Uint8Array(4));
  short[4] = 100;
  cases.push({
    what: "envelope promising 100 bytes, holding 4, over grpc",
    run: () => call("grpc", method, short, "admin", true),
    ...malformed,
  });
  if (method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS && method.methodKind === "unary") {
    cases.push({
      what: "Connect GET with base64 that does not decode",
      run: () => call("connect GET", method, "encoding=proto&base64=1&message=!!!!"),
      ...malformed,
    });
    cases.push({
      what: "Connect GET with ff ff ff ff",
      run: () => call("connect GET", method, new Uint8Array([0xff, 0xff, 0xff, 0xff])),
      ...malformed,
    });
  }
  // Its refusal quotes the NUL: the audit record must still be written (it stores U+FFFD instead).
  cases.push({ what: "a JSON body starting with NUL", run: () => call("connect json", method, "\u0000{}"), ...malformed });
  const utf8 = invalidUtf8(method.input);
  if (utf8) cases.push({ what: "invalid UTF-8 in a string over grpc", run: () => call("grpc", method, utf8), ...malformed });
  const struct = structPath(method.input);
  if (struct) cases.push({ what: "a Struct nested 150 deep over grpc", run: () => call("grpc", method, deepStruct(struct)), ...malformed });

  if (!isPublic(method)) {
    cases.push({
      what: "no token",
      run: () => call("grpc", method, valid(), "no token"),
      codes: ["UNAUTHENTICATED"],
      reason: "TOKEN_MISSING",
    });
    cases.push({
      what: "a revoked token",
      run: () => call("grpc", method, valid(), "revoked token"),
      codes: ["UNAUTHENTICATED"],
      reason: "TOKEN_INVALID",
    });
  }
  if (row.deniedTo) {
    const caller = row.deniedTo;
    cases.push({
      what: `as ${caller}`,
      run: () => call("grpc", method, valid(), caller),
      codes: ["PERMISSION_DENIED"],
      reason: "ROLE_NOT_ALLOWED",
    });
  }
  if (row.foreign) {
    const { request, code, reason } = row.foreign;
    cases.push({
      what: "tenant B's admin naming tenant A's",
      run: () => call("grpc", method, encode(method, request()), "tenant B admin"),
      codes: [code],
      reason,
    });
  }

  const strings = stringFields(method.input);
  if (strings.length > 0) {
    const nul: Record<string, unknown> = {};
    for (const field of strings) field.set(nul, "a\u0000b");
    const paths = strings.map((field) => field.path);
    const refusal = { codes: [INVALID], reason: "VALIDATION_FAILED", fields: paths };
    cases.push({ what: "NUL in every string over grpc", run: () => call("grpc", method, encode(method, nul)), ...refusal });
    cases.push({ what: "NUL in every string over Connect JSON", run: () => call("connect json", method, json(method, nul)), ...refusal });
    // JSON's spelling of invalid UTF-8: the decoder refuses it, as binary decoding refuses the bytes.
    const lone: Record<string, unknown> = {};
    for (const field of strings) field.set(lone, "a\ufffdb");
    cases.push({
      what: "a lone surrogate (\\ud800) in every string over Connect JSON",
      run: () => call("connect json", method, json(method, lone).replaceAll("\ufffd", "\\ud800")),
      ...malformed,
    });
  }
  const bounded = strings.filter((field) => (stringRules(field.field)?.maxLen ?? 0n) > 0n);
  if (bounded.length > 0) {
    const long: Record<string, unknown> = {};
    for (const field of bounded) field.set(long, "a".repeat(Number(stringRules(field.field)!.maxLen!) + 1));
    cases.push({
      what: "every bounded string one character too long",
      run: () => call("grpc", method, encode(method, long)),
      codes: [INVALID],
      reason: "VALIDATION_FAILED",
      fields: bounded.map((field) => field.path),
    });
  }
  const uuids = strings.filter((field) => stringRules(field.field)?.wellKnown.case === "uuid");
  if (uuids.length > 0) {
    const bad: Record<string, unknown> = {};
    for (const field of uuids) field.set(bad, "not-a-uuid");
    cases.push({
      what: "every UUID field not a UUID",
      run: () => call("grpc", method, encode(method, bad)),
      codes: [INVALID],
      reason: "VALIDATION_FAILED",
      fields: uuids.map((field) => field.path),
    });
  }
  const has = (name: string) => method.input.fields.some((field) => field.name === name);
  if (has("filter")) {
    for (const filter of hostileFilters) {
      cases.push({
        what: `filter ${JSON.stringify(filter.length > 60 ? `${filter.slice(0, 57)}...` : filter)}`,
        run: () => call("grpc", method, encode(method, { ...row.valid(), filter })),
        // Well-formed hostility is just a filter that matches nothing: OK; the rest INVALID_FILTER.
        codes: ["OK", INVALID],
      });
    }
  }
  if (has("page_token")) {
    const edited = `${s.pageToken.slice(0, 10)}zz${s.pageToken.slice(12)}`;
    for (const [what, pageToken] of [
      ["garbage", "garbage"],
      ["hand-edited", edited],
      ["truncated", s.pageToken.slice(0, -3)],
    ] as const) {
      cases.push({
        what: `a ${what} page token`,
        run: () => call("grpc", method, encode(method, { ...row.valid(), pageToken })),
        codes: [INVALID],
        reason: "INVALID_PAGE_TOKEN",
        fields: ["page_token"],
      });
    }
  }
  if (has("page_size")) {
    cases.push({ what: "page_size 0", run: () => call("grpc", method, encode(method, { ...row.valid(), pageSize: 0 })), codes: ["OK"] });
    cases.push({
      what: "page_size -1",
      run: () => call("grpc", method, encode(method, { ...row.valid(), pageSize: -1 })),
      codes: [INVALID],
      reason: "VALIDATION_FAILED",
      fields: ["page_size"],
    });
    cases.push({
      what: "page_size 2^31-1",
      run: () => call("grpc", method, encode(method, { ...row.valid(), pageSize: 2 ** 31 - 1 })),
      codes: ["OK"],
    });
  }
  return cases;
}

// ------------------------------------------------------------------------------------------------
// Nothing changes: the fingerprint of every table but the audit trail.

let before: Record<string, string>;
let auditBefore: number;

async function fingerprint(): Promise<Record<string, string>> {
  const em = t.server.db.em();
  const tables = await em.execute<{ table_name: string }[]>(
    `select table_name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not in ('audit_event', 'mikro_orm_migrations')
      order by table_name`,
  );
  const [row] = await em.execute<Record<string, string>[]>(
    `select ${tables
      .map(
        ({ table_name: name }) =>
          `(select count(*) || ':' || coalesce(md5(string_agg(r::text, '|' order by r::text)), '') from "${name}" r) as "${name}"`,
      )
      .join(", ")}`,
  );
  return row!;
}

async function auditCount(): Promise<number> {
  const [row] = await t.server.db.em().execute<{ n: string }[]>("select count(*) as n from audit_event");
  return Number(row!.n);
}

// ------------------------------------------------------------------------------------------------

describe("the contract matrix", () => {
  it("has a row for every RPC of the descriptor set, and no row for an RPC it lacks", () => {
    expect(methods.length).toBeGreaterThanOrEqual(110);
    expect(
      methods.map(({ key }) => key).filter((key) => !rows[key]),
      "RPCs without a row",
    ).toEqual([]);
    expect(
      Object.keys(rows).filter((key) => !methods.some((m) => m.key === key)),
      "rows naming no RPC",
    ).toEqual([]);
  });

  // One test per RPC; its cases run together, the RPCs a few at a time.
  describe.concurrent.each(methods.filter(({ key }) => rows[key]))("$key", ({ key, method }) => {
    it("refuses what it must, clearly, and changes nothing", async () => {
      const failures: string[] = [];
      await Promise.all(
        casesOf(method, rows[key]!).map(async (c) => {
          let answer: Answer;
          try {
            answer = await c.run();
          } catch (error) {
            failures.push(`${c.what}: ${String(error)}`);
            return;
          }
          const problems: string[] = [];
          if (!c.codes.includes(answer.code)) problems.push(`code ${answer.code}, wanted ${c.codes.join(" or ")}`);
          if (answer.code !== "OK" && answer.reason === undefined) problems.push("no rackplane.dev ErrorInfo");
          if (c.reason && answer.code !== "OK" && answer.reason !== c.reason) problems.push(`reason ${answer.reason}, wanted ${c.reason}`);
          for (const field of c.fields ?? [])
            if (!answer.fields.includes(field)) problems.push(`no violation of ${field} (got ${answer.fields.join(", ")})`);
          if (answer.requestIds.join(" | ") !== answer.sentRequestId) problems.push(`x-request-id ${answer.requestIds.join(" | ")}`);
          if (problems.length > 0) failures.push(`${c.what}: ${problems.join("; ")}`);
        }),
      );
      expect(failures).toEqual([]);
    });
  });

  it("changed nothing, audited every refused mutation once and nothing else, and still serves", async () => {
    expect(await fingerprint()).toEqual(before);
    // Refusals before the interceptor are audited by the request gate without anyone awaiting.
    const refusedMutations = [...sent.values()].filter(({ method, code }) => mutates(method) && code !== "OK").length;
    await expect.poll(auditCount, { timeout: 5_000 }).toBe(auditBefore + refusedMutations);
    const audited = await t.server.db
      .em()
      .execute<{ request_id: string; result: string; n: string }[]>(
        "select request_id, min(result) as result, count(*) as n from audit_event where request_id like 'mx-%' group by request_id",
      );
    const problems = audited.flatMap(({ request_id, result, n }) => {
      const call = sent.get(request_id);
      if (!call) return [`${request_id}: audited, not sent`];
      if (!mutates(call.method)) return [`${request_id} ${call.method.name}: a read was audited`];
      if (Number(n) !== 1 || result !== call.code)
        return [`${request_id} ${call.method.name}: ${n} rows, result ${result}, answered ${call.code}`];
      return [];
    });
    expect(problems).toEqual([]);
    const health = methods.find(({ key }) => key === "Health/Check")!.method;
    const res = await h2request(
      "/grpc.health.v1.Health/Check",
      { "content-type": "application/grpc", te: "trailers" },
      envelope(0, new Uint8Array()),
    );
    expect(values(res.trailers["grpc-status"])[0]).toBe("0");
    const message = frames(res.body)[0]!;
    expect(fromBinary(health.output, message.data)).toMatchObject({ status: 1 });
  });
});
