// A cluster's certificate authority and the client certificates it signs (K8S-6), with
// @peculiar/x509 over Node's WebCrypto: ECDSA P-256 keys, SHA-256 signatures. rackplane creates the
// CA when it creates the cluster and keeps it (as Cluster API's management cluster does); the
// bootstrap job hands it to kubeadm, and IssueKubeconfig signs short-lived client certificates.
import { randomBytes, webcrypto } from "node:crypto";
import type * as X509 from "@peculiar/x509";
import { stringify } from "yaml";
import { InvalidArgumentError } from "../../domain/errors.js";
import { kubeconfigTtl } from "../../domain/kubernetes.js";

// Node's WebCrypto, typed as the DOM's Crypto the library expects.
const crypto = webcrypto as unknown as Crypto;

// The library (with its decorators' reflect-metadata) is loaded on the first certificate, not at
// start-up: it is the largest module a server would otherwise load for a feature most calls never
// touch (a twentieth of a cold start's CPU).
let library: Promise<typeof X509> | undefined;
function loadX509(): Promise<typeof X509> {
  library ??= (async () => {
    await import("reflect-metadata");
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(crypto);
    return x509;
  })();
  return library;
}

const keyAlgorithm = { name: "ECDSA", namedCurve: "P-256" } as const;
const signingAlgorithm = { name: "ECDSA", hash: "SHA-256" } as const;
/** Clocks of the API server and rackplane may differ by this much without a new certificate
 * being "not yet valid". */
const clockSkewMillis = 5 * 60_000;

export interface ClusterCa {
  readonly certificatePem: string;
  /** PKCS#8 PEM. Seal it before it is stored (secret-box.ts). */
  readonly privateKeyPem: string;
  readonly expireTime: Date;
}

export interface ClientCertificate {
  readonly certificatePem: string;
  /** PKCS#8 PEM; handed to the caller once, never stored. */
  readonly privateKeyPem: string;
  /** Hex, as openssl prints it. */
  readonly serialNumber: string;
  readonly expireTime: Date;
}

/** Who the certificate names: Kubernetes reads CN as the user and each O as a group. */
export interface CertificateSubject {
  readonly commonName: string;
  readonly groups: readonly string[];
}

/** A self-signed CA for one cluster, valid ten years (kubeadm's CA lifetime). */
export async function createClusterCa(cluster: { id: string; name: string }, now: Date = new Date()): Promise<ClusterCa> {
  const x509 = await loadX509();
  const keys = (await crypto.subtle.generateKey(keyAlgorithm, true, ["sign", "verify"])) as CryptoKeyPair;
  const expireTime = new Date(now.getTime() + 10 * 365 * 24 * 3600_000);
  const name: X509.JsonName = [{ CN: [`${cluster.name} cluster CA`] }, { O: ["rackplane"] }, { OU: [cluster.id] }];
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name,
    notBefore: new Date(now.getTime() - clockSkewMillis),
    notAfter: expireTime,
    keys,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificatePem: certificate.toString("pem"), privateKeyPem: await privateKeyPem(x509, keys.privateKey), expireTime };
}

/**
 * A client certificate for `subject`, signed by the CA: a fresh key pair, `ttlMillis` long (8 h when
 * undefined; at least a minute, at most 24 h), usable for client authentication only.
 */
export async function signClientCertificate(
  ca: { readonly certificatePem: string; readonly privateKeyPem: string },
  subject: CertificateSubject,
  ttlMillis: number = kubeconfigTtl.defaultMillis,
  now: Date = new Date(),
): Promise<ClientCertificate> {
  if (ttlMillis < kubeconfigTtl.minMillis || ttlMillis > kubeconfigTtl.maxMillis) {
    throw new InvalidArgumentError("KUBECONFIG_TTL_INVALID", "a kubeconfig's certificate lives between one minute and 24 hours", [
      { field: "ttl", description: "between 60 s and 86400 s" },
    ]);
  }
  if (subject.commonName === "") throw new Error("a client certificate needs a common name");
  const x509 = await loadX509();
  const caCertificate = new x509.X509Certificate(ca.certificatePem);
  const caKey = await crypto.subtle.importKey("pkcs8", pemBody(x509, ca.privateKeyPem), keyAlgorithm, false, ["sign"]);
  const keys = (await crypto.subtle.generateKey(keyAlgorithm, true, ["sign", "verify"])) as CryptoKeyPair;
  const expireTime = new Date(now.getTime() + ttlMillis);
  const serial = serialNumber();
  // JSON names, not a DN string: a principal or group name with a comma or a plus stays one value.
  const name: X509.JsonName = [{ CN: [subject.commonName] }, ...subject.groups.map((group) => ({ O: [group] }))];
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: name,
    issuer: caCertificate.subjectName,
    notBefore: new Date(now.getTime() - clockSkewMillis),
    notAfter: expireTime,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate.publicKey),
    ],
  });
  return {
    certificatePem: certificate.toString("pem"),
    privateKeyPem: await privateKeyPem(x509, keys.privateKey),
    serialNumber: serial,
    expireTime,
  };
}

export interface KubeconfigInput {
  /** The cluster's name: the kubeconfig's cluster and context are named after it. */
  readonly clusterName: string;
  /** The API server's URL, e.g. https://10.0.0.10:6443. */
  readonly endpoint: string;
  readonly caCertificatePem: string;
  /** The user entry's name: the certificate's CN. */
  readonly userName: string;
  readonly clientCertificatePem: string;
  readonly clientKeyPem: string;
}

/** A kubeconfig (clientcmd v1) with one cluster, one user and one context, current. */
export function renderKubeconfig(input: KubeconfigInput): string {
  const context = `${input.userName}@${input.clusterName}`;
  const base64 = (pem: string) => Buffer.from(pem, "utf8").toString("base64");
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: input.clusterName, cluster: { server: input.endpoint, "certificate-authority-data": base64(input.caCertificatePem) } },
    ],
    users: [
      {
        name: input.userName,
        user: { "client-certificate-data": base64(input.clientCertificatePem), "client-key-data": base64(input.clientKeyPem) },
      },
    ],
    contexts: [{ name: context, context: { cluster: input.clusterName, user: input.userName } }],
    "current-context": context,
    preferences: {},
  });
}

/** 128 random bits, positive (first bit clear), as RFC 5280 asks of serial numbers. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes.toString("hex");
}

async function privateKeyPem(x509: typeof X509, key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

function pemBody(x509: typeof X509, pem: string): ArrayBuffer {
  const [der] = x509.PemConverter.decode(pem);
  if (!der) throw new Error("not a PEM document");
  return der;
}
