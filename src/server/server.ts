// Assembles a running rackplane server from a database URL: ORM (with migrations), use-case
// dependencies, routes, interceptors, the one port, and an orderly shutdown.
import { randomBytes } from "node:crypto";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { MikroORM } from "@mikro-orm/postgresql";
import { Database } from "../app/database.js";
import { Authenticator } from "../app/identity.js";
import { registerLifecycles } from "../app/lifecycles.js";
import { OidcAuthenticator, type OidcSettings } from "../app/oidc.js";
import { RateLimiter, type RateLimit } from "../domain/rate-limit.js";
import { openDatabase } from "../persistence/orm.js";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/es/grpc/health/v1/health_pb.js";
import { rollUpPeriodically } from "./observation-rollups.js";
import { type DatabaseWatch, watchDatabase } from "./database-health.js";
import { HealthStatus } from "./health.js";
import { callGate, callInterceptor } from "./interceptor.js";
import { listen } from "./listen.js";
import { ConsoleFiles } from "./console.js";
import { withCors } from "./cors.js";
import { isLoopback, readCertificatePair, type TlsFiles } from "./tls.js";
import { errorFields, log } from "../log.js";
import { Notifications } from "../persistence/notifications.js";
import { Dispatcher } from "../agents/dispatcher.js";
import { RpcMetrics } from "./metrics.js";
import { creationBatcher } from "../app/compute/creation-batch.js";
import { openSecretBox, secretBoxWithKey, type SecretBox } from "../app/kubernetes/secret-box.js";
import { readFleetState } from "../app/fleet-state.js";
import { requestTargets, routes, serviceNames } from "./routes.js";
import { defaultObservationSettings } from "../app/observations/latest.js";
import { defaultClusterHealthSettings } from "../app/kubernetes/addons/cluster-health.js";
import { defaultAutoscalerSettings, type AutoscalerSettings } from "../app/kubernetes/addons/autoscaler.js";
import { setObservationStaleSeconds } from "../persistence/entities/observed-columns.js";
import { openReadPool } from "../persistence/reads.js";

export interface ServerOptions {
  readonly databaseUrl: string;
  /** A streaming replica for Get and List calls' reads (DATABASE_READ_URL); absent: all on the primary. */
  readonly databaseReadUrl?: string;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** How long a job lease lasts without a report (default 30 s). */
  readonly leaseMillis?: number;
  /** How long in-flight requests may take to finish on shutdown. */
  readonly shutdownGraceMs?: number;
  readonly poolSize?: number;
  /** Log what the database pools are doing (counts, long-held connections and their statements)
   * this often (RACKPLANE_DB_TRACE_SECONDS): a diagnostic, off when absent. */
  readonly poolTraceMillis?: number;
  /** Serve TLS (HTTP/2 by ALPN, HTTP/1.1 otherwise) with this certificate pair; unset: clear text. */
  readonly tls?: TlsFiles;
  /** Also accept JWT bearer tokens from this OpenID Connect issuer. */
  readonly oidc?: OidcSettings;
  /** How long a token's look-up is cached when no notice of its change arrives (default 5 s). */
  readonly tokenCacheMillis?: number;
  /** Mutations per principal on this process; absent for no limit. */
  readonly rateLimit?: RateLimit;
  /** An observation older than this reads as health UNKNOWN (default 300 s). */
  readonly observationStaleMillis?: number;
  /** How long a VM's observed power may contradict its recorded state before it is drifted
   * (default 120 s). */
  readonly driftGraceMillis?: number;
  /** A cluster's health report older than this reads stale (default 300 s). */
  readonly clusterHealthStaleMillis?: number;
  /** The autoscaler's cool-down per pool and how long a node must be reported empty before it is
   * removed (defaults 300 s and 600 s). */
  readonly autoscaler?: AutoscalerSettings;
  /** How often this replica tries the hourly roll-up of observations (default 5 minutes). */
  readonly observationRollupMillis?: number;
  /** The secret key file that seals clusters' CA keys (created 0600 when missing; replicas must
   * share it). Unset: a key made for this process only, lost with it — for tests. */
  readonly secretKeyFile?: string;
  /** The built web console (vite's output) to serve at `/`; absent: no console. */
  readonly consoleDir?: string;
  /** Browser origins other than the server's own that may call the API (CORS); none by default. */
  readonly corsOrigins?: readonly string[];
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly db: Database;
  readonly health: HealthStatus;
  /** The server's secret box (sealed cluster CA keys), for in-process loaders such as the demo. */
  readonly secrets: SecretBox;
  /** Reads the TLS pair again for new connections (SIGHUP). A pair that does not load is logged and
   * the one in use kept; returns whether the new pair is in use. */
  reloadTls(): boolean;
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const observationStaleMillis = options.observationStaleMillis ?? defaultObservationSettings.staleMillis;
  setObservationStaleSeconds(observationStaleMillis / 1000);
  const orm: MikroORM = await openDatabase(options.databaseUrl, options.poolSize);
  const db = new Database(orm);
  const closeReadPool = options.databaseReadUrl ? await openReadPool(orm, options.databaseReadUrl, options.poolSize ?? 20) : async () => {};
  registerLifecycles();
  const secrets = options.secretKeyFile ? openSecretBox(options.secretKeyFile) : secretBoxWithKey(randomBytes(32));
  const authenticator = new Authenticator(db, options.tokenCacheMillis);
  const rateLimiter = options.rateLimit ? new RateLimiter(options.rateLimit) : undefined;
  // JWTs from the issuer go to OIDC, everything else to the opaque tokens; routes keep the token
  // authenticator itself (revocations make it forget).
  const callers = options.oidc ? new OidcAuthenticator(db, authenticator, options.oidc) : authenticator;
  const metrics = new RpcMetrics();
  const health = new HealthStatus([["", ServingStatus.NOT_SERVING]]);
  // Set once the server listens; /readyz reads why it is not ready from it.
  let databaseWatch: DatabaseWatch | undefined;
  const shutdown = new AbortController();
  const pendingAudits = new Set<Promise<void>>();
  const notifications = new Notifications(options.databaseUrl, (error) =>
    log("warn", "notification listener lost its connection; reconnecting", errorFields(error)),
  );
  await notifications.start();
  authenticator.follow(notifications);
  const leaseMillis = options.leaseMillis ?? 30_000;
  const dispatcher = new Dispatcher(db, notifications, {
    leaseMillis,
    sweepMillis: Math.max(250, Math.min(5_000, leaseMillis / 4)),
    onError: (error) => log("warn", "job dispatch bookkeeping failed", errorFields(error)),
    // Two fifths of the pool (8 of the default 20): the rest stays free for requests.
    bookkeepingConcurrency: Math.max(1, Math.floor(((options.poolSize ?? 20) * 2) / 5)),
    secrets,
  });
  dispatcher.start();

  const consoleFiles = options.consoleDir ? new ConsoleFiles(options.consoleDir) : undefined;
  const calls = { db, authenticator: callers, metrics, pendingAudits, targets: requestTargets(), ...(rateLimiter ? { rateLimiter } : {}) };
  const handler = connectNodeAdapter({
    routes: routes({
      db,
      authenticator,
      health,
      notifications,
      dispatcher,
      leaseMillis,
      secrets,
      observations: {
        staleMillis: observationStaleMillis,
        driftGraceMillis: options.driftGraceMillis ?? defaultObservationSettings.driftGraceMillis,
      },
      clusterHealth: { staleMillis: options.clusterHealthStaleMillis ?? defaultClusterHealthSettings.staleMillis },
      autoscaler: options.autoscaler ?? defaultAutoscalerSettings,
    }),
    requestGate: callGate(calls),
    interceptors: [callInterceptor(calls)],
    // Unknown fields and enum names are errors, not silently dropped: a typo must not create an
    // ACTIVE rack when the caller asked for something else.
    jsonOptions: { ignoreUnknownFields: false },
    shutdownSignal: shutdown.signal,
    // Clients and server share a data-center network: compressing costs more CPU than it saves.
    acceptCompression: [],
    fallback(req, res) {
      const path = req.url?.split("?")[0];
      // Liveness: the process answers. Never the database: a replica is not restarted for an outage.
      if (req.method === "GET" && path === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("ok\n");
        return;
      }
      // Readiness: the overall health, which follows the database (database-health.ts).
      if (req.method === "GET" && path === "/readyz") {
        const ready = health.get("") === ServingStatus.SERVING;
        if (ready) {
          res.writeHead(200, { "content-type": "text/plain" });
          res.end("ready\n");
          return;
        }
        // The pool's counts in the detail: a database that is down holds no connection; a wedged
        // pool holds them, or has callers waiting.
        db.poolState()
          .then(
            (pool) => `total=${pool.total} idle=${pool.idle} waiting=${pool.waiting}`,
            () => "unknown",
          )
          .then((pool) => {
            res.writeHead(503, { "content-type": "text/plain" });
            res.end(`not ready: ${databaseWatch?.reason() ?? "starting or shutting down"} (pool: ${pool})\n`);
          });
        return;
      }
      if (req.method === "GET" && path === "/metrics") {
        metrics.render().then(
          (text) => {
            res.writeHead(200, { "content-type": metrics.contentType });
            res.end(text);
          },
          (error: unknown) => {
            log("error", "could not render the metrics", errorFields(error));
            res.writeHead(500, { "content-type": "text/plain" });
            res.end("could not render the metrics\n");
          },
        );
        return;
      }
      if (consoleFiles?.serve(req, res)) return;
      res.writeHead(404, { "content-type": "text/plain" });
      res.end(req.url === "/" && consoleFiles ? "not found: the console is not built (npm run build)\n" : "not found\n");
    },
  });
  const listener = await listen(
    options.host,
    options.port,
    withCors(options.corsOrigins ?? [], handler),
    options.tls && readCertificatePair(options.tls),
  );
  health.set("", ServingStatus.SERVING);
  for (const name of serviceNames) health.set(name, ServingStatus.SERVING);
  databaseWatch = watchDatabase(db, health, serviceNames);
  const stopTracing = tracePoolsPeriodically(db, options.poolTraceMillis);
  const stopRollingUp = rollUpPeriodically(db, options.observationRollupMillis ?? 300_000);
  metrics.observe({
    creationBatches: () => creationBatcher(db).stats,
    pool: () => db.poolState(),
    dispatcher: () => dispatcher.stats,
    fleet: () => readFleetState(db),
    ready: () => health.get("") === ServingStatus.SERVING,
  });
  const url = `${listener.tls ? "https" : "http"}://${options.host.includes(":") ? `[${options.host}]` : options.host}:${listener.port}`;
  log("info", "listening", { url, tls: listener.tls });
  if (!listener.tls && !isLoopback(options.host)) {
    log("warn", "serving clear text on a non-loopback address: bearer tokens cross the network readable; set --tls-cert and --tls-key", {
      host: options.host,
    });
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    port: listener.port,
    db,
    health,
    secrets,
    reloadTls() {
      if (!options.tls) return false;
      try {
        listener.setCertificate(readCertificatePair(options.tls));
      } catch (error) {
        log("error", "kept the TLS certificate in use: the new pair does not load", { error: (error as Error).message });
        return false;
      }
      log("info", "reloaded the TLS certificate; new connections get it", { cert: options.tls.certFile });
      return true;
    },
    close() {
      closing ??= (async () => {
        const stopProbing = databaseWatch?.stop();
        stopTracing();
        health.shutdown();
        shutdown.abort();
        await listener.close(options.shutdownGraceMs ?? 10_000, () => metrics.inFlightCount());
        await dispatcher.stop();
        await stopRollingUp();
        await Promise.all(pendingAudits);
        await stopProbing;
        await notifications.close();
        await closeReadPool();
        await orm.close();
      })();
      return closing;
    },
  };
}

/** Logs `db.poolTrace()` every `everyMs` (nothing when it is absent); returns the function that stops. */
function tracePoolsPeriodically(db: Database, everyMs: number | undefined): () => void {
  if (!everyMs || !(everyMs > 0)) return () => {};
  const timer = setInterval(() => {
    db.poolTrace().then(
      (pools) => log("info", "db pools", pools),
      () => undefined,
    );
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
