// The Kubernetes version catalogue: which releases clusters may run (SUPPORTED), keep running
// (DEPRECATED) or must leave (UNSUPPORTED). Platform admins write it; everyone but agents reads it.
// Clusters and templates name a version by its string, not by a foreign key: a use case that
// starts using a version reads its row FOR SHARE (catalogueVersion), and deleting one locks it FOR
// UPDATE and counts its users, so the two cannot cross.
import type { EntityManager } from "@mikro-orm/postgresql";
import { FailedPreconditionError, InvalidArgumentError } from "../../domain/errors.js";
import type { FilterSchema } from "../../domain/filter.js";
import {
  kubernetesVersionStatuses,
  parseKubernetesVersion,
  type CatalogueVersion,
  type KubernetesVersionStatus,
} from "../../domain/kubernetes.js";
import { inventoryReaders, requireRole, type Principal, type Role } from "../../domain/principal.js";
import { KubernetesVersion as VersionEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { enumValues } from "../../domain/filter-schema.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { createOnce, findForChange, readById } from "../standard-methods.js";

export interface KubernetesVersionFields {
  /** "1.31.4". */
  readonly kubernetesVersion: string;
  readonly status: KubernetesVersionStatus;
  readonly description: string;
}

/** What UpdateKubernetesVersion may change: never the version itself. */
export type KubernetesVersionPatch = Partial<Pick<KubernetesVersionFields, "status" | "description">>;

export interface KubernetesVersion extends KubernetesVersionFields {
  readonly id: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

const readers: readonly Role[] = inventoryReaders;
const writers: readonly Role[] = ["PLATFORM_ADMIN"];
const VERSION = "kubernetes_version";

function requireWrite(principal: Principal): void {
  requireRole(principal, writers, "change the Kubernetes version catalogue");
}

const integer = { kind: "integer" } as const;
export const versionFilter: FilterSchema = {
  version: { type: { kind: "string" }, property: "kubernetesVersion" },
  major: { type: integer, property: "major" },
  minor: { type: integer, property: "minor" },
  patch: { type: integer, property: "patch" },
  status: { type: { kind: "enum", values: enumValues("KUBERNETES_VERSION_STATUS_", kubernetesVersionStatuses) }, property: "status" },
  create_time: { type: { kind: "timestamp" }, property: "createTime" },
};

export async function createVersion(
  db: Database,
  ctx: CallContext,
  fields: KubernetesVersionFields,
  requestId: string,
): Promise<KubernetesVersion> {
  requireWrite(ctx.principal);
  const parsed = parseKubernetesVersion(fields.kubernetesVersion);
  if (!parsed) {
    throw new InvalidArgumentError("KUBERNETES_VERSION_INVALID", `${fields.kubernetesVersion} is not MAJOR.MINOR.PATCH`, [
      { field: "version.version", description: "MAJOR.MINOR.PATCH, e.g. 1.31.4" },
    ]);
  }
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, VERSION, requestId, fields, async (id) => {
      em.create(VersionEntity, { id, ...fields, ...parsed });
    }),
  );
  return getVersion(db, ctx, id);
}

export async function getVersion(db: Database, ctx: CallContext, id: string): Promise<KubernetesVersion> {
  requireRole(ctx.principal, readers, "read the Kubernetes version catalogue");
  return readById(db.em(), VersionEntity, VERSION, id);
}

export async function listVersions(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<KubernetesVersion>> {
  requireRole(ctx.principal, readers, "read the Kubernetes version catalogue");
  return listPage(db.em(), VersionEntity, request, versionFilter);
}

export async function updateVersion(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: KubernetesVersionPatch,
): Promise<KubernetesVersion> {
  target(ctx, id);
  requireWrite(ctx.principal);
  return mutate(db, ctx, async (em) => {
    const entry = await findForChange(em, ctx, VersionEntity, VERSION, id, etag);
    em.assign(entry, patch);
    return entry;
  });
}

/** FAILED_PRECONDITION / HAS_DEPENDENTS while a cluster (not deleted) runs it or a template names
 * it; marking it UNSUPPORTED is how a version in use is retired. */
export async function deleteVersion(db: Database, ctx: CallContext, id: string, etag: string): Promise<void> {
  target(ctx, id);
  requireWrite(ctx.principal);
  await mutate(db, ctx, async (em) => {
    const entry = await findForChange(em, ctx, VersionEntity, VERSION, id, etag);
    const [users] = await em.execute<{ clusters: number; templates: number }[]>(
      `select (select count(*) from kubernetes_cluster where kubernetes_version = ? and status <> 'DELETED')::int as clusters,
              (select count(*) from kubernetes_cluster_template where kubernetes_version = ?)::int as templates`,
      [entry.kubernetesVersion, entry.kubernetesVersion],
    );
    const clusters = users?.clusters ?? 0;
    const templates = users?.templates ?? 0;
    if (clusters > 0 || templates > 0) {
      throw new FailedPreconditionError(
        "HAS_DEPENDENTS",
        `Kubernetes version ${entry.kubernetesVersion} is run by ${clusters} cluster(s) and named by ${templates} template(s); mark it UNSUPPORTED instead`,
        { resource_type: VERSION, resource_id: id, kubernetes_clusters: String(clusters), kubernetes_cluster_templates: String(templates) },
      );
    }
    em.remove(entry);
  });
}

/**
 * The catalogue entry of a version, read FOR SHARE inside the caller's transaction: a concurrent
 * DeleteKubernetesVersion waits until the caller's row naming the version is committed (and then
 * counts it). Undefined when the catalogue does not have it.
 */
export async function catalogueVersion(em: EntityManager, version: string): Promise<CatalogueVersion | undefined> {
  const [row] = await em.execute<{ kubernetes_version: string; status: KubernetesVersionStatus }[]>(
    "select kubernetes_version, status from kubernetes_version where kubernetes_version = ? for share",
    [version],
  );
  return row ? { version: row.kubernetes_version, status: row.status } : undefined;
}

function target(ctx: CallContext, id: string): void {
  ctx.audit.resourceType = VERSION;
  ctx.audit.resourceId = id;
}
