// `npm start`: the rackplane server. Without DATABASE_URL it runs an embedded PostgreSQL whose data
// lives in the data directory and survives restarts.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { bootstrapAdminToken } from "./app/identity.js";
import { secretKeyFile } from "./app/kubernetes/secret-box.js";
import { oidcSettingsFromEnv, type OidcSettings } from "./app/oidc.js";
import { demoAgentToken, loadDemo, loadDemoCluster } from "./demo.js";
import { createSimulatedAgent } from "./agent/simulator.js";
import { tlsCredentials, type Agent } from "./agent-sdk/index.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./persistence/embedded-postgres.js";
import { errorFields, log } from "./log.js";
import { parseCorsOrigins } from "./server/cors.js";
import { startServer } from "./server/server.js";
import { readCertificatePair, type TlsFiles } from "./server/tls.js";
import { parseRateLimit, type RateLimit } from "./domain/rate-limit.js";

const { values } = parseArgs({
  options: {
    listen: { type: "string" },
    "data-dir": { type: "string" },
    demo: { type: "boolean", default: false },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
  },
});

const listenAddress = values.listen ?? process.env.RACKPLANE_LISTEN ?? "127.0.0.1:8080";
const dataDir = resolve(values["data-dir"] ?? process.env.RACKPLANE_DATA_DIR ?? ".rackplane");
const { host, port } = parseListen(listenAddress);
const tls = tlsFiles(values["tls-cert"] ?? process.env.RACKPLANE_TLS_CERT, values["tls-key"] ?? process.env.RACKPLANE_TLS_KEY);
let oidc: OidcSettings | undefined;
try {
  oidc = oidcSettingsFromEnv(process.env);
} catch (error) {
  log("error", (error as Error).message);
  process.exit(2);
}
const tokenCacheSeconds = Number(process.env.RACKPLANE_TOKEN_CACHE_SECONDS ?? 5);
let rateLimit: RateLimit | undefined;
try {
  rateLimit = parseRateLimit(process.env.RACKPLANE_RATE_LIMIT, process.env.RACKPLANE_RATE_LIMIT_BURST);
} catch (error) {
  log("error", "bad rate limit setting", errorFields(error));
  process.exit(2);
}
let corsOrigins: string[];
try {
  corsOrigins = parseCorsOrigins(process.env.RACKPLANE_CORS_ORIGINS);
} catch (error) {
  log("error", (error as Error).message);
  process.exit(2);
}
if (!(tokenCacheSeconds >= 0)) {
  log("error", "bad RACKPLANE_TOKEN_CACHE_SECONDS; want a number of seconds", { value: process.env.RACKPLANE_TOKEN_CACHE_SECONDS });
  process.exit(2);
}

mkdirSync(dataDir, { recursive: true });
let embedded: EmbeddedDatabase | undefined;
let databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  log("info", "starting embedded PostgreSQL", { dir: join(dataDir, "postgres") });
  embedded = await startEmbeddedPostgres({ dir: join(dataDir, "postgres"), durable: true });
  databaseUrl = embedded.url;
}

const graceSeconds = Number(process.env.RACKPLANE_SHUTDOWN_GRACE_SECONDS ?? 25);
if (!(graceSeconds > 0)) {
  log("error", "bad RACKPLANE_SHUTDOWN_GRACE_SECONDS; want a number of seconds", { value: process.env.RACKPLANE_SHUTDOWN_GRACE_SECONDS });
  process.exit(2);
}
const leaseSeconds = Number(process.env.RACKPLANE_LEASE_SECONDS ?? 30);
const poolSize = Number(process.env.RACKPLANE_DB_POOL ?? 20);
// A diagnostic: the database pools' state in the log this often (docs/deployment.md).
const poolTraceSeconds = Number(process.env.RACKPLANE_DB_TRACE_SECONDS ?? 0);
const observationStaleSeconds = Number(process.env.RACKPLANE_OBSERVATION_STALE_SECONDS ?? 300);
const driftGraceSeconds = Number(process.env.RACKPLANE_DRIFT_GRACE_SECONDS ?? 120);
const clusterHealthStaleSeconds = Number(process.env.RACKPLANE_CLUSTER_HEALTH_STALE_SECONDS ?? 300);
if (!(clusterHealthStaleSeconds > 0)) {
  log("error", "bad RACKPLANE_CLUSTER_HEALTH_STALE_SECONDS; want a number of seconds", {
    value: process.env.RACKPLANE_CLUSTER_HEALTH_STALE_SECONDS,
  });
  process.exit(2);
}
const autoscalerCooldownSeconds = Number(process.env.RACKPLANE_AUTOSCALER_COOLDOWN_SECONDS ?? 300);
const autoscalerEmptyNodeSeconds = Number(process.env.RACKPLANE_AUTOSCALER_EMPTY_NODE_SECONDS ?? 600);
if (!(autoscalerCooldownSeconds >= 0) || !(autoscalerEmptyNodeSeconds >= 0)) {
  log("error", "bad RACKPLANE_AUTOSCALER_COOLDOWN_SECONDS or RACKPLANE_AUTOSCALER_EMPTY_NODE_SECONDS; want a number of seconds", {
    cooldown: process.env.RACKPLANE_AUTOSCALER_COOLDOWN_SECONDS,
    emptyNode: process.env.RACKPLANE_AUTOSCALER_EMPTY_NODE_SECONDS,
  });
  process.exit(2);
}
const server = await startServer({
  databaseUrl,
  // Optional: a streaming replica for the reads of Get and List calls (docs/deployment.md).
  ...(process.env.DATABASE_READ_URL ? { databaseReadUrl: process.env.DATABASE_READ_URL } : {}),
  host,
  port,
  leaseMillis: leaseSeconds * 1000,
  poolSize,
  ...(poolTraceSeconds > 0 ? { poolTraceMillis: poolTraceSeconds * 1000 } : {}),
  // Calls in flight get half the grace period; the rest is for the database work of stopping.
  shutdownGraceMs: Math.min(10_000, (graceSeconds * 1000) / 2),
  observationStaleMillis: observationStaleSeconds * 1000,
  driftGraceMillis: driftGraceSeconds * 1000,
  clusterHealthStaleMillis: clusterHealthStaleSeconds * 1000,
  autoscaler: { cooldownMillis: autoscalerCooldownSeconds * 1000, emptyMillis: autoscalerEmptyNodeSeconds * 1000 },
  tokenCacheMillis: tokenCacheSeconds * 1000,
  // RACKPLANE_SECRET_KEY_FILE, else <data dir>/secret.key, created 0600 on first start.
  secretKeyFile: secretKeyFile(process.env, dataDir),
  // `npm run build` puts the console beside the compiled server: dist/web next to dist/src.
  consoleDir: resolve(dirname(fileURLToPath(import.meta.url)), "..", "web"),
  corsOrigins,
  ...(rateLimit ? { rateLimit } : {}),
  ...(tls ? { tls } : {}),
  ...(oidc ? { oidc } : {}),
});
if (oidc) log("info", "accepting OIDC tokens", { issuer: oidc.issuer, audience: oidc.audience });
// New connections get the pair read now; a pair that does not load is logged and the old one kept.
if (tls) process.on("SIGHUP", () => server.reloadTls());
const adminSecret = await bootstrapAdminToken(server.db);
if (adminSecret) {
  const tokenFile = join(dataDir, "admin.token");
  writeFileSync(tokenFile, `${adminSecret}\n`, { mode: 0o600 });
  chmodSync(tokenFile, 0o600);
  log("info", "created the first platform-admin token", { file: tokenFile });
}
let demoAgent: Agent | undefined;
if (values.demo) {
  const started = performance.now();
  const loaded = await loadDemo(server.db);
  if (loaded) await loadDemoCluster(server.db, server.secrets);
  log("info", loaded ? "loaded the demo data" : "the demo data is already there", {
    seconds: Math.round((performance.now() - started) / 100) / 10,
  });
  // A simulated hypervisor in this process, on a token of its own, so demo VMs reach RUNNING.
  demoAgent = createSimulatedAgent({
    servers: [`${host.includes(":") ? `[${host}]` : host}:${server.port}`],
    token: await demoAgentToken(server.db),
    agentId: "demo-simulator",
    latencyMs: 1_500,
    concurrency: 16,
    log: (level, message, fields) => log(level, message, { component: "demo-agent", ...fields }),
    // Over TLS it trusts the server's own certificate file: self-signed, or carrying its chain up
    // to the root.
    ...(tls ? { sdk: { credentials: tlsCredentials(readFileSync(tls.certFile)) } } : {}),
  });
  demoAgent.start();
}
log("info", "rackplane is ready", { url: server.url });

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log("info", "shutting down", { signal });
    // Stopping waits on the database (audits, agents marked disconnected, the pool's end); a database
    // that does not answer must not keep the process past its grace period (systemd, Kubernetes
    // would kill it less kindly).
    setTimeout(() => {
      log("error", "shutdown took longer than its grace period; exiting now", { grace_seconds: graceSeconds });
      process.exit(1);
    }, graceSeconds * 1000).unref();
    void (async () => {
      try {
        await demoAgent?.stop({ graceMs: 2_000 });
        await server.close();
        await embedded?.stop();
        log("info", "stopped");
        process.exit(0);
      } catch (error) {
        log("error", "shutdown failed", errorFields(error));
        process.exit(1);
      }
    })();
  });
}

/** Both files or neither: half a pair is a mistake worth stopping for. */
function tlsFiles(certFile: string | undefined, keyFile: string | undefined): TlsFiles | undefined {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) {
    log("error", "TLS needs both --tls-cert and --tls-key (or RACKPLANE_TLS_CERT and RACKPLANE_TLS_KEY)");
    process.exit(2);
  }
  try {
    readCertificatePair({ certFile, keyFile });
  } catch (error) {
    log("error", (error as Error).message);
    process.exit(2);
  }
  return { certFile, keyFile };
}

function parseListen(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  if (!match) {
    log("error", "bad listen address; want host:port", { listen: address });
    process.exit(2);
  }
  return { host: match[1] || "127.0.0.1", port: Number(match[2]) };
}
