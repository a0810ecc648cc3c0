// Cluster CAs and kubeconfigs (K8S-6), checked by independent tools: openssl verifies the issued
// certificate against the cluster's CA and reads its subject, groups and expiry; kubectl (a real
// client, on these machines' image) parses the kubeconfig. The CA's key is sealed at rest with the
// server's secret key, checked in the database.
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAndStoreClusterCa, issueKubeconfig, loadClusterCa } from "../../src/app/kubernetes/cluster-ca.js";
import { createClusterCa, signClientCertificate } from "../../src/app/kubernetes/pki.js";
import { openSecretBox, secretBoxWithKey, secretKeyFile } from "../../src/app/kubernetes/secret-box.js";
import { newId } from "../../src/domain/ids.js";
import { KubernetesCluster } from "../../src/persistence/entities/index.js";
import { buildCloud, type Cloud } from "../support/compute.js";
import { startTestServer, type TestServer } from "../support/server.js";

const run = promisify(execFile);
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "rackplane-pki-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function openssl(...args: string[]): Promise<string> {
  return (await run("openssl", args)).stdout;
}

/** kubectl is part of these machines' image (docs/kubernetes.md); without it this check cannot be
 * made, and the test says so rather than passing. */
async function kubectl(...args: string[]): Promise<string> {
  try {
    return (await run("kubectl", args)).stdout;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error("kubectl is not installed: it is needed to check that an issued kubeconfig parses (see docs/kubernetes.md)");
    }
    throw error;
  }
}

describe("secret key file", () => {
  it("is created 0600 on first use, then reused", () => {
    const path = join(dir, "secret.key");
    const first = openSecretBox(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = openSecretBox(path);
    expect(again.keyId).toBe(first.keyId);
    expect(again.open(first.seal("the key", "ctx"), "ctx")).toBe("the key");
  });

  it("is refused when others may read it", () => {
    const path = join(dir, "loose.key");
    openSecretBox(path);
    chmodSync(path, 0o644);
    expect(() => openSecretBox(path)).toThrow(/accessible to others.*chmod 600/);
  });

  it("comes from RACKPLANE_SECRET_KEY_FILE when set, else the data directory", () => {
    expect(secretKeyFile({ RACKPLANE_SECRET_KEY_FILE: "/etc/rackplane/key" }, "/data")).toBe("/etc/rackplane/key");
    expect(secretKeyFile({}, "/data")).toBe("/data/secret.key");
  });

  it("opens a sealed value only with the same key and context, and names a wrong key", () => {
    const box = secretBoxWithKey(Buffer.alloc(32, 1));
    const sealed = box.seal("secret", "kubernetes_cluster_ca:a");
    expect(sealed).not.toContain("secret");
    expect(box.open(sealed, "kubernetes_cluster_ca:a")).toBe("secret");
    expect(() => box.open(sealed, "kubernetes_cluster_ca:b")).toThrow(/authenticate/);
    expect(() => secretBoxWithKey(Buffer.alloc(32, 2)).open(sealed, "kubernetes_cluster_ca:a")).toThrow(
      /sealed under secret key .* this server has key/,
    );
    const [format, keyId, nonce, ciphertext, tag] = sealed.split(".");
    const flipped = Buffer.from(ciphertext!, "base64url");
    flipped[0] = flipped[0]! ^ 1;
    expect(() => box.open([format, keyId, nonce, flipped.toString("base64url"), tag].join("."), "kubernetes_cluster_ca:a")).toThrow();
  });
});

describe("certificates", () => {
  const now = new Date();
  let ca: Awaited<ReturnType<typeof createClusterCa>>;
  let caFile: string;
  beforeAll(async () => {
    ca = await createClusterCa({ id: newId(), name: "payments" }, now);
    caFile = file("ca.pem", ca.certificatePem);
  });

  it("makes a CA openssl accepts as one", async () => {
    const text = await openssl("x509", "-in", caFile, "-noout", "-text");
    expect(text).toMatch(/CA:TRUE/);
    expect(text).toMatch(/Certificate Sign/);
    expect(text).toMatch(/ASN1 OID: prime256v1/);
    expect(ca.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it("signs a client certificate that verifies against the CA, with CN the subject, O its groups, and the asked expiry", async () => {
    const client = await signClientCertificate(
      ca,
      { commonName: "alice", groups: ["rackplane:tenant-admins", "team, with comma"] },
      3600_000,
      now,
    );
    const clientFile = file("alice.pem", client.certificatePem);
    expect(await openssl("verify", "-CAfile", caFile, clientFile)).toBe(`${clientFile}: OK\n`);
    const subject = await openssl("x509", "-in", clientFile, "-noout", "-subject", "-nameopt", "RFC2253");
    expect(subject.trim()).toBe("subject=O=team\\, with comma,O=rackplane:tenant-admins,CN=alice");
    const enddate = (await openssl("x509", "-in", clientFile, "-noout", "-enddate")).trim().replace("notAfter=", "");
    expect(Math.floor(new Date(enddate).getTime() / 1000)).toBe(Math.floor((now.getTime() + 3600_000) / 1000));
    expect(client.expireTime.getTime()).toBe(now.getTime() + 3600_000);
    const text = await openssl("x509", "-in", clientFile, "-noout", "-text");
    expect(text).toMatch(/TLS Web Client Authentication/);
    expect(text).toMatch(/CA:FALSE/);
    expect((await openssl("x509", "-in", clientFile, "-noout", "-serial")).trim()).toBe(`serial=${client.serialNumber.toUpperCase()}`);
  });

  it("lasts 8 hours unless told otherwise, and never more than 24", async () => {
    const client = await signClientCertificate(ca, { commonName: "bob", groups: [] }, undefined, now);
    expect(client.expireTime.getTime() - now.getTime()).toBe(8 * 3600_000);
    await expect(signClientCertificate(ca, { commonName: "bob", groups: [] }, 24 * 3600_000 + 1000, now)).rejects.toMatchObject({
      reason: "KUBECONFIG_TTL_INVALID",
    });
    await expect(signClientCertificate(ca, { commonName: "bob", groups: [] }, 24 * 3600_000, now)).resolves.toBeDefined();
  });

  it("is not accepted under another cluster's CA", async () => {
    const other = await createClusterCa({ id: newId(), name: "other" }, now);
    const client = await signClientCertificate(other, { commonName: "mallory", groups: [] }, undefined, now);
    const clientFile = file("mallory.pem", client.certificatePem);
    await expect(openssl("verify", "-CAfile", caFile, clientFile)).rejects.toThrow(/unable to get local issuer certificate/);
  });
});

describe("stored CAs and kubeconfigs", () => {
  let t: TestServer;
  let cloud: Cloud;
  const secrets = secretBoxWithKey(Buffer.alloc(32, 7));
  beforeAll(async () => {
    t = await startTestServer();
    cloud = await buildCloud(t, { name: "pki" });
  });
  afterAll(() => t?.close());

  async function cluster(name: string) {
    const id = newId();
    await t.server.db.em().insert(KubernetesCluster, {
      id,
      name,
      tenantId: cloud.tenantId,
      kubernetesVersion: "1.31.4",
      controlPlaneCount: 1,
      controlPlaneGroupId: cloud.groupId,
      controlPlaneSpecificationId: cloud.specificationId,
      controlPlaneImageId: cloud.imageId,
      cni: "CILIUM",
      podCidr: "10.244.0.0/16",
      serviceCidr: "10.96.0.0/12",
      status: "ACTIVE",
      statusTime: new Date(),
      createTime: new Date(),
      updateTime: new Date(),
      endpoint: "https://10.0.0.10:6443",
    });
    return { id, name, endpoint: "https://10.0.0.10:6443" };
  }

  it("keeps the key sealed in the database and opens it for its own cluster only", async () => {
    const first = await cluster("sealed");
    const second = await cluster("other");
    await t.server.db.em().transactional((em) => createAndStoreClusterCa(em, secrets, first));
    await t.server.db.em().transactional((em) => createAndStoreClusterCa(em, secrets, second));
    const [row] = await t.server.db
      .em()
      .execute<{ certificate_pem: string; sealed_key: string }[]>(
        "select certificate_pem, sealed_key from kubernetes_cluster_ca where cluster_id = ?",
        [first.id],
      );
    expect(row!.certificate_pem).toMatch(/BEGIN CERTIFICATE/);
    expect(row!.sealed_key).toMatch(new RegExp(`^v1\\.${secrets.keyId}\\.`));
    expect(row!.sealed_key).not.toMatch(/PRIVATE KEY|LS0tLS1CRUdJTi/);
    const loaded = await loadClusterCa(t.server.db.em(), secrets, first.id);
    expect(loaded.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    // Another cluster's sealed key, copied over this one's, does not open.
    await t.server.db
      .em()
      .execute(
        "update kubernetes_cluster_ca set sealed_key = (select sealed_key from kubernetes_cluster_ca where cluster_id = ?) where cluster_id = ?",
        [second.id, first.id],
      );
    await expect(loadClusterCa(t.server.db.em(), secrets, first.id)).rejects.toThrow(/authenticate/);
  });

  it("issues a kubeconfig that kubectl reads, for the endpoint, whose certificate verifies against the cluster's CA", async () => {
    const target = await cluster("payments");
    const caPem = await t.server.db.em().transactional((em) => createAndStoreClusterCa(em, secrets, target));
    const issued = await issueKubeconfig(t.server.db.em(), secrets, target, { commonName: "alice", groups: ["rackplane:tenant-members"] });
    const kubeconfigFile = file("kubeconfig", issued.kubeconfig);
    const view = JSON.parse(await kubectl("--kubeconfig", kubeconfigFile, "config", "view", "--raw", "-o", "json"));
    expect(view["current-context"]).toBe("alice@payments");
    expect(view.clusters).toEqual([
      { name: "payments", cluster: { server: target.endpoint, "certificate-authority-data": expect.any(String) } },
    ]);
    expect(view.contexts).toEqual([{ name: "alice@payments", context: { cluster: "payments", user: "alice" } }]);
    const decode = (data: string) => Buffer.from(data, "base64").toString("utf8");
    expect(decode(view.clusters[0].cluster["certificate-authority-data"])).toBe(caPem);
    const user = view.users[0].user;
    const certFile = file("issued.pem", decode(user["client-certificate-data"]));
    const keyFile = file("issued.key", decode(user["client-key-data"]));
    expect(await openssl("verify", "-CAfile", file("stored-ca.pem", caPem), certFile)).toBe(`${certFile}: OK\n`);
    expect((await openssl("x509", "-in", certFile, "-noout", "-subject", "-nameopt", "RFC2253")).trim()).toBe(
      "subject=O=rackplane:tenant-members,CN=alice",
    );
    // The key in the kubeconfig is the certificate's.
    expect(await openssl("pkey", "-in", keyFile, "-pubout")).toBe(await openssl("x509", "-in", certFile, "-noout", "-pubkey"));
    expect(issued.expireTime.getTime() - Date.now()).toBeLessThanOrEqual(8 * 3600_000);
    expect(readFileSync(kubeconfigFile, "utf8")).not.toContain(secrets.keyId);
  });
});
