// Bastions (K8S-10): BASTION-role VMs associated with clusters of their tenant, a VM serving any
// number of clusters and a cluster having any number of bastions. Lock order: the cluster FOR
// UPDATE, then the VM FOR SHARE (so a concurrent DeleteVirtualMachine, which locks the VM and then
// removes its associations, either sees this one or finds the VM DELETING here), then the row.
// Deleting the VM or the cluster removes its associations (cluster-cascade.ts).
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../../../domain/errors.js";
import { requireEtag } from "../../../domain/etag.js";
import { field, resourceTimes } from "../../../domain/filter-schema.js";
import type { BastionAssociation } from "../../../domain/bastions.js";
import type { VirtualMachineState } from "../../../domain/compute.js";
import { isTenantRole, requireRole } from "../../../domain/principal.js";
import { BastionClusterAssociation as AssociationEntity } from "../../../persistence/entities/index.js";
import type { CallContext } from "../../context.js";
import type { Database } from "../../database.js";
import { listPage, type ListRequest, type Page } from "../../list.js";
import { mutate } from "../../mutation.js";
import { createOnce } from "../../standard-methods.js";
import { clusterUsers, lockCluster } from "../cluster-queries.js";

export const BASTION_ASSOCIATION = "bastion_association";

export type { BastionAssociation } from "../../../domain/bastions.js";

const associationFilter = {
  cluster_id: field.uuid("clusterId"),
  virtual_machine_id: field.uuid("virtualMachineId"),
  tenant_id: field.uuid("tenantId"),
  ...resourceTimes,
};

/** Associates a bastion VM with a cluster: the VM must be of role BASTION, of the cluster's
 * tenant, and neither may be on its way out; a pair is associated once (ALREADY_EXISTS). */
export async function createAssociation(
  db: Database,
  ctx: CallContext,
  request: { readonly clusterId: string; readonly virtualMachineId: string },
  requestId: string,
): Promise<BastionAssociation> {
  requireRole(ctx.principal, clusterUsers, "associate bastions");
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, BASTION_ASSOCIATION, requestId, request, async (id) => {
      const cluster = await lockCluster(em, ctx, request.clusterId, "");
      ctx.audit.resourceType = BASTION_ASSOCIATION;
      ctx.audit.resourceId = id;
      if (cluster.status === "DELETING") {
        throw new FailedPreconditionError("INVALID_STATE", `cluster ${cluster.id} is being deleted`, {
          cluster_id: cluster.id,
          status: cluster.status,
        });
      }
      const [vm] = await em.execute<{ id: string; name: string; tenant_id: string; role: string; state: VirtualMachineState }[]>(
        "select id, name, tenant_id, role, state from virtual_machine where id = ? for share",
        [request.virtualMachineId],
      );
      if (!vm || vm.state === "DELETED" || (isTenantRole(ctx.principal.role) && vm.tenant_id !== ctx.principal.tenantId)) {
        throw new NotFoundError("virtual_machine", request.virtualMachineId);
      }
      if (vm.tenant_id !== cluster.tenantId) {
        throw new FailedPreconditionError(
          "TENANT_MISMATCH",
          `virtual machine ${vm.name} belongs to another tenant than cluster ${cluster.name}`,
          {
            cluster_id: cluster.id,
            virtual_machine_id: vm.id,
          },
        );
      }
      if (vm.role !== "BASTION") {
        throw new FailedPreconditionError("NOT_A_BASTION", `virtual machine ${vm.name} has role ${vm.role || "none"}, not BASTION`, {
          virtual_machine_id: vm.id,
          role: vm.role,
        });
      }
      if (vm.state === "DELETING") {
        throw new FailedPreconditionError("INVALID_STATE", `virtual machine ${vm.name} is being deleted`, {
          virtual_machine_id: vm.id,
          state: vm.state,
        });
      }
      await em.execute(
        `insert into bastion_cluster_association (id, version, create_time, update_time, tenant_id, cluster_id, virtual_machine_id)
           values (?, 1, now(), now(), ?, ?, ?)`,
        [id, cluster.tenantId, cluster.id, vm.id],
      );
      ctx.audit.detail = `bastion ${vm.name} serves cluster ${cluster.name}`;
    }),
  );
  return getAssociation(db, ctx, id);
}

/** Tenant principals see their own tenant's associations only; another's is NOT_FOUND. */
export async function getAssociation(db: Database, ctx: CallContext, id: string): Promise<BastionAssociation> {
  requireRole(ctx.principal, clusterUsers, "read bastion associations");
  const [association] = await readAssociations(db.em(), [id]);
  if (!association || (isTenantRole(ctx.principal.role) && association.tenantId !== ctx.principal.tenantId)) {
    throw new NotFoundError(BASTION_ASSOCIATION, id);
  }
  return association;
}

/** A page of associations (one query), then their clusters' and VMs' names, states and addresses
 * (one more). */
export async function listAssociations(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<BastionAssociation>> {
  requireRole(ctx.principal, clusterUsers, "read bastion associations");
  const scope = isTenantRole(ctx.principal.role) ? { scope: { tenantId: ctx.principal.tenantId ?? "" } } : {};
  const page = await listPage(db.em(), AssociationEntity, request, associationFilter, scope);
  const read = await readAssociations(
    db.em(),
    page.items.map((row) => row.id),
  );
  return { items: read, nextPageToken: page.nextPageToken };
}

/** Removes an association (its row locked, its etag checked). */
export async function deleteAssociation(db: Database, ctx: CallContext, id: string, etag: string): Promise<void> {
  requireRole(ctx.principal, clusterUsers, "remove bastion associations");
  ctx.audit.resourceType = BASTION_ASSOCIATION;
  ctx.audit.resourceId = id;
  await mutate(db, ctx, async (em) => {
    const [row] = await em.execute<{ tenant_id: string; version: number }[]>(
      "select tenant_id, version from bastion_cluster_association where id = ? for update",
      [id],
    );
    if (!row || (isTenantRole(ctx.principal.role) && row.tenant_id !== ctx.principal.tenantId)) {
      throw new NotFoundError(BASTION_ASSOCIATION, id);
    }
    requireEtag(row.version, etag, BASTION_ASSOCIATION, id);
    await em.execute("delete from bastion_cluster_association where id = ?", [id]);
  });
}

async function readAssociations(em: EntityManager, ids: readonly string[]): Promise<BastionAssociation[]> {
  if (ids.length === 0) return [];
  const rows = await em.execute<
    {
      id: string;
      version: number;
      create_time: Date;
      update_time: Date;
      tenant_id: string;
      cluster_id: string;
      virtual_machine_id: string;
      cluster_name: string;
      vm_name: string;
      vm_state: VirtualMachineState;
      ip_addresses: string[] | null;
    }[]
  >(
    `select a.id, a.version, a.create_time, a.update_time, a.tenant_id, a.cluster_id, a.virtual_machine_id, c.name as cluster_name,
            vm.name as vm_name, vm.state as vm_state, vm.ip_addresses
       from bastion_cluster_association a
       join kubernetes_cluster c on c.id = a.cluster_id
       join virtual_machine vm on vm.id = a.virtual_machine_id
      where a.id = any(array[?]::uuid[]) order by a.id`,
    [ids],
  );
  return rows.map((row) => ({
    id: row.id,
    version: row.version,
    createTime: new Date(row.create_time),
    updateTime: new Date(row.update_time),
    tenantId: row.tenant_id,
    clusterId: row.cluster_id,
    virtualMachineId: row.virtual_machine_id,
    clusterName: row.cluster_name,
    virtualMachineName: row.vm_name,
    virtualMachineState: row.vm_state,
    ipAddresses: row.ip_addresses ?? [],
  }));
}
