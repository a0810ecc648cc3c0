// Cluster templates (K8S-1 "from a template or custom settings"): named presets, platform-wide
// (platform admins keep them, every tenant may use them) or a tenant's own (its admins keep them,
// only it sees them; another tenant's template is NOT_FOUND, as one that does not exist). A
// template may leave any part out; what it sets must keep the cluster rules, name a catalogue
// version and existing groups, specifications and images. Every update is a new revision.
import type { EntityManager, FilterQuery } from "@mikro-orm/postgresql";
import { InvalidArgumentError, NotFoundError, PermissionDeniedError } from "../../domain/errors.js";
import type { FilterSchema } from "../../domain/filter.js";
import { draftViolations, requireNoVersionProblem, requireNoViolations, type ClusterSpecDraft } from "../../domain/kubernetes.js";
import { requireInstallableVersion, type PluginChoice } from "../../domain/kubernetes-plugins.js";
import { isTenantRole, requireRole, type Principal, type Role } from "../../domain/principal.js";
import { KubernetesClusterTemplate as TemplateEntity } from "../../persistence/entities/index.js";
import type { CallContext } from "../context.js";
import type { Database } from "../database.js";
import { listPage, type ListRequest, type Page } from "../list.js";
import { mutate } from "../mutation.js";
import { createOnce, findForChange, readById } from "../standard-methods.js";
import { cataloguePlugin } from "./addons/plugin-catalogue.js";
import { catalogueVersion } from "./versions.js";

/** The settings a template keeps beside its version: a cluster's, and the plugins it installs. */
export type TemplateSpec = Omit<ClusterSpecDraft, "version"> & { readonly plugins?: readonly PluginChoice[] };

export interface TemplateFields {
  readonly name: string;
  readonly description: string;
  /** Null (or absent) for a platform template. */
  readonly tenantId?: string | null;
  readonly kubernetesVersion?: string | null;
  readonly spec: TemplateSpec;
}

/** What UpdateKubernetesClusterTemplate may change; a key present replaces that part whole (an
 * undefined value clears it). The owner is fixed. */
export interface TemplatePatch extends Partial<ClusterSpecDraft> {
  readonly plugins?: readonly PluginChoice[] | undefined;
  readonly name?: string;
  readonly description?: string;
}

export interface KubernetesClusterTemplate extends TemplateFields {
  readonly id: string;
  /** The optimistic-lock version, which is also the template's revision. */
  readonly version: number;
  readonly createTime: Date;
  readonly updateTime: Date;
}

const readers: readonly Role[] = ["PLATFORM_ADMIN", "SERVICE", "TENANT_ADMIN", "TENANT_MEMBER"];
const writers: readonly Role[] = ["PLATFORM_ADMIN", "TENANT_ADMIN"];
const TEMPLATE = "kubernetes_cluster_template";
const specParts = ["controlPlane", "nodePools", "network", "storageClasses", "labels", "plugins"] as const;

export const templateFilter: FilterSchema = {
  name: { type: { kind: "string" }, property: "name" },
  tenant_id: { type: { kind: "uuid" }, property: "tenantId" },
  version: { type: { kind: "string" }, property: "kubernetesVersion" },
  create_time: { type: { kind: "timestamp" }, property: "createTime" },
};

/** Tenant principals see the platform's templates and their own tenant's. */
function visibleTemplates(principal: Principal): FilterQuery<TemplateEntity> | undefined {
  if (!isTenantRole(principal.role)) return undefined;
  return { $or: [{ tenantId: null }, { tenantId: principal.tenantId ?? null }] } as FilterQuery<TemplateEntity>;
}

function requireVisible(principal: Principal, template: { id: string; tenantId?: string | null }): void {
  const owner = template.tenantId ?? null;
  if (isTenantRole(principal.role) && owner !== null && owner !== principal.tenantId) {
    throw new NotFoundError(TEMPLATE, template.id);
  }
}

/** Platform admins change any template; a tenant admin only their tenant's. */
function requireOwner(principal: Principal, template: { id: string; tenantId?: string | null }): void {
  requireVisible(principal, template);
  if (principal.role === "TENANT_ADMIN" && (template.tenantId ?? null) === null) {
    throw new PermissionDeniedError(
      "TEMPLATE_NOT_OWNED",
      `template ${template.id} belongs to the platform; only platform admins change it`,
      {
        template_id: template.id,
      },
    );
  }
}

export async function createTemplate(
  db: Database,
  ctx: CallContext,
  fields: TemplateFields,
  requestId: string,
): Promise<KubernetesClusterTemplate> {
  requireRole(ctx.principal, writers, "create Kubernetes cluster templates");
  const owned = { ...fields, tenantId: ownerFor(ctx.principal, fields.tenantId ?? null) };
  const id = await mutate(db, ctx, (em) =>
    createOnce(em, ctx, TEMPLATE, requestId, owned, async (id) => {
      if (owned.tenantId !== null) await requireTenantExists(em, owned.tenantId);
      const { plugins, ...spec } = owned.spec;
      await requireValidTemplate(em, { version: owned.kubernetesVersion ?? undefined, ...spec }, plugins);
      em.create(TemplateEntity, { id, ...owned });
    }),
  );
  return getTemplate(db, ctx, id);
}

export async function getTemplate(db: Database, ctx: CallContext, id: string): Promise<KubernetesClusterTemplate> {
  requireRole(ctx.principal, readers, "read Kubernetes cluster templates");
  const template = await readById(db.em(), TemplateEntity, TEMPLATE, id);
  requireVisible(ctx.principal, template);
  return template;
}

export async function listTemplates(db: Database, ctx: CallContext, request: ListRequest): Promise<Page<KubernetesClusterTemplate>> {
  requireRole(ctx.principal, readers, "read Kubernetes cluster templates");
  const scope = visibleTemplates(ctx.principal);
  return listPage(db.em(), TemplateEntity, request, templateFilter, scope ? { scope } : {});
}

export async function updateTemplate(
  db: Database,
  ctx: CallContext,
  id: string,
  etag: string,
  patch: TemplatePatch,
): Promise<KubernetesClusterTemplate> {
  ctx.audit.resourceType = TEMPLATE;
  ctx.audit.resourceId = id;
  requireRole(ctx.principal, writers, "change Kubernetes cluster templates");
  return mutate(db, ctx, async (em) => {
    const template = await findForChange(em, ctx, TemplateEntity, TEMPLATE, id, etag);
    requireOwner(ctx.principal, template);
    const { plugins: _plugins, ...currentSpec } = template.spec as TemplateSpec;
    const current: ClusterSpecDraft = { version: template.kubernetesVersion ?? undefined, ...currentSpec };
    const next: ClusterSpecDraft = { ...current, ...("version" in patch ? { version: patch.version } : {}) };
    const spec: Record<string, unknown> = { ...template.spec };
    for (const part of specParts) {
      if (part in patch) spec[part] = patch[part];
    }
    const { plugins, ...draft } = { ...next, ...spec } as ClusterSpecDraft & { plugins?: readonly PluginChoice[] };
    await requireValidTemplate(em, draft, plugins);
    em.assign(template, {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      kubernetesVersion: draft.version ?? null,
      // Undefined parts are dropped, so a cleared part reads as "not set".
      spec: JSON.parse(JSON.stringify(spec)) as TemplateSpec,
    });
    return template;
  });
}

export async function deleteTemplate(db: Database, ctx: CallContext, id: string, etag: string): Promise<void> {
  ctx.audit.resourceType = TEMPLATE;
  ctx.audit.resourceId = id;
  requireRole(ctx.principal, writers, "delete Kubernetes cluster templates");
  await mutate(db, ctx, async (em) => {
    const template = await findForChange(em, ctx, TemplateEntity, TEMPLATE, id, etag);
    requireOwner(ctx.principal, template);
    // Clusters made from it keep their settings and the record of which template and revision.
    em.remove(template);
  });
}

/**
 * The template as CreateKubernetesCluster reads it, inside its transaction: visible to the caller
 * and usable for the cluster's tenant (the platform's, or that tenant's own).
 */
export async function templateForCluster(
  em: EntityManager,
  principal: Principal,
  templateId: string,
  tenantId: string,
): Promise<{ id: string; revision: number; draft: ClusterSpecDraft; plugins: readonly PluginChoice[] }> {
  const template = await em.findOne(TemplateEntity, { id: templateId });
  if (!template) throw new NotFoundError(TEMPLATE, templateId);
  requireVisible(principal, template);
  if ((template.tenantId ?? null) !== null && template.tenantId !== tenantId) {
    throw new InvalidArgumentError("TEMPLATE_OF_ANOTHER_TENANT", `template ${templateId} belongs to another tenant`, [
      { field: "template_id", description: "a platform template or one of the cluster's tenant" },
    ]);
  }
  const { plugins, ...spec } = template.spec as TemplateSpec;
  return {
    id: template.id,
    revision: template.version,
    draft: { version: template.kubernetesVersion ?? undefined, ...spec },
    plugins: plugins ?? [],
  };
}

// ---------------------------------------------------------------------------------------------

/** A tenant admin's template is their tenant's, whatever they asked; naming another is refused. */
function ownerFor(principal: Principal, requested: string | null): string | null {
  if (principal.role !== "TENANT_ADMIN") return requested;
  if (requested !== null && requested !== principal.tenantId) {
    throw new PermissionDeniedError("TENANT_MISMATCH", `a principal of tenant ${principal.tenantId} may not act for tenant ${requested}`, {
      tenant_id: requested,
    });
  }
  return principal.tenantId ?? null;
}

async function requireTenantExists(em: EntityManager, tenantId: string): Promise<void> {
  const [found] = await em.execute<{ id: string }[]>("select id from tenant where id = ? for share", [tenantId]);
  if (!found) throw new NotFoundError("tenant", tenantId);
}

/** The cluster rules for what the template sets, its version in the catalogue, and every group,
 * specification and image it names existing. */
async function requireValidTemplate(
  em: EntityManager,
  draft: ClusterSpecDraft,
  plugins: readonly PluginChoice[] | undefined,
): Promise<void> {
  requireNoViolations(draftViolations(draft, "template"));
  if (plugins && plugins.length > 0) {
    // Compatibility is checked against the template's version: without one there is nothing to
    // check a plugin against until a cluster names it, so a template with plugins names its version.
    if (draft.version === undefined) {
      throw new InvalidArgumentError("TEMPLATE_PLUGINS_NEED_VERSION", "a template that names plugins must name its Kubernetes version", [
        { field: "template.version", description: "required when template.plugins is set" },
      ]);
    }
    for (const [index, choice] of plugins.entries()) {
      const plugin = await cataloguePlugin(em, choice.plugin);
      if (!plugin) {
        throw new InvalidArgumentError(
          "REFERENCE_NOT_FOUND",
          `template.plugins[${index}]: plugin ${choice.plugin} is not in the catalogue`,
          [{ field: `template.plugins[${index}].plugin`, description: `no plugin ${choice.plugin}` }],
        );
      }
      requireInstallableVersion(plugin, choice.version, draft.version, `template.plugins[${index}].version`);
    }
  }
  if (draft.version !== undefined) {
    const entry = await catalogueVersion(em, draft.version);
    if (!entry)
      requireNoVersionProblem(
        { reason: "KUBERNETES_VERSION_UNKNOWN", message: `Kubernetes version ${draft.version} is not in the catalogue` },
        "template.version",
        draft.version,
      );
  }
  const references: { table: string; type: string; field: string; id: string | undefined }[] = [
    { table: "baremetal_group", type: "baremetal_group", field: "control_plane.group_id", id: draft.controlPlane?.groupId },
    {
      table: "virtual_machine_specification",
      type: "virtual_machine_specification",
      field: "control_plane.specification_id",
      id: draft.controlPlane?.specificationId,
    },
    { table: "image", type: "image", field: "control_plane.image_id", id: draft.controlPlane?.imageId },
    ...(draft.nodePools ?? []).flatMap((pool, index) => [
      { table: "baremetal_group", type: "baremetal_group", field: `node_pools[${index}].group_id`, id: pool.groupId },
      {
        table: "virtual_machine_specification",
        type: "virtual_machine_specification",
        field: `node_pools[${index}].specification_id`,
        id: pool.specificationId,
      },
      { table: "image", type: "image", field: `node_pools[${index}].image_id`, id: pool.imageId },
    ]),
  ];
  for (const table of ["baremetal_group", "virtual_machine_specification", "image"]) {
    const named = references.filter((reference) => reference.table === table && reference.id !== undefined);
    if (named.length === 0) continue;
    const ids = [...new Set(named.map((reference) => reference.id as string))];
    const rows = await em.execute<{ id: string }[]>(`select id from ${table} where id in (${ids.map(() => "?").join(", ")})`, ids);
    const found = new Set(rows.map((row) => row.id));
    const missing = named.find((reference) => !found.has(reference.id as string));
    if (missing) {
      throw new InvalidArgumentError("REFERENCE_NOT_FOUND", `template.${missing.field}: ${missing.type} ${missing.id} does not exist`, [
        { field: `template.${missing.field}`, description: `no ${missing.type} ${missing.id}` },
      ]);
    }
  }
}
