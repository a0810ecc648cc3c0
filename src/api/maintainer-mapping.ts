// Maintainers: domain ⇄ proto.
import { create } from "@bufbuild/protobuf";
import {
  MaintainedResourceSchema,
  MaintainerGroupSchema,
  MaintainerRole,
  MaintainerSchema,
  MaintainerStatus,
  ResourceMaintainerSchema,
  ResponsibleMaintainerSchema,
  type Maintainer as MaintainerMessage,
  type ResourceMaintainer as ResourceMaintainerMessage,
} from "../../gen/es/rackplane/v1/maintainer_pb.js";
import type { AssignmentFields, MaintainedResource, ResponsibleMaintainer } from "../app/maintainers/assignments.js";
import type { MaintainerFields } from "../app/maintainers/maintainers.js";
import type * as domain from "../domain/maintainer.js";
import { resourceFields, timestamp } from "./convert.js";

export function maintainerMessage(maintainer: domain.Maintainer) {
  return create(MaintainerSchema, {
    id: maintainer.id,
    name: maintainer.name,
    account: maintainer.account,
    email: maintainer.email,
    phone: maintainer.phone,
    chat: maintainer.chat,
    status: MaintainerStatus[maintainer.status],
    ...resourceFields(maintainer),
  });
}

export function maintainerStatus(status: MaintainerStatus): domain.MaintainerStatus {
  return status === MaintainerStatus.UNSPECIFIED ? "ACTIVE" : (MaintainerStatus[status] as domain.MaintainerStatus);
}

export function maintainerFields(message: MaintainerMessage): MaintainerFields {
  return {
    name: message.name,
    account: message.account,
    email: message.email,
    phone: message.phone,
    chat: message.chat,
    status: maintainerStatus(message.status),
  };
}

export function maintainerGroupMessage(group: domain.MaintainerGroup) {
  return create(MaintainerGroupSchema, {
    id: group.id,
    name: group.name,
    description: group.description,
    managerId: group.managerId,
    memberCount: group.memberCount,
    ...resourceFields(group),
  });
}

/** The contract refuses MAINTAINER_ROLE_UNSPECIFIED before the handler runs. */
export function maintainerRole(role: MaintainerRole): domain.MaintainerRole {
  return MaintainerRole[role] as domain.MaintainerRole;
}

export function assignmentFields(message: ResourceMaintainerMessage): AssignmentFields {
  const assignee = message.assignee;
  return {
    resource: { type: message.resource?.type ?? "", id: message.resource?.id ?? "" },
    assignee: assignee.case === "groupId" ? { groupId: assignee.value } : { maintainerId: assignee.value ?? "" },
    role: maintainerRole(message.role),
  };
}

export function resourceMaintainerMessage(assignment: domain.ResourceMaintainer) {
  return create(ResourceMaintainerSchema, {
    id: assignment.id,
    resource: { type: assignment.resourceType, id: assignment.resourceId },
    assignee: assignment.groupId
      ? { case: "groupId", value: assignment.groupId }
      : { case: "maintainerId", value: assignment.maintainerId ?? "" },
    role: MaintainerRole[assignment.role],
    createTime: timestamp(assignment.createTime),
  });
}

export function responsibleMaintainerMessage(responsible: ResponsibleMaintainer) {
  return create(ResponsibleMaintainerSchema, {
    maintainer: maintainerMessage(responsible.maintainer),
    assignment: resourceMaintainerMessage(responsible.assignment),
    viaGroupId: responsible.viaGroup?.id ?? "",
    viaGroupName: responsible.viaGroup?.name ?? "",
  });
}

export function maintainedResourceMessage(maintained: MaintainedResource) {
  return create(MaintainedResourceSchema, {
    resource: { type: maintained.assignment.resourceType, id: maintained.assignment.resourceId },
    resourceName: maintained.resourceName,
    assignment: resourceMaintainerMessage(maintained.assignment),
    viaGroupId: maintained.viaGroup?.id ?? "",
    viaGroupName: maintained.viaGroup?.name ?? "",
  });
}
