// Certificates for TLS tests, made with the openssl command line: a private CA and server
// certificates it signs for localhost / 127.0.0.1 / ::1.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** SHA-256 fingerprint, as TLSSocket.getPeerCertificate().fingerprint256 spells it. */
  readonly fingerprint: string;
}

export interface TestCa {
  readonly dir: string;
  readonly caFile: string;
  readonly ca: Buffer;
  /** A new server certificate (and key) signed by this CA, written under `name`. */
  issue(name: string): CertificateFiles;
  remove(): void;
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

export function createTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), "rackplane-tls-"));
  const caFile = join(dir, "ca.pem");
  const caKey = join(dir, "ca.key");
  openssl(
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat([
      "-keyout",
      caKey,
      "-out",
      caFile,
      "-days",
      "2",
      "-subj",
      "/CN=rackplane test CA",
    ]),
  );
  const extensions = join(dir, "server.ext");
  writeFileSync(
    extensions,
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n",
  );
  return {
    dir,
    caFile,
    ca: readFileSync(caFile),
    issue(name) {
      const keyFile = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const certFile = join(dir, `${name}.pem`);
      openssl(
        ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat([
          "-keyout",
          keyFile,
          "-out",
          csr,
          "-subj",
          `/CN=${name}`,
        ]),
      );
      openssl(
        ["x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial", "-days", "2"].concat([
          "-extfile",
          extensions,
          "-out",
          certFile,
        ]),
      );
      return { certFile, keyFile, fingerprint: new X509Certificate(readFileSync(certFile)).fingerprint256 };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
