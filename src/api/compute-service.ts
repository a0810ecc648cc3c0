// rackplane.v1.ComputeService: virtual machines, their lifecycle and placement records here; the
// catalogue (specifications, images) in compute-catalogue.ts.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  AntiAffinityScope,
  SchedulingRecordSchema,
  VirtualMachineRole,
  VirtualMachineSchema,
  VirtualMachineState,
  type ComputeService,
} from "../../gen/es/rackplane/v1/compute_pb.js";
import * as vms from "../app/compute/vms.js";
import { type ObservationSettings, readObservations } from "../app/observations/latest.js";
import type { ObservationView } from "../domain/observations.js";
import { observationMessage } from "./observation-mapping.js";
import { getVirtualMachineDetail, listSchedulingRecords, listVirtualMachines, type SchedulingRecord } from "../app/compute/vm-queries.js";
import type { Database } from "../app/database.js";
import { previewVirtualMachineName } from "../app/compute/naming-preview.js";
import type { VirtualMachine, VirtualMachineRole as DomainRole } from "../domain/compute.js";
import { catalogueHandlers, catalogueTargets } from "./compute-catalogue.js";
import { callContext, listRequest, timestamp } from "./convert.js";
import { byId, creates, reads, type TargetRules } from "./request-targets.js";
import { etagOf } from "../domain/etag.js";
import { resourcesMessage } from "./host-mapping.js";
import { responsibleMaintainerMessage } from "./maintainer-mapping.js";
import { operationMessage } from "./operation-mapping.js";

export function computeService(db: Database, observations: ObservationSettings): ServiceImpl<typeof ComputeService> {
  return {
    ...catalogueHandlers(db),
    async createVirtualMachine(req, ctx) {
      const antiAffinity = req.antiAffinity;
      const { virtualMachine, operation } = await vms.createVirtualMachine(
        db,
        callContext(ctx),
        {
          tenantId: req.tenantId,
          target: req.target.case === "baremetalId" ? { baremetalId: req.target.value } : { groupId: req.target.value ?? "" },
          specificationId: req.specificationId,
          imageId: req.imageId,
          clusterId: req.clusterId || null,
          role: role(req.role),
          name: req.name,
          antiAffinity:
            antiAffinity && antiAffinity.virtualMachineIds.length > 0
              ? {
                  scope: antiAffinity.scope === AntiAffinityScope.RACK ? "RACK" : "HOST",
                  virtualMachineIds: antiAffinity.virtualMachineIds,
                }
              : undefined,
        },
        req.requestId,
      );
      return { virtualMachine: virtualMachineMessage(virtualMachine), operation: operationMessage(operation) };
    },
    async getVirtualMachine(req, ctx) {
      // The observation is read beside the VM (one round trip) and returned only with it.
      const [detail, observed] = await Promise.all([
        getVirtualMachineDetail(db, callContext(ctx), req.id),
        readObservations(db, "virtual_machine", [req.id], observations),
      ]);
      return {
        virtualMachine: virtualMachineMessage(detail.virtualMachine, observed.get(detail.virtualMachine.id)),
        tenant: detail.tenant,
        specification: detail.specification,
        image: detail.image,
        host: detail.host,
        maintainers: detail.maintainers.map(responsibleMaintainerMessage),
        ...(detail.cluster ? { cluster: detail.cluster } : {}),
        ...(detail.nodePool ? { nodePool: detail.nodePool } : {}),
        servedClusters: [...detail.servedClusters],
      };
    },
    async listVirtualMachines(req, ctx) {
      const page = await listVirtualMachines(db, callContext(ctx), listRequest(req));
      const observed = await readObservations(
        db,
        "virtual_machine",
        page.items.map((vm) => vm.id),
        observations,
      );
      return { virtualMachines: page.items.map((vm) => virtualMachineMessage(vm, observed.get(vm.id))), nextPageToken: page.nextPageToken };
    },
    async startVirtualMachine(req, ctx) {
      return { operation: operationMessage(await vms.operateVirtualMachine(db, callContext(ctx), req.id, "START", {})) };
    },
    async stopVirtualMachine(req, ctx) {
      return { operation: operationMessage(await vms.operateVirtualMachine(db, callContext(ctx), req.id, "STOP", { force: req.force })) };
    },
    async rebootVirtualMachine(req, ctx) {
      return { operation: operationMessage(await vms.operateVirtualMachine(db, callContext(ctx), req.id, "REBOOT", {})) };
    },
    async deleteVirtualMachine(req, ctx) {
      return {
        operation: operationMessage(
          await vms.operateVirtualMachine(db, callContext(ctx), req.id, "DELETE", { keepDataDisk: req.keepDataDisk }),
        ),
      };
    },
    async listSchedulingRecords(req, ctx) {
      const page = await listSchedulingRecords(db, callContext(ctx), listRequest(req));
      return { schedulingRecords: page.items.map(schedulingRecordMessage), nextPageToken: page.nextPageToken };
    },
    async previewVirtualMachineName(req, ctx) {
      return previewVirtualMachineName(db, callContext(ctx), req.tenantId, role(req.role));
    },
  };
}

export const computeTargets: TargetRules<typeof ComputeService> = {
  ...catalogueTargets,
  createVirtualMachine: creates("virtual_machine"),
  getVirtualMachine: reads,
  listVirtualMachines: reads,
  startVirtualMachine: byId("virtual_machine"),
  stopVirtualMachine: byId("virtual_machine"),
  rebootVirtualMachine: byId("virtual_machine"),
  deleteVirtualMachine: byId("virtual_machine"),
  listSchedulingRecords: reads,
  previewVirtualMachineName: reads,
};

function role(value: VirtualMachineRole): DomainRole {
  return value === VirtualMachineRole.UNSPECIFIED ? "" : (VirtualMachineRole[value] as DomainRole);
}

export function virtualMachineMessage(vm: VirtualMachine, observation?: ObservationView) {
  return create(VirtualMachineSchema, {
    id: vm.id,
    name: vm.name,
    tenantId: vm.tenantId,
    specificationId: vm.specificationId,
    imageId: vm.imageId,
    resources: resourcesMessage(vm),
    groupId: vm.groupId,
    baremetalId: vm.baremetalId,
    clusterId: vm.clusterId ?? "",
    role: vm.role === "" ? VirtualMachineRole.UNSPECIFIED : VirtualMachineRole[vm.role],
    state: VirtualMachineState[vm.state],
    activeOperationId: vm.activeOperationId ?? "",
    hypervisorId: vm.hypervisorId,
    ipAddresses: vm.ipAddresses,
    etag: etagOf(vm.version),
    createTime: timestamp(vm.createTime),
    updateTime: timestamp(vm.updateTime),
    stateChangeTime: timestamp(vm.stateChangeTime),
    observation: observationMessage(observation),
  });
}

function schedulingRecordMessage(record: SchedulingRecord) {
  return create(SchedulingRecordSchema, {
    id: record.id,
    virtualMachineId: record.virtualMachineId,
    tenantId: record.tenantId,
    groupId: record.groupId,
    requested: resourcesMessage(record),
    candidates: record.candidates.map((candidate) => ({
      baremetalId: candidate.baremetalId,
      free: resourcesMessage(candidate.free),
      score: candidate.score,
    })),
    chosenBaremetalId: record.baremetalId,
    reason: record.reason,
    policy: record.policy,
    events: record.events.map((event) => ({
      kind: event.kind,
      resources: resourcesMessage(event.resources),
      reason: event.reason,
      time: timestamp(new Date(event.time)),
    })),
    createTime: timestamp(record.createTime),
  });
}
