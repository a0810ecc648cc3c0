// The VM catalogue (VM-1, VM-2): specifications (flavors) and images. Platform admins write it;
// every authenticated principal but agents reads it. A specification's sizes are fixed once it is
// created (the scheduler reserves exactly them, and VMs keep pointing at it), and so is an image's
// architecture; neither a specification nor an image can be deleted while a VM uses it.
import { architectures, imageStatuses, type Architecture, type ImageStatus } from "../../domain/compute.js";
import { FailedPreconditionError } from "../../domain/errors.js";
import { field } from "../../domain/filter-schema.js";
import { inventoryReaders, requireRole, type Role } from "../../domain/principal.js";
import { Image as ImageEntity, VirtualMachineSpecification as SpecificationEntity } from "../../persistence/entities/index.js";
import { standardResource, type DependentCheck, type ResourceAccess } from "../standard-resource.js";

// ---------------------------------------------------------------------------------------------
// Types

export interface SpecificationFields {
  readonly name: string;
  readonly vcpu: number;
  readonly memoryMib: number;
  readonly storageGib: number;
  readonly generation: string;
  readonly deprecated: boolean;
  readonly description: string;
}

export interface VirtualMachineSpecification extends SpecificationFields {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

export interface ImageFields {
  readonly name: string;
  readonly osFamily: string;
  readonly osVersion: string;
  readonly architecture: Architecture;
  readonly status: ImageStatus;
  readonly description: string;
}

export interface Image extends ImageFields {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

// ---------------------------------------------------------------------------------------------
// Who

/** Agents act on jobs; everyone else may browse the catalogue to choose a size and an image. */
const catalogueReaders: readonly Role[] = inventoryReaders;
const catalogueWriters: readonly Role[] = ["PLATFORM_ADMIN"];

const catalogueAccess: ResourceAccess = {
  read: (principal) => requireRole(principal, catalogueReaders, "read the VM catalogue"),
  write: (principal) => requireRole(principal, catalogueWriters, "change the VM catalogue"),
};

// ---------------------------------------------------------------------------------------------
// The two resources

/** Update never changes the sizes. */
export const specifications = standardResource<
  VirtualMachineSpecification,
  SpecificationFields,
  Pick<SpecificationFields, "name" | "generation" | "deprecated" | "description">
>({
  type: "virtual_machine_specification",
  entity: SpecificationEntity,
  filter: {
    name: field.string("name"),
    vcpu: field.integer("vcpu"),
    memory_mib: field.integer("memoryMib"),
    storage_gib: field.integer("storageGib"),
    generation: field.string("generation"),
    deprecated: field.boolean("deprecated"),
  },
  access: catalogueAccess,
  dependents: [unusedByVirtualMachines("specification_id", "specification", "mark it deprecated instead")],
});

/** Update never changes the architecture. */
export const images = standardResource<Image, ImageFields, Omit<ImageFields, "architecture">>({
  type: "image",
  entity: ImageEntity,
  filter: {
    name: field.string("name"),
    os_family: field.string("osFamily"),
    os_version: field.string("osVersion"),
    architecture: field.enum("ARCHITECTURE_", architectures, "architecture"),
    status: field.enum("IMAGE_STATUS_", imageStatuses, "status"),
  },
  access: catalogueAccess,
  dependents: [unusedByVirtualMachines("image_id", "image", "set its status to DEPRECATED or DISABLED instead")],
});

// ---------------------------------------------------------------------------------------------

/**
 * FAILED_PRECONDITION / HAS_DEPENDENTS while a VM names the entry. Live VMs (any state but DELETED)
 * are what the client must act on. A DELETED VM is kept for the record and still references the
 * entry through a foreign key, so the entry cannot go either: the answer says so, and that
 * deprecating it (or disabling the image) is what retires it, instead of failing on the key. The
 * entry's row lock (taken by Delete) conflicts with the key-share lock a VM insert takes on it
 * through its foreign key: a VM created concurrently either commits first (and is counted) or
 * fails its key check.
 */
function unusedByVirtualMachines(
  column: "specification_id" | "image_id",
  noun: string,
  retire: string,
): DependentCheck<{ id: string; name: string }> {
  return async (em, entry, { type }) => {
    const [counts] = await em.execute<{ live: number; deleted: number }[]>(
      `select count(*) filter (where state <> 'DELETED')::int as live, count(*) filter (where state = 'DELETED')::int as deleted
         from virtual_machine where ${column} = ?`,
      [entry.id],
    );
    const live = counts?.live ?? 0;
    const deleted = counts?.deleted ?? 0;
    if (live === 0 && deleted === 0) return;
    const label = `${noun} ${entry.name}`;
    const message =
      live > 0
        ? `${label} is used by ${live} virtual machine(s); delete them first, or ${retire}`
        : `${label} is named by the records of ${deleted} deleted virtual machine(s), which are kept; ${retire}`;
    throw new FailedPreconditionError("HAS_DEPENDENTS", message, {
      resource_type: type,
      resource_id: entry.id,
      virtual_machines: String(live),
      deleted_virtual_machines: String(deleted),
    });
  };
}
