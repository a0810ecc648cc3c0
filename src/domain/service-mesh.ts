// Service meshes (K8S-9): a tenant's mesh spans several of its clusters, each bound PRIMARY or
// SECONDARY. The invariants, checked under the mesh's row lock (app/kubernetes/addons/meshes.ts):
// a mesh with any SECONDARY has at least one PRIMARY; a cluster joins a mesh once (a unique key);
// a CILIUM mesh takes only clusters whose CNI is Cilium. Pure.
import { FailedPreconditionError } from "./errors.js";

export const serviceMeshTypes = ["CILIUM", "ISTIO", "OTHER"] as const;
export type ServiceMeshType = (typeof serviceMeshTypes)[number];

export const serviceMeshRoles = ["PRIMARY", "SECONDARY"] as const;
export type ServiceMeshRole = (typeof serviceMeshRoles)[number];

export const meshBindingStatuses = ["BINDING", "BOUND", "UNBINDING", "ERROR"] as const;
export type MeshBindingStatus = (typeof meshBindingStatuses)[number];

/** A mesh's members as the invariants count them: PRIMARY bindings not being unbound, and every
 * SECONDARY binding (one being unbound still needs its primary until it is gone). */
export interface MeshMembers {
  readonly primaries: number;
  readonly secondaries: number;
}

/** CNI_MISMATCH unless the cluster's CNI suits the mesh. */
export function requireMeshCni(
  mesh: { readonly id: string; readonly type: ServiceMeshType },
  cluster: { readonly id: string; readonly cni: string },
): void {
  if (mesh.type !== "CILIUM" || cluster.cni === "CILIUM") return;
  throw new FailedPreconditionError(
    "CNI_MISMATCH",
    `a CILIUM mesh takes clusters whose CNI is Cilium; cluster ${cluster.id} runs ${cluster.cni}`,
    {
      mesh_id: mesh.id,
      cluster_id: cluster.id,
      cni: cluster.cni,
    },
  );
}

/** A SECONDARY joins only a mesh that has a PRIMARY (MESH_PRIMARY_REQUIRED). */
export function requireBindable(meshId: string, role: ServiceMeshRole, members: MeshMembers): void {
  if (role === "PRIMARY" || members.primaries > 0) return;
  throw new FailedPreconditionError("MESH_PRIMARY_REQUIRED", `mesh ${meshId} has no PRIMARY cluster: bind one before any SECONDARY`, {
    mesh_id: meshId,
  });
}

/** The last PRIMARY does not leave while a SECONDARY remains (LAST_PRIMARY); `members` counts the
 * binding leaving. */
export function requireUnbindable(meshId: string, role: ServiceMeshRole, members: MeshMembers): void {
  if (role === "SECONDARY" || members.primaries > 1 || members.secondaries === 0) return;
  throw new FailedPreconditionError(
    "LAST_PRIMARY",
    `mesh ${meshId} would keep ${members.secondaries} SECONDARY cluster(s) without a PRIMARY: unbind them first, or bind another PRIMARY`,
    { mesh_id: meshId, secondaries: String(members.secondaries) },
  );
}
