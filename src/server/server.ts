// Assembles a running rackplane server from a database URL: ORM (with migrations), use-case
// dependencies, routes, interceptors, the one port, and an orderly shutdown.
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { MikroORM } from "@mikro-orm/postgresql";
import { Database } from "../app/database.js";
import { Authenticator } from "../app/identity.js";
import { openDatabase } from "../persistence/orm.js";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/es/grpc/health/v1/health_pb.js";
import { watchDatabase } from "./database-health.js";
import { HealthStatus } from "./health.js";
import { callGate, callInterceptor } from "./interceptor.js";
import { listen } from "./listen.js";
import { errorFields, log } from "./log.js";
import { Notifications } from "../persistence/notifications.js";
import { Dispatcher } from "../agents/dispatcher.js";
import { renderCreationBatches, RpcMetrics } from "./metrics.js";
import { creationBatcher } from "../app/compute/creation-batch.js";
import { routes, serviceNames } from "./routes.js";

export interface ServerOptions {
  readonly databaseUrl: string;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** How long a job lease lasts without a report (default 30 s). */
  readonly leaseMillis?: number;
  /** How long in-flight requests may take to finish on shutdown. */
  readonly shutdownGraceMs?: number;
  readonly poolSize?: number;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly db: Database;
  readonly health: HealthStatus;
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const orm: MikroORM = await openDatabase(options.databaseUrl, options.poolSize);
  const db = new Database(orm);
  const authenticator = new Authenticator(db);
  const metrics = new RpcMetrics();
  const health = new HealthStatus([["", ServingStatus.NOT_SERVING]]);
  const shutdown = new AbortController();
  const pendingAudits = new Set<Promise<void>>();
  const notifications = new Notifications(options.databaseUrl, (error) =>
    log("warn", "notification listener lost its connection; reconnecting", errorFields(error)),
  );
  await notifications.start();
  const leaseMillis = options.leaseMillis ?? 30_000;
  const dispatcher = new Dispatcher(db, notifications, {
    leaseMillis,
    sweepMillis: Math.max(250, Math.min(5_000, leaseMillis / 4)),
    onError: (error) => log("warn", "job dispatch bookkeeping failed", errorFields(error)),
    // Two fifths of the pool (8 of the default 20): the rest stays free for requests.
    bookkeepingConcurrency: Math.max(1, Math.floor(((options.poolSize ?? 20) * 2) / 5)),
  });
  dispatcher.start();

  const handler = connectNodeAdapter({
    routes: routes({ db, authenticator, health, notifications, dispatcher, leaseMillis }),
    requestGate: callGate({ db, authenticator, metrics, pendingAudits }),
    interceptors: [callInterceptor({ db, authenticator, metrics, pendingAudits })],
    // Unknown fields and enum names are errors, not silently dropped: a typo must not create an
    // ACTIVE rack when the caller asked for something else.
    jsonOptions: { ignoreUnknownFields: false },
    shutdownSignal: shutdown.signal,
    // Clients and server share a data-center network: compressing costs more CPU than it saves.
    acceptCompression: [],
    fallback(req, res) {
      if (req.method === "GET" && req.url?.split("?")[0] === "/metrics") {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
        res.end(metrics.render() + renderCreationBatches(creationBatcher(db).stats));
        return;
      }
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
    },
  });
  const listener = await listen(options.host, options.port, handler);
  health.set("", ServingStatus.SERVING);
  for (const name of serviceNames) health.set(name, ServingStatus.SERVING);
  const stopProbing = watchDatabase(db, health, serviceNames);
  const url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${listener.port}`;
  log("info", "listening", { url });

  let closing: Promise<void> | undefined;
  return {
    url,
    port: listener.port,
    db,
    health,
    close() {
      closing ??= (async () => {
        stopProbing();
        health.shutdown();
        shutdown.abort();
        await listener.close(options.shutdownGraceMs ?? 10_000, () => metrics.inFlightCount());
        await dispatcher.stop();
        await Promise.all(pendingAudits);
        await notifications.close();
        await orm.close();
      })();
      return closing;
    },
  };
}
