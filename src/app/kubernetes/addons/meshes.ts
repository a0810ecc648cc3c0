// Service meshes (K8S-9): a tenant's meshes and its clusters' bindings to them, PRIMARY or
// SECONDARY. Binding and unbinding are operations with jobs for the agent (the mesh's control plane
// does the work), on the service_mesh_binding lifecycle (mesh-lifecycle.ts). The invariants of
// domain/service-mesh.ts are checked under the mesh's row lock, so two concurrent removals of the
// last two primaries are serialised and the second sees the first. Lock order: the cluster (bind),
// then the mesh FOR UPDATE, then the bindings. docs/kubernetes-addons.md.
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError, NotFoundError } from "../../../domain/errors.js";
import { requireEtag } from "../../../domain/etag.js";
import { field, resourceTimes } from "../../../domain/filter-schema.js";
import { newId } from "../../../domain/ids.js";
import { isTenantRole, requireRole } from "../../../domain/principal.js";
import {
  meshBindingStatuses,
  requireBindable,
  requireMeshCni,
  requireUnbindable,
  serviceMeshRoles,
  serviceMeshTypes,
  type MeshBindingStatus,
  type MeshMembers,
  type ServiceMeshRole,
  type ServiceMeshType,
} from "../../../domain/service-mesh.js";
import { InvalidArgumentError } from "../../../domain/errors.js";
import { K8sClusterToServiceMesh as BindingEntity, ServiceMesh as MeshEntity } from "../../../persistence/entities/index.js";
import { reportResourceState } from "../../agents/reports.js";
import { requireOwnTenant } from "../../compute/vm-queries.js";
import type { CallContext } from "../../context.js";
import type { Database } from "../../database.js";
import { listPage, type ListRequest, type Page } from "../../list.js";
import { mutate } from "../../mutation.js";
import { getOperation, startOperation, type Operation } from "../../operations/operations.js";
import { createOnce, readById } from "../../standard-methods.js";
import { requireTenantEnabled } from "../../tenant-guard.js";
import { clusterUsers, lockCluster } from "../cluster-queries.js";

export const MESH = "service_mesh";
export const MESH_BINDING = "service_mesh_binding";

export interface ServiceMesh {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly tenantId: string;
  readonly name: string;
  readonly type: ServiceMeshType;
  readonly meshVersion: string;
  readonly status: string;
  readonly description: string;
}

export interface MeshBinding {
  readonly id: string;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly tenantId: string;
  readonly meshId: string;
  readonly clusterId: string;
  readonly role: ServiceMeshRole;
  readonly status: MeshBindingStatus;
  readonly statusMessage: string;
  readonly activeOperationId?: string | null;
}

const meshFilter = {
  name: field.string("name"),
  tenant_id: field.uuid("tenantId"),
  type: field.enum("SERVICE_MESH_TYPE_", serviceMeshTypes, "type"),
  ...resourceTimes,
};

const bindingFilter = {
  mesh_id: field.uuid("meshId"),
  cluster_id: field.uuid("clusterId"),
  tenant_id: field.uuid("tenantId"),
  role: field.enum("SERVICE_MESH_ROLE_", serviceMeshRoles, "role"),
  status: field.enum("SERVICE_MESH_BINDING_STATUS_", meshBindingStatuses, "status"),
  ...resourceTimes,
};

export async function createMesh(
  db: Database,
  ctx: CallContext,
  fields: { tenantId: string; name: string; type: ServiceMeshType; meshVersion: string; description: string },
  requestId: string,
): Promise<ServiceMesh> {
  requireRole(ctx.principal, clusterUsers, "create service meshes");
  requireOwnTenant(ctx.principal, fields.tenantId, undefined);
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, MESH, requestId, fields, async (id) => {
      await requireTenantEnabled(em, fields.tenantId);
      em.create(MeshEntity, { id, ...fields, status: "ACTIVE" });
    }),
  );
  return getMesh(db, ctx, id);
}

export async function getMesh(db: Database, ctx: CallContext, id: string): Promise<ServiceMesh> {
  requireRole(ctx.principal, clusterUsers, "read service meshes");
  const mesh = await readById<ServiceMesh>(db.em(), MeshEntity as never, MESH, id);
  if (isTenantRole(ctx.principal.role) && mesh.tenantId !== ctx.principal.tenantId) throw new NotFoundError(MESH, id);
  return mesh;
}

export async function listMeshes(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<ServiceMesh>> {
  requireRole(ctx.principal, clusterUsers, "read service meshes");
  const scope = isTenantRole(ctx.principal.role) ? { scope: { tenantId: ctx.principal.tenantId ?? "" } } : {};
  return (await listPage(db.em(), MeshEntity, request, meshFilter, scope)) as unknown as Page<ServiceMesh>;
}

/** HAS_DEPENDENTS while any cluster is bound. */
export async function deleteMesh(db: Database, ctx: CallContext, id: string, etag: string): Promise<void> {
  requireRole(ctx.principal, clusterUsers, "delete service meshes");
  await mutate(db, ctx, async (em) => {
    const mesh = await lockMesh(em, ctx, id, etag);
    const [bound] = await em.execute<{ n: number }[]>("select count(*)::int as n from kubernetes_cluster_service_mesh where mesh_id = ?", [
      mesh.id,
    ]);
    if ((bound?.n ?? 0) > 0) {
      throw new FailedPreconditionError("HAS_DEPENDENTS", `mesh ${mesh.name} has ${bound!.n} cluster(s) bound; unbind them first`, {
        resource_type: MESH,
        resource_id: id,
        bindings: String(bound!.n),
      });
    }
    await em.execute("delete from service_mesh where id = ?", [id]);
  });
}

/** Binds a cluster of the mesh's tenant: the invariants checked under the mesh's lock, the binding
 * BINDING with its operation and job. */
export async function bindCluster(
  db: Database,
  ctx: CallContext,
  request: { meshId: string; clusterId: string; role: ServiceMeshRole },
): Promise<{ binding: MeshBinding; operation: Operation }> {
  requireRole(ctx.principal, clusterUsers, "bind clusters to service meshes");
  const id = newId();
  const operationId = newId();
  await mutate(db, ctx, async (em) => {
    const cluster = await lockCluster(em, ctx, request.clusterId, "");
    ctx.audit.resourceType = MESH_BINDING;
    ctx.audit.resourceId = id;
    if (cluster.status !== "ACTIVE") {
      throw new FailedPreconditionError("INVALID_STATE", `cluster ${cluster.id} is ${cluster.status}: clusters join meshes when ACTIVE`, {
        cluster_id: cluster.id,
        status: cluster.status,
      });
    }
    const mesh = await lockMesh(em, ctx, request.meshId, "");
    ctx.audit.resourceType = MESH_BINDING;
    ctx.audit.resourceId = id;
    if (mesh.tenantId !== cluster.tenantId) {
      throw new FailedPreconditionError("TENANT_MISMATCH", `mesh ${mesh.name} belongs to another tenant than cluster ${cluster.name}`, {
        mesh_id: mesh.id,
        cluster_id: cluster.id,
      });
    }
    requireMeshCni(mesh, cluster);
    requireBindable(mesh.id, request.role, await members(em, mesh.id));
    await em.execute(
      `insert into kubernetes_cluster_service_mesh (id, version, create_time, update_time, tenant_id, mesh_id, cluster_id, role, status,
          active_operation_id) values (?, 1, now(), now(), ?, ?, ?, ?, 'BINDING', ?)`,
      [id, mesh.tenantId, mesh.id, cluster.id, request.role, operationId],
    );
    await startOperation(em, ctx, {
      id: operationId,
      kind: "BIND_SERVICE_MESH",
      resourceType: MESH_BINDING,
      resourceId: id,
      tenantId: mesh.tenantId,
      previousState: "BINDING",
      groupId: cluster.controlPlaneGroupId,
      baremetalId: null,
      payload: payload(id, mesh, cluster, request.role),
    });
    ctx.audit.detail = `cluster ${cluster.name} joins mesh ${mesh.name} as ${request.role}`;
  });
  return { binding: await getBinding(db, ctx, id), operation: await getOperation(db, ctx, operationId) };
}

/** Unbinds: refused for the last PRIMARY while a SECONDARY remains (checked under the mesh's lock). */
export async function unbindCluster(db: Database, ctx: CallContext, id: string, etag: string): Promise<Operation> {
  requireRole(ctx.principal, clusterUsers, "unbind clusters from service meshes");
  const operationId = newId();
  await mutate(db, ctx, async (em) => {
    ctx.audit.resourceType = MESH_BINDING;
    ctx.audit.resourceId = id;
    const [seen] = await em.execute<{ mesh_id: string; tenant_id: string }[]>(
      "select mesh_id, tenant_id from kubernetes_cluster_service_mesh where id = ?",
      [id],
    );
    if (!seen || (isTenantRole(ctx.principal.role) && seen.tenant_id !== ctx.principal.tenantId)) throw new NotFoundError(MESH_BINDING, id);
    await requireTenantEnabled(em, seen.tenant_id);
    const mesh = await lockMesh(em, ctx, seen.mesh_id, "");
    ctx.audit.resourceType = MESH_BINDING;
    ctx.audit.resourceId = id;
    const [binding] = await em.execute<
      {
        id: string;
        version: number;
        role: ServiceMeshRole;
        status: MeshBindingStatus;
        active_operation_id: string | null;
        cluster_id: string;
      }[]
    >("select id, version, role, status, active_operation_id, cluster_id from kubernetes_cluster_service_mesh where id = ? for update", [
      id,
    ]);
    if (!binding) throw new NotFoundError(MESH_BINDING, id);
    requireEtag(binding.version, etag, MESH_BINDING, id);
    if (binding.active_operation_id) {
      throw new FailedPreconditionError("OPERATION_IN_PROGRESS", `binding ${id} has operation ${binding.active_operation_id} under way`, {
        operation_id: binding.active_operation_id,
        service_mesh_binding_id: id,
      });
    }
    requireUnbindable(mesh.id, binding.role, await members(em, mesh.id));
    const [cluster] = await em.execute<{ id: string; name: string; control_plane_group_id: string }[]>(
      "select id, name, control_plane_group_id from kubernetes_cluster where id = ?",
      [binding.cluster_id],
    );
    await em.execute(
      `update kubernetes_cluster_service_mesh set status = 'UNBINDING', status_message = '', active_operation_id = ?, version = version + 1,
              update_time = now() where id = ?`,
      [operationId, id],
    );
    await startOperation(em, ctx, {
      id: operationId,
      kind: "UNBIND_SERVICE_MESH",
      resourceType: MESH_BINDING,
      resourceId: id,
      tenantId: mesh.tenantId,
      previousState: binding.status,
      groupId: cluster!.control_plane_group_id,
      baremetalId: null,
      payload: payload(id, mesh, { id: cluster!.id, name: cluster!.name }, binding.role),
    });
  });
  return getOperation(db, ctx, operationId);
}

export async function getBinding(db: Database, ctx: CallContext, id: string): Promise<MeshBinding> {
  requireRole(ctx.principal, clusterUsers, "read service mesh bindings");
  const binding = await readById<MeshBinding>(db.em(), BindingEntity as never, MESH_BINDING, id);
  if (isTenantRole(ctx.principal.role) && binding.tenantId !== ctx.principal.tenantId) throw new NotFoundError(MESH_BINDING, id);
  return binding;
}

export async function listBindings(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<MeshBinding>> {
  requireRole(ctx.principal, clusterUsers, "read service mesh bindings");
  const scope = isTenantRole(ctx.principal.role) ? { scope: { tenantId: ctx.principal.tenantId ?? "" } } : {};
  return (await listPage(db.em(), BindingEntity, request, bindingFilter, scope)) as unknown as Page<MeshBinding>;
}

/** An agent's report of a binding outside any job: BOUND, or ERROR with its message. */
export async function reportBindingStatus(
  db: Database,
  ctx: CallContext,
  id: string,
  status: MeshBindingStatus,
  message: string,
): Promise<MeshBinding> {
  requireRole(ctx.principal, ["AGENT"], "report service mesh bindings");
  if (status === "ERROR" && message.trim() === "") {
    throw new InvalidArgumentError("STATUS_MESSAGE_REQUIRED", "a binding reported ERROR needs the agent's message", [
      { field: "message", description: "what the agent sees" },
    ]);
  }
  await reportResourceState(db, ctx, { type: MESH_BINDING, id }, status === "BOUND" ? "RUNNING" : "CRASHED", message);
  return readById<MeshBinding>(db.em(), BindingEntity as never, MESH_BINDING, id);
}

// ---------------------------------------------------------------------------------------------

/** The mesh FOR UPDATE (tenant checked: another tenant's is NOT_FOUND), its etag checked. */
async function lockMesh(em: EntityManager, ctx: CallContext, id: string, etag: string): Promise<ServiceMesh> {
  ctx.audit.resourceType = MESH;
  ctx.audit.resourceId = id;
  const [row] = await em.execute<{ id: string; tenant_id: string; name: string; type: ServiceMeshType; version: number }[]>(
    "select id, tenant_id, name, type, version from service_mesh where id = ? for update",
    [id],
  );
  if (!row || (isTenantRole(ctx.principal.role) && row.tenant_id !== ctx.principal.tenantId)) throw new NotFoundError(MESH, id);
  await requireTenantEnabled(em, row.tenant_id);
  requireEtag(row.version, etag, MESH, id);
  return readById<ServiceMesh>(em, MeshEntity as never, MESH, id);
}

/** The mesh's members as the invariants count them (under the mesh's lock). */
async function members(em: EntityManager, meshId: string): Promise<MeshMembers> {
  const [row] = await em.execute<{ primaries: number; secondaries: number }[]>(
    `select count(*) filter (where role = 'PRIMARY' and status <> 'UNBINDING')::int as primaries,
            count(*) filter (where role = 'SECONDARY')::int as secondaries
       from kubernetes_cluster_service_mesh where mesh_id = ?`,
    [meshId],
  );
  return { primaries: row?.primaries ?? 0, secondaries: row?.secondaries ?? 0 };
}

function payload(
  id: string,
  mesh: { id: string; name: string; type: ServiceMeshType; meshVersion?: string },
  cluster: { id: string; name: string },
  role: ServiceMeshRole,
): Record<string, unknown> {
  return {
    bindingId: id,
    meshId: mesh.id,
    mesh: mesh.name,
    meshType: mesh.type,
    meshVersion: mesh.meshVersion ?? "",
    clusterId: cluster.id,
    name: cluster.name,
    role,
  };
}
