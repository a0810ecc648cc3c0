// A highly available PostgreSQL on one machine, as docs/deployment.md describes it on three: etcd,
// two PostgreSQL 15 nodes under Patroni, and HAProxy sending connections to whichever node Patroni's
// REST API calls primary. All on loopback ports, in a throwaway directory. PostgreSQL refuses to run
// as root, so Patroni (and the PostgreSQL it starts) runs as the `postgres` user when the test is
// root. `npm run test:ha` (scripts/test-ha.sh) installs the Debian packages when they are missing.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as connectSocket, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export const postgresBin = "/usr/lib/postgresql/15/bin";
const scope = "rackplane-ha";

interface Daemon {
  readonly name: string;
  readonly child: ChildProcess;
  output: string;
}

export interface PatroniNode {
  readonly name: string;
  readonly port: number;
  readonly restPort: number;
  readonly dataDir: string;
  readonly configFile: string;
}

export interface HaCluster {
  /** The URL through HAProxy, to the current primary, of the `rackplane` database. */
  readonly url: string;
  /** The URL through HAProxy to a streaming replica (Patroni's `GET /replica`), for read routing. */
  readonly readUrl: string;
  readonly nodes: readonly PatroniNode[];
  /** The node Patroni's REST API calls primary now, if any. */
  primary(): Promise<PatroniNode | undefined>;
  /** Waits until a node is primary and a write through HAProxy succeeds; returns that node. */
  waitForPrimary(timeoutMs: number): Promise<PatroniNode>;
  /** A planned switchover to the other node, through Patroni's REST API. */
  switchover(from: PatroniNode, to: PatroniNode): Promise<void>;
  /** SIGKILL to the postmaster of `node` (Patroni itself lives on). */
  killPostgres(node: PatroniNode): void;
  /** Everything the daemons wrote, for a failure's report. */
  logs(): string;
  /** For a failure's report: each node's role, synchronous standby setting, replication and
   * sessions of the `rackplane` database (asked directly, not through HAProxy), and HAProxy's
   * servers and sessions. */
  activity(): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const value = await probe().catch((error: unknown) => {
      last = error;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The uid and gid to run PostgreSQL as: the `postgres` user's when we are root, ours otherwise. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
  return { uid, gid };
}

/** Children still running when the test process goes, however it goes. */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export async function startHaCluster(): Promise<HaCluster> {
  for (const binary of ["/usr/bin/patroni", "/usr/bin/etcd", "/usr/sbin/haproxy", `${postgresBin}/postgres`]) {
    if (!existsSync(binary)) throw new Error(`${binary} is missing: run the test with 'npm run test:ha', which installs it`);
  }
  const dir = mkdtempSync(join(tmpdir(), "rackplane-ha-"));
  // The postgres user must reach its data directories under this one.
  chmodSync(dir, 0o755);
  const user = postgresUser();
  const daemons: Daemon[] = [];
  const start = (name: string, command: string, args: string[], asPostgres = false): Daemon => {
    const child = spawn(command, args, {
      cwd: dir,
      env: { ...process.env, HOME: dir, LANG: "C.UTF-8", LC_ALL: "C.UTF-8" },
      stdio: ["ignore", "pipe", "pipe"],
      ...(asPostgres && user ? user : {}),
    });
    const daemon: Daemon = { name, child, output: "" };
    child.stdout!.on("data", (chunk) => (daemon.output += chunk));
    child.stderr!.on("data", (chunk) => (daemon.output += chunk));
    running.add(child);
    child.once("exit", () => running.delete(child));
    daemons.push(daemon);
    return daemon;
  };

  try {
    return await bringUp(dir, user, start, daemons);
  } catch (error) {
    const logs = daemons.map((daemon) => `==== ${daemon.name}\n${readable(daemon.output)}`).join("\n");
    await stopAll(dir, daemons, 0);
    throw new Error(`${(error as Error).message}\n${logs}`);
  }
}

async function bringUp(
  dir: string,
  user: { uid: number; gid: number } | undefined,
  start: (name: string, command: string, args: string[], asPostgres?: boolean) => Daemon,
  daemons: Daemon[],
): Promise<HaCluster> {
  const etcdClient = await freePort();
  const etcdPeer = await freePort();
  start("etcd", "/usr/bin/etcd", [
    "--name=ha",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-cluster=ha=http://127.0.0.1:${etcdPeer}`,
  ]);
  await until("etcd", 20_000, async () => ((await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok ? true : undefined));

  const nodes: PatroniNode[] = [];
  for (const name of ["pg1", "pg2"]) {
    const node: PatroniNode = {
      name,
      port: await freePort(),
      restPort: await freePort(),
      dataDir: join(dir, name, "data"),
      configFile: join(dir, `${name}.yml`),
    };
    // The node's own directory (its data directory, socket and pgpass inside), the postgres user's.
    const home = join(dir, name);
    mkdirSync(home, { mode: 0o700 });
    if (user) chownSync(home, user.uid, user.gid);
    writeFileSync(node.configFile, patroniConfig(node, etcdClient, home));
    nodes.push(node);
  }
  // The first node bootstraps the cluster; the second then clones it as a replica.
  start(nodes[0]!.name, "/usr/bin/patroni", [nodes[0]!.configFile], true);
  await until("the first node to lead", 60_000, async () =>
    (await fetch(`http://127.0.0.1:${nodes[0]!.restPort}/primary`)).ok ? true : undefined,
  );
  start(nodes[1]!.name, "/usr/bin/patroni", [nodes[1]!.configFile], true);

  const proxyPort = await freePort();
  const replicaPort = await freePort();
  const haproxyConfig = join(dir, "haproxy.cfg");
  writeFileSync(
    haproxyConfig,
    [
      "global",
      "  maxconn 400",
      // For a failure's report: HAProxy's view of the servers and of each session.
      `  stats socket ${join(dir, "haproxy.sock")} mode 600 level admin`,
      "defaults",
      "  mode tcp",
      "  timeout connect 2s",
      "  timeout client 30m",
      "  timeout server 30m",
      "  timeout check 1s",
      "listen postgres_primary",
      `  bind 127.0.0.1:${proxyPort}`,
      "  option httpchk GET /primary",
      "  http-check expect status 200",
      // Quick checks; a node marked down has its sessions cut, so no client stays on a demoted primary.
      "  default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions",
      ...nodes.map((node) => `  server ${node.name} 127.0.0.1:${node.port} maxconn 200 check port ${node.restPort}`),
      // The standbys, for DATABASE_READ_URL (docs/deployment.md, "Read routing").
      "listen postgres_replicas",
      `  bind 127.0.0.1:${replicaPort}`,
      "  option httpchk GET /replica",
      "  http-check expect status 200",
      "  default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions",
      ...nodes.map((node) => `  server ${node.name} 127.0.0.1:${node.port} maxconn 200 check port ${node.restPort}`),
      "",
    ].join("\n"),
  );
  start("haproxy", "/usr/sbin/haproxy", ["-db", "-f", haproxyConfig]);

  const proxyUrl = (database: string) => `postgres://postgres:postgres@127.0.0.1:${proxyPort}/${database}`;
  const query = async (database: string, sql: string) => {
    const client = new pg.Client({ connectionString: proxyUrl(database), connectionTimeoutMillis: 5_000 });
    client.on("error", () => undefined);
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  await until("a primary through HAProxy", 30_000, async () => ((await query("postgres", "select 1")) ? true : undefined));
  await until("the rackplane database", 30_000, async () => {
    const { rowCount } = await query("postgres", "select 1 from pg_database where datname = 'rackplane'");
    if (rowCount === 0) await query("postgres", "create database rackplane");
    return true;
  });
  await until("the replica to stream as the synchronous standby", 60_000, async () => {
    const { rows } = await query("postgres", "select count(*)::int as n from pg_stat_replication where sync_state = 'sync'");
    return rows[0].n > 0 ? true : undefined;
  });

  const primary = async () => {
    for (const node of nodes) {
      const response = await fetch(`http://127.0.0.1:${node.restPort}/primary`).catch(() => undefined);
      if (response?.ok) return node;
    }
    return undefined;
  };
  return {
    url: proxyUrl("rackplane"),
    readUrl: `postgres://postgres:postgres@127.0.0.1:${replicaPort}/rackplane`,
    nodes,
    primary,
    async waitForPrimary(timeoutMs) {
      return until("a writable primary through HAProxy", timeoutMs, async () => {
        const { rows } = await query("rackplane", "select not pg_is_in_recovery() as writable");
        return rows[0].writable ? primary() : undefined;
      });
    },
    async switchover(from, to) {
      // Patroni refuses (412) until it has recorded the candidate as the synchronous standby.
      await until("Patroni to accept the switchover", 30_000, async () => {
        const response = await fetch(`http://127.0.0.1:${from.restPort}/switchover`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ leader: from.name, candidate: to.name }),
        });
        if (!response.ok) throw new Error(`switchover refused: ${response.status} ${await response.text()}`);
        return true;
      });
    },
    killPostgres(node) {
      const pid = Number(readFileSync(join(node.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
      process.kill(pid, "SIGKILL");
    },
    logs: () => daemons.map((daemon) => `==== ${daemon.name}\n${readable(daemon.output)}`).join("\n"),
    async activity() {
      const reports = await Promise.all(
        nodes.map((node) => nodeActivity(node).catch((error: unknown) => `==== ${node.name}: ${String(error)}`)),
      );
      const proxy = await Promise.all(
        ["show servers state", "show sess"].map((command) =>
          haproxyCommand(join(dir, "haproxy.sock"), command).catch((error: unknown) => `${command}: ${String(error)}`),
        ),
      );
      return [...reports, `==== haproxy\n${proxy.join("\n")}`].join("\n");
    },
    stop: () => stopAll(dir, daemons, 20_000),
  };
}

/** One node's state, asked on its own port. */
async function nodeActivity(node: PatroniNode): Promise<string> {
  const client = new pg.Client({
    connectionString: `postgres://postgres:postgres@127.0.0.1:${node.port}/postgres`,
    connectionTimeoutMillis: 3_000,
    query_timeout: 3_000,
  });
  client.on("error", () => undefined);
  await client.connect();
  try {
    const { rows: role } = await client.query(
      "select pg_is_in_recovery() as standby, current_setting('synchronous_standby_names') as sync_names",
    );
    const { rows: replication } = await client.query("select application_name, state, sync_state from pg_stat_replication");
    const { rows: sessions } = await client.query(
      `select pid, application_name, client_port, state, wait_event_type, wait_event,
              round(extract(epoch from now() - backend_start)) as age_s,
              round(extract(epoch from now() - xact_start)) as xact_s,
              round(extract(epoch from now() - state_change)) as state_s, left(query, 80) as query
         from pg_stat_activity where datname = 'rackplane' order by application_name, state`,
    );
    return [
      `==== ${node.name} ${JSON.stringify(role[0])} replication ${JSON.stringify(replication)}`,
      ...sessions.map((row) => JSON.stringify(row)),
    ].join("\n");
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** One command on HAProxy's stats socket, its answer. */
function haproxyCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = "";
    const connection = connectSocket(socket, () => connection.end(`${command}\n`));
    connection.setTimeout(3_000, () => connection.destroy(new Error("no answer in 3 s")));
    connection.on("data", (chunk) => (answer += chunk));
    connection.on("end", () => resolve(`${command}:\n${answer}`));
    connection.on("error", reject);
  });
}

/** Stops every daemon (Patroni stops its PostgreSQL on SIGTERM) and, past `graceMs`, kills what is
 * left, including a PostgreSQL whose Patroni had to be killed (found by its pid file). */
async function stopAll(dir: string, daemons: readonly Daemon[], graceMs: number): Promise<void> {
  for (const daemon of [...daemons].reverse()) daemon.child.kill("SIGTERM");
  const deadline = Date.now() + graceMs;
  for (const daemon of daemons) {
    while (daemon.child.exitCode === null && daemon.child.signalCode === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    daemon.child.kill("SIGKILL");
  }
  for (const name of ["pg1", "pg2"]) {
    try {
      process.kill(Number(readFileSync(join(dir, name, "data", "postmaster.pid"), "utf8").split("\n")[0]), "SIGKILL");
    } catch {
      // Not running: nothing to stop.
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A daemon's output without the noise: Patroni logs a traceback each time HAProxy's check hangs up
 * before reading the whole answer. */
function readable(output: string): string {
  const lines = output.split("\n");
  const kept = lines.filter(
    (line) => !/^(\s|Traceback|ConnectionResetError|BrokenPipeError|$)|Exception happened during processing|WARNING: Traceback/.test(line),
  );
  return kept.slice(-60).join("\n");
}

function patroniConfig(node: PatroniNode, etcdPort: number, home: string): string {
  return `scope: ${scope}
name: ${node.name}
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:${node.restPort}
  connect_address: 127.0.0.1:${node.restPort}
etcd3:
  hosts: 127.0.0.1:${etcdPort}
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 1
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    # A commit is acknowledged once the standby has it too: a failover loses no acknowledged write.
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 5
        max_replication_slots: 5
        max_connections: 100
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${node.port}
  connect_address: 127.0.0.1:${node.port}
  data_dir: ${node.dataDir}
  bin_dir: ${postgresBin}
  # A spread checkpoint would hold the clone back for minutes.
  basebackup:
    - checkpoint: fast
  pgpass: ${join(home, "pgpass")}
  authentication:
    replication:
      username: replicator
      password: replicator
    superuser:
      username: postgres
      password: postgres
    rewind:
      username: postgres
      password: postgres
  parameters:
    unix_socket_directories: ${home}
    fsync: "off"
    synchronous_commit: "on"
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
`;
}
