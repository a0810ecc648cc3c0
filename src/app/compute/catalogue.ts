// The VM catalogue (VM-1, VM-2): specifications (flavors) and images. Platform admins write it;
// every authenticated principal but agents reads it. A specification's sizes are fixed once it is
// created (the scheduler reserves exactly them, and VMs keep pointing at it); neither a
// specification nor an image can be deleted while a VM uses it.
import type { EntityManager } from "@mikro-orm/postgresql";
import { architectures, imageStatuses, type Architecture, type ImageStatus } from "../../domain/compute.js";
import { FailedPreconditionError } from "../../domain/errors.js";
import type { FilterSchema } from "../../domain/filter.js";
import { inventoryReaders, requireRole, type Principal, type Role } from "../../domain/principal.js";
import { Image as ImageEntity, VirtualMachineSpecification as SpecificationEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { enumValues } from "../inventory/filters.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { createOnce, findForChange, readById } from "../standard-methods.js";

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

/** What UpdateVirtualMachineSpecification may change: never the sizes. */
export type SpecificationPatch = Partial<Pick<SpecificationFields, "name" | "generation" | "deprecated" | "description">>;

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

/** What UpdateImage may change: never the architecture. */
export type ImagePatch = Partial<Pick<ImageFields, "name" | "osFamily" | "osVersion" | "status" | "description">>;

export interface Image extends ImageFields {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

// ---------------------------------------------------------------------------------------------
// Who, and what may be filtered

/** Agents act on jobs; everyone else may browse the catalogue to choose a size and an image. */
const catalogueReaders: readonly Role[] = inventoryReaders;
const catalogueWriters: readonly Role[] = ["PLATFORM_ADMIN"];

function requireCatalogueRead(principal: Principal): void {
  requireRole(principal, catalogueReaders, "read the VM catalogue");
}

function requireCatalogueWrite(principal: Principal): void {
  requireRole(principal, catalogueWriters, "change the VM catalogue");
}

const string = { kind: "string" } as const;
const integer = { kind: "integer" } as const;

export const specificationFilter: FilterSchema = {
  name: { type: string, property: "name" },
  vcpu: { type: integer, property: "vcpu" },
  memory_mib: { type: integer, property: "memoryMib" },
  storage_gib: { type: integer, property: "storageGib" },
  generation: { type: string, property: "generation" },
  deprecated: { type: { kind: "boolean" }, property: "deprecated" },
};

export const imageFilter: FilterSchema = {
  name: { type: string, property: "name" },
  os_family: { type: string, property: "osFamily" },
  os_version: { type: string, property: "osVersion" },
  architecture: { type: { kind: "enum", values: enumValues("ARCHITECTURE_", architectures) }, property: "architecture" },
  status: { type: { kind: "enum", values: enumValues("IMAGE_STATUS_", imageStatuses) }, property: "status" },
};

const SPECIFICATION = "virtual_machine_specification";
const IMAGE = "image";

// ---------------------------------------------------------------------------------------------
// Specifications

export async function createSpecification(
  db: Database,
  ctx: CallContext,
  fields: SpecificationFields,
  requestId: string,
): Promise<VirtualMachineSpecification> {
  requireCatalogueWrite(ctx.principal);
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, SPECIFICATION, requestId, fields, async (id) => {
      em.create(SpecificationEntity, { id, ...fields });
    }),
  );
  return getSpecification(db, ctx, id);
}

export async function getSpecification(db: Database, ctx: CallContext, id: string): Promise<VirtualMachineSpecification> {
  requireCatalogueRead(ctx.principal);
  return readById(db.em(), SpecificationEntity, SPECIFICATION, id);
}

export async function listSpecifications(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<VirtualMachineSpecification>> {
  requireCatalogueRead(ctx.principal);
  return listPage(db.em(), SpecificationEntity, request, specificationFilter);
}

export async function updateSpecification(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: SpecificationPatch,
): Promise<VirtualMachineSpecification> {
  target(ctx, SPECIFICATION, id);
  requireCatalogueWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    const specification = await findForChange(em, ctx, SpecificationEntity, SPECIFICATION, id, etag);
    em.assign(specification, patch);
    return specification;
  });
}

export async function deleteSpecification(db: Database, ctx: CallContext, id: string, etag: string): Promise<void> {
  target(ctx, SPECIFICATION, id);
  requireCatalogueWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    // The row lock conflicts with the key-share lock a VM insert takes on it through its foreign
    // key: a VM created concurrently either commits first (and is counted) or fails its key check.
    const specification = await findForChange(em, ctx, SpecificationEntity, SPECIFICATION, id, etag);
    await requireUnused(em, "specification_id", { type: SPECIFICATION, id, label: `specification ${specification.name}` });
    em.remove(specification);
  });
}

// ---------------------------------------------------------------------------------------------
// Images

export async function createImage(db: Database, ctx: CallContext, fields: ImageFields, requestId: string): Promise<Image> {
  requireCatalogueWrite(ctx.principal);
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, IMAGE, requestId, fields, async (id) => {
      em.create(ImageEntity, { id, ...fields });
    }),
  );
  return getImage(db, ctx, id);
}

export async function getImage(db: Database, ctx: CallContext, id: string): Promise<Image> {
  requireCatalogueRead(ctx.principal);
  return readById(db.em(), ImageEntity, IMAGE, id);
}

export async function listImages(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<Image>> {
  requireCatalogueRead(ctx.principal);
  return listPage(db.em(), ImageEntity, request, imageFilter);
}

export async function updateImage(db: Database, ctx: CallContext, id: string, etag: string, patch: ImagePatch): Promise<Image> {
  target(ctx, IMAGE, id);
  requireCatalogueWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    const image = await findForChange(em, ctx, ImageEntity, IMAGE, id, etag);
    em.assign(image, patch);
    return image;
  });
}

export async function deleteImage(db: Database, ctx: CallContext, id: string, etag: string): Promise<void> {
  target(ctx, IMAGE, id);
  requireCatalogueWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const image = await findForChange(em, ctx, ImageEntity, IMAGE, id, etag);
    await requireUnused(em, "image_id", { type: IMAGE, id, label: `image ${image.name}` });
    em.remove(image);
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * FAILED_PRECONDITION / HAS_DEPENDENTS while a VM names the entry. Live VMs (any state but DELETED)
 * are what the client must act on. A DELETED VM is kept for the record and still references the
 * entry through a foreign key, so the entry cannot go either: the answer says so, and that
 * deprecating it (or disabling the image) is what retires it, instead of failing on the key.
 */
async function requireUnused(
  em: EntityManager,
  column: "specification_id" | "image_id",
  entry: { type: string; id: string; label: string },
): Promise<void> {
  const [counts] = await em.execute<{ live: number; deleted: number }[]>(
    `select count(*) filter (where state <> 'DELETED')::int as live, count(*) filter (where state = 'DELETED')::int as deleted
       from virtual_machine where ${column} = ?`,
    [entry.id],
  );
  const live = counts?.live ?? 0;
  const deleted = counts?.deleted ?? 0;
  if (live === 0 && deleted === 0) return;
  const retire = entry.type === IMAGE ? "set its status to DEPRECATED or DISABLED instead" : "mark it deprecated instead";
  const message =
    live > 0
      ? `${entry.label} is used by ${live} virtual machine(s); delete them first, or ${retire}`
      : `${entry.label} is named by the records of ${deleted} deleted virtual machine(s), which are kept; ${retire}`;
  throw new FailedPreconditionError("HAS_DEPENDENTS", message, {
    resource_type: entry.type,
    resource_id: entry.id,
    virtual_machines: String(live),
    deleted_virtual_machines: String(deleted),
  });
}

/** Names the target before the role check, so a refused call's audit record names it too. */
function target(ctx: CallContext, resourceType: string, id: string): void {
  ctx.audit.resourceType = resourceType;
  ctx.audit.resourceId = id;
}
