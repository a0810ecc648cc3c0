// Kubernetes clusters (K8S-1..7): the version catalogue, templates, clusters, their node pools and
// each cluster's CA. docs/kubernetes.md explains the choices (what is jsonb and why, why versions
// are referenced by their string under a row lock rather than a foreign key).
import { defineEntity, p, type InferEntity } from "@mikro-orm/postgresql";
import type {
  ClusterSpecDraft,
  KubernetesClusterStatus,
  KubernetesCni,
  KubernetesVersionStatus,
  StorageClassSpec,
  Taint,
} from "../../domain/kubernetes.js";
import { resourceProperties } from "./common.js";
import { Image, VirtualMachineSpecification } from "./compute.js";
import { BaremetalGroup } from "./hosts.js";
import { Tenant } from "./tenant.js";

/** A release clusters may run. Major, minor and patch are kept apart for filters and ordering. */
export const KubernetesVersion = defineEntity({
  name: "KubernetesVersion",
  properties: {
    ...resourceProperties(),
    /** "1.31.4"; `version` is the optimistic-lock version every resource has. */
    kubernetesVersion: p.string().length(16).unique(),
    major: p.integer(),
    minor: p.integer(),
    patch: p.integer(),
    status: p.string().length(16).$type<KubernetesVersionStatus>(),
    description: p.text().default(""),
  },
});
export type KubernetesVersion = InferEntity<typeof KubernetesVersion>;

/**
 * A named preset: platform-wide (tenant_id null) or a tenant's, which goes with its tenant. The
 * settings are one jsonb document: a template is read and written whole, never queried into, and
 * any part may be missing. The version is also a column, for filters and for the catalogue's
 * "still named by a template" check. The optimistic-lock version is the template's revision.
 */
export const KubernetesClusterTemplate = defineEntity({
  name: "KubernetesClusterTemplate",
  indexes: [
    { properties: ["tenantId", "id"] },
    // Names are unique per owner; null (the platform) counts as one owner.
    {
      name: "kubernetes_cluster_template_owner_name_unique",
      expression:
        "create unique index kubernetes_cluster_template_owner_name_unique on kubernetes_cluster_template (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), name)",
    },
  ],
  properties: {
    ...resourceProperties(),
    name: p.string().length(63),
    description: p.text().default(""),
    tenantId: () => p.manyToOne(Tenant).mapToPk().fieldName("tenant_id").nullable().deleteRule("cascade"),
    kubernetesVersion: p.string().length(16).nullable().index(),
    spec: p.json<Omit<ClusterSpecDraft, "version">>(),
  },
});
export type KubernetesClusterTemplate = InferEntity<typeof KubernetesClusterTemplate>;

/**
 * A tenant's cluster. The control plane and network are columns (fixed, filtered on, referenced by
 * placement); storage classes and labels are jsonb (small lists read and written with the cluster,
 * checked by the domain rules, never queried into). A deleted cluster stays, DELETED, for the record.
 */
export const KubernetesCluster = defineEntity({
  name: "KubernetesCluster",
  indexes: [
    { properties: ["tenantId", "id"] },
    { properties: ["status", "id"] },
    {
      name: "kubernetes_cluster_live_name_unique",
      expression:
        "create unique index kubernetes_cluster_live_name_unique on kubernetes_cluster (tenant_id, name) where status <> 'DELETED'",
    },
  ],
  properties: {
    ...resourceProperties(),
    name: p.string().length(30),
    description: p.text().default(""),
    tenantId: () => p.manyToOne(Tenant).mapToPk().fieldName("tenant_id"),
    kubernetesVersion: p.string().length(16).index(),
    controlPlaneCount: p.integer(),
    controlPlaneGroupId: () => p.manyToOne(BaremetalGroup).mapToPk().fieldName("control_plane_group_id"),
    controlPlaneSpecificationId: () => p.manyToOne(VirtualMachineSpecification).mapToPk().fieldName("control_plane_specification_id"),
    controlPlaneImageId: () => p.manyToOne(Image).mapToPk().fieldName("control_plane_image_id"),
    cni: p.string().length(16).$type<KubernetesCni>(),
    podCidr: p.string().length(49),
    serviceCidr: p.string().length(49),
    storageClasses: p.json<StorageClassSpec[]>().default("[]"),
    labels: p.json<Record<string, string>>().default("{}"),
    endpoint: p.string().length(255).default(""),
    status: p.string().length(16).$type<KubernetesClusterStatus>(),
    statusReason: p.text().default(""),
    statusTime: p.datetime(),
    templateId: p.uuid().nullable(),
    templateRevision: p.integer().nullable(),
    activeOperationId: p.uuid().nullable(),
  },
});
export type KubernetesCluster = InferEntity<typeof KubernetesCluster>;

/** A set of identical workers. Its own row: it has its own id and etag, VMs name it, and the
 * node-pool verbs change one pool at a time. */
export const KubernetesNodePool = defineEntity({
  name: "KubernetesNodePool",
  uniques: [{ properties: ["clusterId", "name"] }],
  properties: {
    ...resourceProperties(),
    clusterId: () => p.manyToOne(KubernetesCluster).mapToPk().fieldName("cluster_id").deleteRule("cascade"),
    name: p.string().length(20),
    groupId: () => p.manyToOne(BaremetalGroup).mapToPk().fieldName("group_id"),
    specificationId: () => p.manyToOne(VirtualMachineSpecification).mapToPk().fieldName("specification_id"),
    imageId: () => p.manyToOne(Image).mapToPk().fieldName("image_id"),
    nodeCount: p.integer(),
    autoscalingMinNodeCount: p.integer().nullable(),
    autoscalingMaxNodeCount: p.integer().nullable(),
    labels: p.json<Record<string, string>>().default("{}"),
    taints: p.json<Taint[]>().default("[]"),
    maxSurge: p.integer(),
    maxUnavailable: p.integer(),
    /** The version its nodes run: the cluster's, until an upgrade has rolled through the pool. */
    kubernetesVersion: p.string().length(16).default(""),
  },
});
export type KubernetesNodePool = InferEntity<typeof KubernetesNodePool>;

/**
 * A cluster's certificate authority, apart from the cluster row so that no read of a cluster ever
 * carries the key. The key is sealed (AES-256-GCM under the server's secret key, see
 * app/kubernetes/secret-box.ts); the certificate is public.
 */
export const KubernetesClusterCa = defineEntity({
  name: "KubernetesClusterCa",
  tableName: "kubernetes_cluster_ca",
  properties: {
    clusterId: () => p.manyToOne(KubernetesCluster).mapToPk().fieldName("cluster_id").primary().deleteRule("cascade"),
    certificatePem: p.text(),
    sealedKey: p.text(),
    createTime: p.datetime().onCreate(() => new Date()),
    expireTime: p.datetime(),
  },
});
export type KubernetesClusterCa = InferEntity<typeof KubernetesClusterCa>;
