// Quota arithmetic (QUO-1..4): limits that are absolute or a percentage of a group's effective
// capacity, and whether a request fits.
import { ResourceExhaustedError } from "./errors.js";
import type { Resources } from "./hosts.js";

/** One resource's limit as configured. */
export type QuotaLimit = { readonly absolute: number } | { readonly percent: number };

export interface QuotaLimits {
  readonly cpuCores: QuotaLimit;
  readonly memoryMib: QuotaLimit;
  readonly storageGib: QuotaLimit;
}

export const resourceNames = ["cpuCores", "memoryMib", "storageGib"] as const;
export type ResourceName = (typeof resourceNames)[number];

/** The wire names of the three resources, for error metadata and messages. */
export const resourceLabels: Readonly<Record<ResourceName, string>> = {
  cpuCores: "cpu",
  memoryMib: "memory_mib",
  storageGib: "storage_gib",
};

/** A limit in units now: a percentage follows the group's current effective capacity, rounded
 * down so a tenant never gets more than its share. */
export function resolveLimit(limit: QuotaLimit, groupEffective: number): number {
  return "absolute" in limit ? limit.absolute : Math.floor((limit.percent * groupEffective) / 100);
}

export function resolveLimits(limits: QuotaLimits, groupEffective: Resources): Resources {
  return {
    cpuCores: resolveLimit(limits.cpuCores, groupEffective.cpuCores),
    memoryMib: resolveLimit(limits.memoryMib, groupEffective.memoryMib),
    storageGib: resolveLimit(limits.storageGib, groupEffective.storageGib),
  };
}

export interface QuotaShortfall {
  readonly resource: ResourceName;
  readonly limit: number;
  readonly used: number;
  readonly asked: number;
}

/** The first resource on which `used + asked` would pass the limit, or undefined if it all fits.
 * A limit lowered below use refuses every new request and evicts nothing (QUO-5). */
export function quotaShortfall(limit: Resources, used: Resources, asked: Resources): QuotaShortfall | undefined {
  for (const resource of resourceNames) {
    if (used[resource] + asked[resource] > limit[resource]) {
      return { resource, limit: limit[resource], used: used[resource], asked: asked[resource] };
    }
  }
  return undefined;
}

/** How a refusal words its message: what passed the quota, and anything said after the figures. */
export interface QuotaWording {
  /** Before the resource's name, e.g. "quota exceeded for". */
  readonly lead: string;
  /** After the figures, e.g. "; nothing was reserved". */
  readonly tail?: string;
}

/**
 * QUOTA_EXCEEDED unless `asked` fits the tenant's quota in the group: its limits (resolved against
 * the group's effective capacity) less what it uses. Names the first resource that does not fit,
 * with limit, used and asked, in the message and the metadata.
 */
export function requireWithinQuota(
  check: {
    readonly tenantId: string;
    readonly groupId: string;
    readonly groupName: string;
    readonly limits: QuotaLimits;
    readonly effective: Resources;
    readonly used: Resources;
    readonly asked: Resources;
  },
  wording: QuotaWording,
): void {
  const shortfall = quotaShortfall(resolveLimits(check.limits, check.effective), check.used, check.asked);
  if (!shortfall) return;
  const name = resourceLabels[shortfall.resource];
  throw new ResourceExhaustedError(
    "QUOTA_EXCEEDED",
    `${wording.lead} ${name} in host group ${check.groupName}: limit ${shortfall.limit}, used ${shortfall.used}, asked ${shortfall.asked}${wording.tail ?? ""}`,
    {
      tenant_id: check.tenantId,
      group_id: check.groupId,
      resource: name,
      limit: String(shortfall.limit),
      used: String(shortfall.used),
      asked: String(shortfall.asked),
    },
  );
}

/** QUOTA_EXCEEDED for a tenant without a quota row in the group (`groupLabel` names it). */
export function noQuotaInGroup(tenantId: string, groupId: string, groupLabel: string): ResourceExhaustedError {
  return new ResourceExhaustedError(
    "QUOTA_EXCEEDED",
    `tenant ${tenantId} has no quota in host group ${groupLabel}, so it cannot place there`,
    {
      tenant_id: tenantId,
      group_id: groupId,
      limit: "0",
    },
  );
}

export function add(a: Resources, b: Resources): Resources {
  return { cpuCores: a.cpuCores + b.cpuCores, memoryMib: a.memoryMib + b.memoryMib, storageGib: a.storageGib + b.storageGib };
}

export function subtract(a: Resources, b: Resources): Resources {
  return { cpuCores: a.cpuCores - b.cpuCores, memoryMib: a.memoryMib - b.memoryMib, storageGib: a.storageGib - b.storageGib };
}

export function fits(asked: Resources, free: Resources): boolean {
  return resourceNames.every((resource) => asked[resource] <= free[resource]);
}

/** (capacity − reserved) × ratio per resource, never below zero — the same formula the database
 * applies in refreshEffectiveCapacity (app/hosts/effective-capacity.ts). */
export function effectiveCapacity(
  capacity: Resources,
  policy: {
    readonly reservedPerHost: Resources;
    readonly cpuAllocationRatio: number;
    readonly memoryAllocationRatio: number;
    readonly storageAllocationRatio: number;
  },
): Resources {
  const scale = (value: number, reserved: number, ratio: number) => Math.max(0, Math.floor((value - reserved) * ratio));
  return {
    cpuCores: scale(capacity.cpuCores, policy.reservedPerHost.cpuCores, policy.cpuAllocationRatio),
    memoryMib: scale(capacity.memoryMib, policy.reservedPerHost.memoryMib, policy.memoryAllocationRatio),
    storageGib: scale(capacity.storageGib, policy.reservedPerHost.storageGib, policy.storageAllocationRatio),
  };
}
