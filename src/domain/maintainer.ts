// Maintainers and responsibility (MNT-1..4): plain types.
export const maintainerStatuses = ["ACTIVE", "INACTIVE"] as const;
export type MaintainerStatus = (typeof maintainerStatuses)[number];

export const maintainerRoles = ["OWNER", "ON_CALL", "ESCALATION", "TECHNICAL_CONTACT"] as const;
export type MaintainerRole = (typeof maintainerRoles)[number];

interface Resource {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

export interface Maintainer extends Resource {
  readonly name: string;
  readonly account: string;
  readonly email: string;
  readonly phone: string;
  readonly chat: string;
  readonly status: MaintainerStatus;
}

export interface MaintainerGroup extends Resource {
  readonly name: string;
  readonly description: string;
  readonly managerId: string;
  readonly memberCount: number;
}

export interface ResourceRef {
  readonly type: string;
  readonly id: string;
}

export interface ResourceMaintainer {
  readonly id: string;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly maintainerId?: string | null;
  readonly groupId?: string | null;
  readonly role: MaintainerRole;
  readonly createTime: Date;
}
