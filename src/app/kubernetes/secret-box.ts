// Secrets at rest (a cluster CA's private key): AES-256-GCM under the server's secret key, a
// 32-byte key kept in a file — `<data dir>/secret.key`, created 0600 on first use, or the file
// RACKPLANE_SECRET_KEY_FILE names. Replicas sharing one database must share that file.
// docs/kubernetes.md#keys says how to back it up and what losing it means.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { closeSync, constants, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const FORMAT = "v1";

export interface SecretBox {
  /** Short fingerprint of the key, stored with every sealed value so that a wrong key file is
   * named as such instead of failing as a corrupt value. */
  readonly keyId: string;
  /** Encrypts `plaintext`, bound to `context` (e.g. "kubernetes_cluster_ca:<id>"): a sealed value
   * copied to another row does not open there. */
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
}

/** The key file: RACKPLANE_SECRET_KEY_FILE when set, else secret.key in the data directory. */
export function secretKeyFile(env: Readonly<Record<string, string | undefined>>, dataDir: string): string {
  return env.RACKPLANE_SECRET_KEY_FILE || join(dataDir, "secret.key");
}

/**
 * Opens the key file, creating it (0600, exclusively, so two processes starting together agree on
 * one key) when it does not exist. A key file others can read or write is refused, as ssh refuses
 * such a private key.
 */
export function openSecretBox(file: string): SecretBox {
  createKeyFileOnce(file);
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`secret key file ${file} is accessible to others (mode ${mode.toString(8)}); chmod 600 it`);
  }
  const key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
  if (key.length !== KEY_BYTES) throw new Error(`secret key file ${file} does not hold ${KEY_BYTES} base64-encoded bytes`);
  return secretBoxWithKey(key);
}

export function secretBoxWithKey(key: Buffer): SecretBox {
  const keyId = createHash("sha256").update(key).digest("hex").slice(0, 16);
  return {
    keyId,
    seal(plaintext, context) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, nonce);
      cipher.setAAD(Buffer.from(context, "utf8"));
      const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return [FORMAT, keyId, nonce.toString("base64url"), ciphertext.toString("base64url"), cipher.getAuthTag().toString("base64url")].join(
        ".",
      );
    },
    open(sealed, context) {
      const [format, sealedKeyId, nonce, ciphertext, tag, ...rest] = sealed.split(".");
      if (format !== FORMAT || nonce === undefined || ciphertext === undefined || tag === undefined || rest.length > 0) {
        throw new Error("not a sealed value of a known format");
      }
      if (sealedKeyId !== keyId) {
        throw new Error(
          `the value was sealed under secret key ${sealedKeyId}; this server has key ${keyId} (wrong RACKPLANE_SECRET_KEY_FILE?)`,
        );
      }
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(nonce, "base64url"));
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8");
    },
  };
}

function createKeyFileOnce(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return;
    throw error;
  }
  try {
    writeSync(fd, `${randomBytes(KEY_BYTES).toString("base64")}\n`);
  } finally {
    closeSync(fd);
  }
}
