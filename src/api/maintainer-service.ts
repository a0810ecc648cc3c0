// rackplane.v1.MaintainerService: maps requests to use cases and results back. No rules here.
// Maintainers' five standard methods come from their declaration (standard-handlers.ts).
import type { ServiceImpl } from "@connectrpc/connect";
import type { MaintainerService } from "../../gen/es/rackplane/v1/maintainer_pb.js";
import type { Database } from "../app/database.js";
import * as assignments from "../app/maintainers/assignments.js";
import * as groups from "../app/maintainers/groups.js";
import { maintainers } from "../app/maintainers/maintainers.js";
import { callContext, listRequest, maskedPatch, required } from "./convert.js";
import {
  assignmentFields,
  maintainedResourceMessage,
  maintainerFields,
  maintainerGroupMessage,
  maintainerMessage,
  maintainerStatus,
  resourceMaintainerMessage,
  responsibleMaintainerMessage,
} from "./maintainer-mapping.js";
import { standardHandlers, standardTargets } from "./standard-handlers.js";
import { at, byId, creates, reads, type TargetRules } from "./request-targets.js";

export function maintainerService(db: Database): ServiceImpl<typeof MaintainerService> {
  return {
    ...standardHandlers(db, maintainers, {
      noun: "Maintainer",
      field: "maintainer",
      listField: "maintainers",
      message: maintainerMessage,
      fields: maintainerFields,
      updatable: (maintainer) => ({
        name: () => ({ name: required("maintainer.name", maintainer.name) }),
        account: () => ({ account: required("maintainer.account", maintainer.account) }),
        email: () => ({ email: maintainer.email }),
        phone: () => ({ phone: maintainer.phone }),
        chat: () => ({ chat: maintainer.chat }),
        status: () => ({ status: maintainerStatus(maintainer.status) }),
      }),
    }),

    async createMaintainerGroup(req, ctx) {
      const group = req.group!;
      const created = await groups.createMaintainerGroup(
        db,
        callContext(ctx),
        { name: group.name, description: group.description, managerId: group.managerId },
        req.requestId,
      );
      return { group: maintainerGroupMessage(created) };
    },
    async getMaintainerGroup(req, ctx) {
      return { group: maintainerGroupMessage(await groups.getMaintainerGroup(db, callContext(ctx), req.id)) };
    },
    async listMaintainerGroups(req, ctx) {
      const page = await groups.listMaintainerGroups(db, callContext(ctx), listRequest(req));
      return { groups: page.items.map(maintainerGroupMessage), nextPageToken: page.nextPageToken };
    },
    async updateMaintainerGroup(req, ctx) {
      const group = req.group!;
      const patch = maskedPatch<groups.MaintainerGroupFields>(req.updateMask, {
        name: () => ({ name: required("group.name", group.name) }),
        description: () => ({ description: group.description }),
        manager_id: () => ({ managerId: required("group.manager_id", group.managerId) }),
      });
      return { group: maintainerGroupMessage(await groups.updateMaintainerGroup(db, callContext(ctx), group.id, group.etag, patch)) };
    },
    async deleteMaintainerGroup(req, ctx) {
      await groups.deleteMaintainerGroup(db, callContext(ctx), req.id, req.etag);
      return {};
    },

    async addGroupMember(req, ctx) {
      return { group: maintainerGroupMessage(await groups.addGroupMember(db, callContext(ctx), req.groupId, req.maintainerId)) };
    },
    async removeGroupMember(req, ctx) {
      return { group: maintainerGroupMessage(await groups.removeGroupMember(db, callContext(ctx), req.groupId, req.maintainerId)) };
    },
    async listGroupMembers(req, ctx) {
      const page = await groups.listGroupMembers(db, callContext(ctx), req.groupId, { pageSize: req.pageSize, pageToken: req.pageToken });
      return { maintainers: page.items.map(maintainerMessage), nextPageToken: page.nextPageToken };
    },

    async createResourceMaintainer(req, ctx) {
      const created = await assignments.createResourceMaintainer(
        db,
        callContext(ctx),
        assignmentFields(req.resourceMaintainer!),
        req.requestId,
      );
      return { resourceMaintainer: resourceMaintainerMessage(created) };
    },
    async deleteResourceMaintainer(req, ctx) {
      await assignments.deleteResourceMaintainer(db, callContext(ctx), req.id);
      return {};
    },
    async listResourceMaintainers(req, ctx) {
      const resource = { type: req.resource?.type ?? "", id: req.resource?.id ?? "" };
      const page = await assignments.listResourceMaintainers(db, callContext(ctx), resource, listRequest(req));
      return { maintainers: page.items.map(responsibleMaintainerMessage), nextPageToken: page.nextPageToken };
    },
    async listMaintainerResources(req, ctx) {
      // The contract requires exactly one of the two before the handler runs.
      const owner = req.owner.case === "groupId" ? { groupId: req.owner.value } : { maintainerId: req.owner.value ?? "" };
      const page = await assignments.listMaintainerResources(db, callContext(ctx), owner, listRequest(req));
      return { resources: page.items.map(maintainedResourceMessage), nextPageToken: page.nextPageToken };
    },
  };
}

export const maintainerTargets: TargetRules<typeof MaintainerService> = {
  ...standardTargets(maintainers, "Maintainer", "maintainer"),
  createMaintainerGroup: creates("maintainer_group"),
  getMaintainerGroup: reads,
  listMaintainerGroups: reads,
  updateMaintainerGroup: at("maintainer_group", (request) => request.group?.id),
  deleteMaintainerGroup: byId("maintainer_group"),
  addGroupMember: at("maintainer_group", (request) => request.groupId),
  removeGroupMember: at("maintainer_group", (request) => request.groupId),
  listGroupMembers: reads,
  createResourceMaintainer: creates("resource_maintainer"),
  deleteResourceMaintainer: byId("resource_maintainer"),
  listResourceMaintainers: reads,
  listMaintainerResources: reads,
};
