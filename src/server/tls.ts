// TLS for the one port: the certificate pair read from files, read again on demand (SIGHUP), and
// the warning for clear text where others can listen.
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import type { CertificatePair } from "./listen.js";

export interface TlsFiles {
  /** PEM certificate chain: the server's certificate first, then any intermediates. */
  readonly certFile: string;
  /** PEM private key of that certificate. */
  readonly keyFile: string;
}

/** Reads and checks the pair; throws an Error that says which file is wrong and why. */
export function readCertificatePair(files: TlsFiles): CertificatePair {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`cannot read the TLS ${what} ${path}: ${(error as Error).message}`);
    }
  };
  const pair = { cert: read(files.certFile, "certificate"), key: read(files.keyFile, "key") };
  try {
    tls.createSecureContext(pair);
  } catch (error) {
    throw new Error(
      `the TLS certificate ${files.certFile} and key ${files.keyFile} do not make a usable pair: ${(error as Error).message}`,
    );
  }
  return pair;
}

/** Loopback addresses only: a wildcard (0.0.0.0, ::) or any interface address can be reached from
 * the network. */
export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (net.isIPv4(host)) return host.startsWith("127.");
  if (net.isIPv6(host)) return host === "::1" || /^::ffff:127\./i.test(host);
  return false;
}
