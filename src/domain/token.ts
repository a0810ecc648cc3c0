import { createHash, randomBytes } from "node:crypto";

/** Bearer secrets: a recognisable prefix (so secret scanners and people can tell what leaked) and
 * 256 random bits. */
export function newSecret(): string {
  return `rpt_${randomBytes(32).toString("base64url")}`;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** What may be shown of a secret: enough to tell tokens apart, far too little to guess one. */
export function secretPrefix(secret: string): string {
  return secret.slice(0, 10);
}
