// rackplane.v1.ComputeService, the catalogue half: VM specifications and images (VM-1, VM-2).
// Maps requests to use cases and results back; no rules here. The VM half is another module, merged
// with this one in src/server/routes.ts.
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
import { etagOf } from "../domain/etag.js";
import { callContext, listRequest, maskedPatch, required, timestamp } from "./convert.js";

export function computeCatalogue(db: Database): Partial<ServiceImpl<typeof ComputeService>> {
  return {
    async createVirtualMachineSpecification(req, ctx) {
      const created = await catalogue.createSpecification(db, callContext(ctx), specificationFields(req.specification!), req.requestId);
      return { specification: specificationMessage(created) };
    },
    async getVirtualMachineSpecification(req, ctx) {
      return { specification: specificationMessage(await catalogue.getSpecification(db, callContext(ctx), req.id)) };
    },
    async listVirtualMachineSpecifications(req, ctx) {
      const page = await catalogue.listSpecifications(db, callContext(ctx), listRequest(req));
      return { specifications: page.items.map(specificationMessage), nextPageToken: page.nextPageToken };
    },
    async updateVirtualMachineSpecification(req, ctx) {
      const specification = req.specification!;
      // vcpu, memory_mib and storage_gib are not here: a size is fixed once created, so naming one
      // is INVALID_UPDATE_MASK.
      const patch = maskedPatch<catalogue.SpecificationPatch>(req.updateMask, {
        name: () => ({ name: required("specification.name", specification.name) }),
        generation: () => ({ generation: specification.generation }),
        deprecated: () => ({ deprecated: specification.deprecated }),
        description: () => ({ description: specification.description }),
      });
      const updated = await catalogue.updateSpecification(db, callContext(ctx), specification.id, specification.etag, patch);
      return { specification: specificationMessage(updated) };
    },
    async deleteVirtualMachineSpecification(req, ctx) {
      await catalogue.deleteSpecification(db, callContext(ctx), req.id, req.etag);
      return {};
    },

    async createImage(req, ctx) {
      return { image: imageMessage(await catalogue.createImage(db, callContext(ctx), imageFields(req.image!), req.requestId)) };
    },
    async getImage(req, ctx) {
      return { image: imageMessage(await catalogue.getImage(db, callContext(ctx), req.id)) };
    },
    async listImages(req, ctx) {
      const page = await catalogue.listImages(db, callContext(ctx), listRequest(req));
      return { images: page.items.map(imageMessage), nextPageToken: page.nextPageToken };
    },
    async updateImage(req, ctx) {
      const image = req.image!;
      // architecture is not here: an image is built for one.
      const patch = maskedPatch<catalogue.ImagePatch>(req.updateMask, {
        name: () => ({ name: required("image.name", image.name) }),
        os_family: () => ({ osFamily: image.osFamily }),
        os_version: () => ({ osVersion: image.osVersion }),
        // A status can be changed, not cleared: UNSPECIFIED is refused rather than read as ACTIVE.
        status: () => ({ status: ImageStatus[required("image.status", image.status)] as DomainImageStatus }),
        description: () => ({ description: image.description }),
      });
      return { image: imageMessage(await catalogue.updateImage(db, callContext(ctx), image.id, image.etag, patch)) };
    },
    async deleteImage(req, ctx) {
      await catalogue.deleteImage(db, callContext(ctx), req.id, req.etag);
      return {};
    },
  };
}

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
    etag: etagOf(specification.version),
    createTime: timestamp(specification.createTime),
    updateTime: timestamp(specification.updateTime),
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
    etag: etagOf(image.version),
    createTime: timestamp(image.createTime),
    updateTime: timestamp(image.updateTime),
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
