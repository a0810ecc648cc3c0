// Bare-metal hosts and host groups (HOST-1..4): plain types and rules.
export const baremetalStatuses = ["ACTIVE", "MAINTENANCE", "OFFLINE", "DECOMMISSIONED"] as const;
export type BaremetalStatus = (typeof baremetalStatuses)[number];

export const baremetalGroupDimensions = ["REGION", "DEPARTMENT", "PURPOSE", "LOAD"] as const;
export type BaremetalGroupDimension = (typeof baremetalGroupDimensions)[number];

export const customFieldTypes = ["STRING", "INTEGER", "BOOLEAN", "ENUM"] as const;
export type CustomFieldType = (typeof customFieldTypes)[number];

export type CustomFieldValue = string | number | boolean;
export type CustomFields = Readonly<Record<string, CustomFieldValue>>;

/** CPU cores, memory MiB, storage GiB. */
export interface Resources {
  readonly cpuCores: number;
  readonly memoryMib: number;
  readonly storageGib: number;
}
