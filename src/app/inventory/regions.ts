import { FailedPreconditionError } from "../../domain/errors.js";
import type { Region } from "../../domain/inventory.js";
import { Datacenter, Region as RegionEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { removeAssignments } from "../maintainers/resources.js";
import { mutate } from "../mutation.js";
import { createOnce, findForChange, readById } from "../standard-methods.js";
import { requireInventoryRead, requireInventoryWrite } from "./access.js";
import { deleteDatacenterTree } from "./cascade.js";
import { regionFilter } from "./filters.js";

export interface RegionFields {
  readonly name: string;
  readonly description: string;
}

export async function createRegion(db: Database, ctx: CallContext, fields: RegionFields, requestId: string): Promise<Region> {
  requireInventoryWrite(ctx.principal);
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, "region", requestId, fields, async (id) => {
      em.create(RegionEntity, { id, ...fields });
    }),
  );
  return getRegion(db, ctx, id);
}

export async function getRegion(db: Database, ctx: CallContext, id: string): Promise<Region> {
  requireInventoryRead(ctx.principal);
  return readById(db.em(), RegionEntity, "region", id);
}

export async function listRegions(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<Region>> {
  requireInventoryRead(ctx.principal);
  return listPage(db.em(), RegionEntity, request, regionFilter);
}

export async function updateRegion(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: Partial<RegionFields>,
): Promise<Region> {
  requireInventoryWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    const region = await findForChange(em, ctx, RegionEntity, "region", id, etag);
    em.assign(region, patch);
    return region;
  });
}

export async function deleteRegion(db: Database, ctx: CallContext, id: string, etag: string, force: boolean): Promise<void> {
  requireInventoryWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const region = await findForChange(em, ctx, RegionEntity, "region", id, etag);
    const datacenters = await em.find(Datacenter, { regionId: id }, { fields: ["id", "name"], lockMode: undefined });
    if (datacenters.length > 0) {
      if (!force) {
        throw new FailedPreconditionError(
          "HAS_DEPENDENTS",
          `region ${region.name} still has ${datacenters.length} datacenter(s): ${datacenters
            .map((dc) => dc.name)
            .slice(0, 10)
            .join(", ")}; delete them first or pass force`,
          { resource_type: "region", resource_id: id, datacenters: String(datacenters.length) },
        );
      }
      for (const datacenter of datacenters) await deleteDatacenterTree(em, datacenter.id);
    }
    em.remove(region);
    await removeAssignments(em, "region", [id]);
  });
}
