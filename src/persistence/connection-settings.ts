// The settings of DATABASE_URL beyond host, port, user, password and database, which are all
// MikroORM reads from it: TLS (libpq's sslmode, sslrootcert, sslcert, sslkey), application_name and
// statement_timeout, as pg pool options so every pooled connection has them; and connect_timeout
// (seconds, libpq's meaning), which sets the pool's waits (pool-guard.ts). Only what the URL names
// is set.
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";

export interface ConnectionSettings {
  ssl?: ConnectionOptions | boolean;
  application_name?: string;
  statement_timeout?: number;
  /** libpq's `connect_timeout`, in seconds. */
  connect_timeout?: number;
}

export function connectionSettings(databaseUrl: string): ConnectionSettings {
  const query = new URL(databaseUrl).searchParams;
  const settings: ConnectionSettings = {};
  const mode = query.get("sslmode");
  if (mode && mode !== "disable") {
    const file = (name: string) => (query.get(name) ? readFileSync(query.get(name)!, "utf8") : undefined);
    const ca = file("sslrootcert");
    const cert = file("sslcert");
    const key = file("sslkey");
    settings.ssl = {
      // require/prefer: encrypted, certificate not checked (libpq's meaning); verify-ca: the chain but
      // not the name; verify-full: both.
      rejectUnauthorized: mode === "verify-ca" || mode === "verify-full",
      ...(mode === "verify-ca" ? { checkServerIdentity: () => undefined } : {}),
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
    };
  }
  const applicationName = query.get("application_name");
  if (applicationName) settings.application_name = applicationName;
  const statementTimeout = query.get("statement_timeout");
  if (statementTimeout) settings.statement_timeout = Number(statementTimeout);
  const connectTimeout = query.get("connect_timeout");
  if (connectTimeout && Number(connectTimeout) > 0) settings.connect_timeout = Number(connectTimeout);
  return settings;
}
