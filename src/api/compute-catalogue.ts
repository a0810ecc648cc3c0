// rackplane.v1.ComputeService, the catalogue half: VM specifications and images (VM-1, VM-2).
// Maps requests to use cases and results back; no rules here. The VM half is another module, part of the
// whole service in compute-service.ts.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  Architecture,
  ImageSchema,
  ImageStatus,
  VirtualMachineSpecificationSchema,
  type ComputeService,
  type Image as ImageMessage,
  type VirtualMachineSpecification as SpecificationMessage,
} from "../../gen/es/rackplane/v1/compute_pb.js";
import * as catalogue from "../app/compute/catalogue.js";
import type { Database } from "../app/database.js";
import type { Architecture as DomainArchitecture, ImageStatus as DomainImageStatus } from "../domain/compute.js";
import { required, resourceFields } from "./convert.js";
import { standardHandlers, standardTargets } from "./standard-handlers.js";
import type { TargetRules } from "./request-targets.js";

/** The methods of this half: specifications and images. */
export type CatalogueMethods = Extract<
  keyof ServiceImpl<typeof ComputeService>,
  `${string}VirtualMachineSpecification${string}` | `${string}Image${string}`
>;

export function catalogueHandlers(db: Database): Pick<ServiceImpl<typeof ComputeService>, CatalogueMethods> {
  return {
    ...standardHandlers(db, catalogue.specifications, {
      noun: "VirtualMachineSpecification",
      field: "specification",
      listField: "specifications",
      message: specificationMessage,
      fields: specificationFields,
      // vcpu, memory_mib and storage_gib are not here: a size is fixed once created, so naming one
      // is INVALID_UPDATE_MASK.
      updatable: (specification) => ({
        name: () => ({ name: required("specification.name", specification.name) }),
        generation: () => ({ generation: specification.generation }),
        deprecated: () => ({ deprecated: specification.deprecated }),
        description: () => ({ description: specification.description }),
      }),
    }),
    ...standardHandlers(db, catalogue.images, {
      noun: "Image",
      field: "image",
      listField: "images",
      message: imageMessage,
      fields: imageFields,
      // architecture is not here: an image is built for one.
      updatable: (image) => ({
        name: () => ({ name: required("image.name", image.name) }),
        os_family: () => ({ osFamily: image.osFamily }),
        os_version: () => ({ osVersion: image.osVersion }),
        // A status can be changed, not cleared: UNSPECIFIED is refused rather than read as ACTIVE.
        status: () => ({ status: ImageStatus[required("image.status", image.status)] as DomainImageStatus }),
        description: () => ({ description: image.description }),
      }),
    }),
  };
}

export const catalogueTargets: Pick<TargetRules<typeof ComputeService>, CatalogueMethods> = {
  ...standardTargets(catalogue.specifications, "VirtualMachineSpecification", "specification"),
  ...standardTargets(catalogue.images, "Image", "image"),
};

// ---------------------------------------------------------------------------------------------
// Domain ⇄ proto

export function specificationMessage(specification: catalogue.VirtualMachineSpecification) {
  return create(VirtualMachineSpecificationSchema, {
    id: specification.id,
    name: specification.name,
    vcpu: specification.vcpu,
    memoryMib: BigInt(specification.memoryMib),
    storageGib: BigInt(specification.storageGib),
    generation: specification.generation,
    deprecated: specification.deprecated,
    description: specification.description,
    ...resourceFields(specification),
  });
}

/** The sizes' bounds are protovalidate rules (positive on Create, at most 16 TiB of memory …), so
 * they convert to numbers exactly. */
function specificationFields(message: SpecificationMessage): catalogue.SpecificationFields {
  return {
    name: message.name,
    vcpu: message.vcpu,
    memoryMib: Number(message.memoryMib),
    storageGib: Number(message.storageGib),
    generation: message.generation,
    deprecated: message.deprecated,
    description: message.description,
  };
}

export function imageMessage(image: catalogue.Image) {
  return create(ImageSchema, {
    id: image.id,
    name: image.name,
    osFamily: image.osFamily,
    osVersion: image.osVersion,
    architecture: Architecture[image.architecture],
    status: ImageStatus[image.status],
    description: image.description,
    ...resourceFields(image),
  });
}

/** IMAGE_STATUS_UNSPECIFIED on Create means ACTIVE; architecture UNSPECIFIED never gets here (a
 * protovalidate rule of CreateImageRequest refuses it). */
function imageFields(message: ImageMessage): catalogue.ImageFields {
  return {
    name: message.name,
    osFamily: message.osFamily,
    osVersion: message.osVersion,
    architecture: Architecture[message.architecture] as DomainArchitecture,
    status: message.status === ImageStatus.UNSPECIFIED ? "ACTIVE" : (ImageStatus[message.status] as DomainImageStatus),
    description: message.description,
  };
}
