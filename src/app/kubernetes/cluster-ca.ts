// A cluster's CA at rest, and the kubeconfig it backs (K8S-6). The cluster creation use case calls
// createAndStoreClusterCa inside its transaction; the bootstrap job's payload gets loadClusterCa's
// result; IssueKubeconfig calls issueKubeconfig. The key is sealed before it reaches the database
// and opened only in memory, for the moment it signs.
import type { EntityManager } from "@mikro-orm/postgresql";
import { NotFoundError } from "../../domain/errors.js";
import { KubernetesClusterCa } from "../../persistence/entities/index.js";
import { createClusterCa, renderKubeconfig, signClientCertificate, type CertificateSubject } from "./pki.js";
import type { SecretBox } from "./secret-box.js";

/** Binds a sealed key to its cluster: a sealed value copied to another cluster's row does not open. */
function sealContext(clusterId: string): string {
  return `kubernetes_cluster_ca:${clusterId}`;
}

/** Creates the cluster's CA and stores it, key sealed, in the caller's transaction. Returns the
 * certificate (public). */
export async function createAndStoreClusterCa(
  em: EntityManager,
  secrets: SecretBox,
  cluster: { id: string; name: string },
  now: Date = new Date(),
): Promise<string> {
  const ca = await createClusterCa(cluster, now);
  em.create(KubernetesClusterCa, {
    clusterId: cluster.id,
    certificatePem: ca.certificatePem,
    sealedKey: secrets.seal(ca.privateKeyPem, sealContext(cluster.id)),
    createTime: now,
    expireTime: ca.expireTime,
  });
  return ca.certificatePem;
}

/** The CA with its key opened: for the bootstrap job and for signing, never for a response. */
export async function loadClusterCa(
  em: EntityManager,
  secrets: Pick<SecretBox, "open">,
  clusterId: string,
): Promise<{ certificatePem: string; privateKeyPem: string }> {
  const row = await em.findOne(KubernetesClusterCa, { clusterId });
  if (!row) throw new NotFoundError("kubernetes_cluster_ca", clusterId);
  return { certificatePem: row.certificatePem, privateKeyPem: secrets.open(row.sealedKey, sealContext(clusterId)) };
}

export interface IssuedKubeconfig {
  readonly kubeconfig: string;
  readonly serialNumber: string;
  readonly expireTime: Date;
}

/** Signs a client certificate for `subject` with the cluster's CA and renders the kubeconfig for
 * the cluster's endpoint. The caller has checked who may have one (requireKubeconfigIssuable). */
export async function issueKubeconfig(
  em: EntityManager,
  secrets: SecretBox,
  cluster: { id: string; name: string; endpoint: string },
  subject: CertificateSubject,
  ttlMillis?: number,
  now: Date = new Date(),
): Promise<IssuedKubeconfig> {
  const ca = await loadClusterCa(em, secrets, cluster.id);
  const client = await signClientCertificate(ca, subject, ttlMillis, now);
  const kubeconfig = renderKubeconfig({
    clusterName: cluster.name,
    endpoint: cluster.endpoint,
    caCertificatePem: ca.certificatePem,
    userName: subject.commonName,
    clientCertificatePem: client.certificatePem,
    clientKeyPem: client.privateKeyPem,
  });
  return { kubeconfig, serialNumber: client.serialNumber, expireTime: client.expireTime };
}
