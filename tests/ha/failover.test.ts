// The fleet on highly available PostgreSQL (docs/deployment.md), failover tested: etcd, two
// PostgreSQL nodes under Patroni and HAProxy on loopback ports (tests/support/ha-cluster.ts), two
// rackplane replicas on HAProxy's address and a simulated agent connected to both; the second
// replica also reads Get and List calls from the standby through HAProxy (DATABASE_READ_URL). Under
// mixed load (creations, lifecycle verbs, cancels, lists and gets, the agent's reports) and a client
// that retries creations with the same request id, first a planned switchover, then the primary's PostgreSQL killed with
// SIGKILL. No call may fail with anything but UNAVAILABLE (never INTERNAL), no acknowledged write may
// be lost, no retried request id may create twice, every operation must end (no job lost), no job
// may run or complete twice past its fencing, no reservation may leak, the agent's stream must
// resume, readiness must follow the database, no pool connection may stay checked out (leaked),
// and SIGTERM must still stop each replica within its grace period. Prints the recovery times and
// requires each within 15 s of the database taking writes again. The replicas log their pools'
// state every second (RACKPLANE_DB_TRACE_SECONDS); a failure prints it with each node's sessions.
//
// `npm run test:ha` (scripts/test-ha.sh installs patroni, etcd-server, haproxy and postgresql-15 when
// missing); not part of `npm test`.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { buildCloud, reservationDrift, tenantsWithQuota, type Cloud } from "../support/compute.js";
import { type HaCluster, startHaCluster } from "../support/ha-cluster.js";
import { loadClients, runMixedLoad, Tally, type LoadClients } from "../support/mixed-load.js";
import { startServerProcess, type ServerProcess } from "../support/processes.js";
import { startTestServer, type TestServer } from "../support/server.js";

const graceSeconds = 10;
let cluster: HaCluster | undefined;
let replicas: ServerProcess[] = [];
let agent: Agent | undefined;

beforeAll(async () => {
  cluster = await startHaCluster();
  // Started together: the migrations run once, under their advisory lock.
  replicas = await Promise.all(
    [0, 1].map((i) =>
      // Each replica's sessions named, for pg_stat_activity in a failure's report.
      startServerProcess(`${cluster!.url}?application_name=rackplane-${i}`, {
        // The second replica reads Get and List calls from the standby (read routing), which the
        // switchover promotes: its read sessions are cut and its reads fall back to the primary
        // until HAProxy sends them to the demoted node.
        ...(i === 1 ? { DATABASE_READ_URL: `${cluster!.readUrl}?application_name=rackplane-${i}-read` } : {}),
        RACKPLANE_LEASE_SECONDS: "5",
        RACKPLANE_DB_POOL: "10",
        RACKPLANE_SHUTDOWN_GRACE_SECONDS: String(graceSeconds),
        // The pools' state every second in the log, for a failure's report.
        RACKPLANE_DB_TRACE_SECONDS: "1",
      }),
    ),
  );
}, 240_000);
afterAll(async () => {
  await agent?.stop({ graceMs: 0 });
  await Promise.all(replicas.map((replica) => replica.stop("SIGKILL")));
  await cluster?.stop();
}, 60_000);

/** The time of a replica's JSON log line (its `time` field), 0 when it has none. */
function lineTime(line: string): number {
  const time = /"time":"([^"]+)"/.exec(line)?.[1];
  return time ? Date.parse(time) : 0;
}

/** The last trace of the primary pool in a replica's log. */
function lastPoolTrace(output: string): { longHeld: { heldMs: number; query?: string }[] } | undefined {
  const line = output
    .split("\n")
    .filter((each) => each.includes('"message":"db pools"'))
    .at(-1);
  return line ? (JSON.parse(line) as { primary: { longHeld: { heldMs: number; query?: string }[] } }).primary : undefined;
}

/** The most callers waiting for the primary pool, and the longest hold, in the trace after `from`. */
function poolPeaks(output: string, from: number): { waiting: number; heldMs: number } {
  let waiting = 0;
  let heldMs = 0;
  for (const line of output.split("\n")) {
    if (!line.includes('"message":"db pools"') || lineTime(line) < from) continue;
    const { primary } = JSON.parse(line) as { primary: { waiting: number; longHeld: { heldMs: number }[] } };
    waiting = Math.max(waiting, primary.waiting);
    heldMs = Math.max(heldMs, ...primary.longHeld.map((held) => held.heldMs));
  }
  return { waiting, heldMs };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, timeoutMs: number, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Readiness of each replica, sampled every 200 ms, with the time of each sample. */
class ReadinessLog {
  readonly samples: { at: number; replica: number; ready: boolean }[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(urls: readonly string[]) {
    this.done = (async () => {
      while (this.running) {
        await Promise.all(
          urls.map(async (url, replica) => {
            const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) })
              .then((response) => response.status === 200)
              .catch(() => false);
            this.samples.push({ at: Date.now(), replica, ready });
          }),
        );
        await sleep(200);
      }
    })();
  }

  /** Whether `replica` was seen not ready after `from`, and ready again after that. */
  followed(replica: number, from: number): { wentDown: boolean; cameBack: boolean } {
    const after = this.samples.filter((s) => s.replica === replica && s.at >= from);
    const down = after.findIndex((s) => !s.ready);
    return { wentDown: down >= 0, cameBack: down >= 0 && after.slice(down).some((s) => s.ready) };
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** Creates unnamed VMs one after another, each with a request id of its own, retrying a failed call
 * with the same id until it succeeds: after a failover the retry must find the first result, not
 * create again. Records when each creation was acknowledged. */
async function retryingCreator(
  clients: readonly LoadClients[],
  cloud: Cloud,
  tenantId: string,
  until: () => boolean,
  onCreated: (id: string) => void = () => {},
): Promise<{ acknowledged: Map<string, string>; retries: number; unexpected: string[]; okTimes: number[] }> {
  const acknowledged = new Map<string, string>();
  const unexpected: string[] = [];
  const okTimes: number[] = [];
  let retries = 0;
  for (let n = 0; !until(); n++) {
    const requestId = `ha-retry-${n}`;
    for (let attempt = 0; ; attempt++) {
      const api = clients[(n + attempt) % clients.length]!;
      try {
        const { virtualMachine } = await api.compute.createVirtualMachine({
          tenantId,
          target: { case: "groupId", value: cloud.groupId },
          specificationId: cloud.specificationId,
          imageId: cloud.imageId,
          requestId,
        });
        acknowledged.set(requestId, virtualMachine!.id);
        okTimes.push(Date.now());
        onCreated(virtualMachine!.id);
        break;
      } catch (error) {
        const e = ConnectError.from(error);
        if (e.code !== Code.Unavailable) unexpected.push(`${requestId}: ${Code[e.code]} ${e.message}`);
        else if (e.findDetails(RetryInfoSchema).length === 0 && e.findDetails(ErrorInfoSchema).length > 0) {
          unexpected.push(`${requestId}: UNAVAILABLE without a retry hint: ${e.message}`);
        }
        retries++;
        if (attempt > 300) throw new Error(`${requestId} never succeeded: ${e.message}`);
        await sleep(100);
      }
    }
    await sleep(100);
  }
  return { acknowledged, retries, unexpected, okTimes };
}

let stopLoad = () => {};
let currentTally: Tally | undefined;

it("survives a switchover and a killed primary under load, losing nothing", async () => {
  await failover().catch(async (error: unknown) => {
    // What the replicas and the database nodes said, to tell a real failure from a slow machine.
    // The database first, as it is at the moment of failure.
    const activity = await cluster?.activity().catch((e: unknown) => `activity: ${String(e)}`);
    stopLoad();
    console.error("ha failover failed:", currentTally?.summary(), currentTally?.unexpected.slice(0, 20));
    for (const [i, replica] of replicas.entries()) {
      const lines = replica.output().split("\n");
      // The readiness probe's lines carry the pool's counts (held, idle, waiting).
      const probe = lines.filter((line) => /"message":"database /.test(line)).map((line) => line.replace(/,"stack":"[^"]*"/, ""));
      // The pools' state each second (connections held, for how long, on what statement) since a
      // minute and a half before the failure.
      const since = Date.now() - 90_000;
      const pools = lines.filter((line) => line.includes('"message":"db pools"') && lineTime(line) >= since);
      const rest = lines.filter((line) => !line.includes('"message":"db pools"')).join("\n");
      console.error(`==== replica ${i}\n${probe.join("\n")}\n==== pools\n${pools.join("\n")}\n==== log\n${rest.slice(-6_000)}`);
    }
    console.error(activity);
    console.error(cluster?.logs());
    throw error;
  });
}, 600_000);

async function failover(): Promise<void> {
  const ha = cluster!;
  const setup: TestServer = await startTestServer(ha.url, { leaseMillis: 5_000 });
  let cloud: Cloud;
  let tenants: string[];
  let retryTenant: string;
  let agentToken: string;
  try {
    cloud = await buildCloud(setup, {
      name: "ha",
      hosts: 8,
      cpuAllocationRatio: 16,
      quotaCpu: 100_000n,
      spec: { vcpu: 1, memoryMib: 256n, storageGib: 1n },
    });
    tenants = [cloud.tenantId, ...(await tenantsWithQuota(setup, cloud, "ha-mixer", 3, 100_000n))];
    retryTenant = (await tenantsWithQuota(setup, cloud, "ha-retry", 1, 100_000n))[0]!;
    agentToken = await setup.token(Role.AGENT, "ha-agent");
  } finally {
    // Set-up only: the replicas under test are the two processes.
    await setup.close();
  }
  const token = replicas[0]!.adminToken() ?? replicas[1]!.adminToken();
  expect(token).toBeDefined();
  const clients = replicas.map((replica) => loadClients(replica.url, token!));

  const streamEnds: string[] = [];
  // Every run of a job's work that succeeded, and every final report the server applied, by job:
  // across the failovers neither may happen twice for one job (a lease's fencing token keeps a
  // stale holder out; the SDK reports a finished job's stored outcome instead of redoing it).
  const executions = new Map<string, number>();
  const completions = new Map<string, number>();
  const successes = new Map<string, number>();
  // Final reports the agent had to send again (the call failed), and repeats the server answered
  // "already applied": a commit whose answer the failover cut off.
  const reportFailures = new Map<string, number>();
  const repeatedSuccesses = new Map<string, number>();
  const count = (counts: Map<string, number>, jobId: unknown) => counts.set(String(jobId), (counts.get(String(jobId)) ?? 0) + 1);
  agent = createSimulatedAgent({
    servers: replicas.map((replica) => replica.url.replace("http://", "")),
    token: agentToken!,
    agentId: "ha-sim",
    latencyMs: 30,
    concurrency: 8,
    sdk: { backoff: { baseMs: 100, capMs: 1_000 } },
    log: (_level, message, fields) => {
      if (message === "job stream ended; reconnecting") streamEnds.push(JSON.stringify(fields));
      if (message === "job finished" && fields?.state === "SUCCEEDED") count(executions, fields.jobId);
      if (message === "job reported" && fields?.applied === true) {
        count(completions, fields.jobId);
        if (fields.state === "SUCCEEDED") count(successes, fields.jobId);
      }
      if (message === "job reported" && fields?.applied === false && fields.state === "SUCCEEDED") count(repeatedSuccesses, fields.jobId);
      if (message === "final report failed; retrying") count(reportFailures, fields?.jobId);
    },
  });
  agent.start();
  await until("the agent to connect", 20_000, async () => agent!.stats().connected);

  const readiness = new ReadinessLog(replicas.map((replica) => replica.url));
  // Failover of either kind: only UNAVAILABLE is tolerated, and it must carry its retry hint.
  const tally = new Tally((error) => error.code === Code.Unavailable && error.findDetails(RetryInfoSchema).length > 0);
  let loading = true;
  // Rounds of five seconds, so the load runs exactly as long as the test needs it.
  const mixed = (async () => {
    while (loading) {
      await runMixedLoad({ clients, cloud: cloud!, tenants: tenants!, tally, until: Date.now() + 5_000, namedClients: 4, burstClients: 1 });
    }
  })();
  const created: { id: string; at: number }[] = [];
  const retrying = retryingCreator(
    clients,
    cloud!,
    retryTenant!,
    () => !loading,
    (id) => created.push({ id, at: Date.now() }),
  );
  // Reads on the replica with read routing: lists, and gets of VMs acknowledged a while ago (a
  // standby may lag a moment behind a fresh one). Only UNAVAILABLE with a retry hint is tolerated.
  const reading = (async () => {
    while (loading) {
      await tally.call("ListVirtualMachines", clients[1]!.compute.listVirtualMachines({ pageSize: 20 }));
      const settled = created.filter((vm) => vm.at < Date.now() - 2_000);
      const id = settled[Math.floor(Math.random() * settled.length)]?.id;
      if (id) await tally.call("GetVirtualMachine", clients[1]!.compute.getVirtualMachine({ id }));
      await sleep(100);
    }
  })();
  stopLoad = () => {
    loading = false;
  };
  currentTally = tally;
  await until("load before the switchover", 90_000, async () => tally.get("CreateVirtualMachine OK") >= 10);

  // 1. A planned switchover.
  const before = await ha.waitForPrimary(10_000);
  const target = ha.nodes.find((node) => node !== before)!;
  const switchStarted = Date.now();
  await ha.switchover(before, target);
  await until("Patroni to promote the candidate", 60_000, async () => (await ha.primary()) === target);
  const switchPromoted = Date.now();
  await ha.waitForPrimary(60_000);
  await sleep(10_000);

  // 2. The primary's PostgreSQL killed outright.
  const primary = await ha.waitForPrimary(30_000);
  const killedAt = Date.now();
  ha.killPostgres(primary);
  await sleep(1_000);
  const recovered = await ha.waitForPrimary(90_000);
  const writableAgain = Date.now();
  await until("both replicas ready again", 60_000, async () =>
    (await Promise.all(replicas.map(async (r) => (await fetch(`${r.url}/readyz`)).status === 200))).every(Boolean),
  );
  const readyAgain = Date.now();
  await sleep(10_000);

  loading = false;
  const retried = await retrying;
  await mixed;
  await reading;
  await readiness.stop();

  // Recovery, from the moment the database takes writes again (Patroni promoted the candidate, or
  // restarted the killed primary): the first retried creation that succeeded, and both replicas
  // ready. Target: 15 s.
  const firstCreationAfter = (at: number) => Math.min(...retried.okTimes.filter((ok) => ok > at)) - at;
  const recovery = {
    switchover: { firstCreationAfterPromotionMs: firstCreationAfter(switchPromoted) },
    kill: { firstCreationAfterWritableMs: firstCreationAfter(writableAgain), bothReadyAfterWritableMs: readyAgain - writableAgain },
  };
  console.info("ha failover:", {
    switchover: { promotedAfterMs: switchPromoted - switchStarted, to: target.name },
    kill: {
      node: primary.name,
      writableAfterMs: writableAgain - killedAt,
      readyAfterMs: readyAgain - killedAt,
      primaryNow: recovered.name,
    },
    recovery,
    firstRetriedCreationAfterKillMs: firstCreationAfter(killedAt),
    retries: retried.retries,
    // Each replica's primary pool after the kill, from its trace: the most callers waiting and the
    // longest a connection was held.
    poolsAfterKill: replicas.map((replica) => poolPeaks(replica.output(), killedAt)),
    tally: tally.summary(),
  });

  expect(recovery.switchover.firstCreationAfterPromotionMs).toBeLessThanOrEqual(15_000);
  expect(recovery.kill.firstCreationAfterWritableMs).toBeLessThanOrEqual(15_000);
  expect(recovery.kill.bothReadyAfterWritableMs).toBeLessThanOrEqual(15_000);

  // The second replica's reads went to its read pool (and the reads succeeded: see the tally).
  expect(tally.get("ListVirtualMachines OK")).toBeGreaterThan(10);
  expect(tally.get("GetVirtualMachine OK")).toBeGreaterThan(10);
  expect(replicas[1]!.output()).toMatch(/"message":"db pools".*"read":\{"total":[1-9]/);

  // No connection stayed checked out through the failovers: with the load stopped, no replica's
  // pool holds one for longer than a few seconds (a leaked connection is held for good).
  await sleep(2_000);
  expect(replicas.map((replica) => lastPoolTrace(replica.output())?.longHeld.filter((held) => held.heldMs > 5_000))).toEqual([[], []]);

  // No call failed with anything but UNAVAILABLE-with-a-retry-hint; no INTERNAL in either replica.
  expect(tally.unexpected).toEqual([]);
  expect(retried.unexpected).toEqual([]);
  for (const replica of replicas) expect(replica.output()).not.toMatch(/"code":"(INTERNAL|UNKNOWN)"/);
  // Readiness followed the database when it went away, and came back.
  for (const replica of [0, 1]) expect(readiness.followed(replica, killedAt)).toEqual({ wentDown: true, cameBack: true });

  const check = await startTestServer(ha.url, { leaseMillis: 5_000 });
  try {
    const em = check.server.db.em();
    // Every acknowledged operation is there, and ends (its job was neither lost nor stuck). A cancel
    // answers with the operation it cancelled: the same id twice.
    const acknowledgedOperations = [...new Set(tally.operationIds)];
    const [operations] = await em.execute<{ n: number }[]>("select count(*)::int as n from operation where id = any(array[?]::uuid[])", [
      acknowledgedOperations,
    ]);
    expect(operations!.n).toBe(acknowledgedOperations.length);
    await until("every operation to end", 120_000, async () => {
      const [row] = await em.execute<{ open: number }[]>(
        "select count(*)::int as open from operation where state in ('PENDING', 'RUNNING')",
      );
      return row!.open === 0;
    });
    // One VM per acknowledged request id, each the one its (possibly retried) call returned.
    const vms = await em.execute<{ id: string }[]>("select id from virtual_machine where tenant_id = ?", [retryTenant!]);
    expect(new Set(vms.map((vm) => vm.id))).toEqual(new Set(retried.acknowledged.values()));
    expect(retried.acknowledged.size).toBeGreaterThan(20);
    expect(await reservationDrift(check)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
    // No job ran twice past its fencing: each job's work succeeded at most once and the server
    // applied at most one final report for it; every job the database calls SUCCEEDED is exactly
    // one successful run whose report was applied once.
    const jobs = await em.execute<{ id: string; state: string; attempt: number }[]>("select id, state, attempt from job");
    const twice = (counts: Map<string, number>) => [...counts].filter(([, n]) => n > 1);
    expect(twice(executions)).toEqual([]);
    expect(twice(completions)).toEqual([]);
    const succeeded = jobs.filter((job) => job.state === "SUCCEEDED").map((job) => job.id);
    // Its report was acknowledged as applied, or — when the failover cut the answer to the call
    // that committed it — the call failed, and the agent's repeat was answered "already applied".
    const reportedOnce = (id: string) =>
      successes.get(id) === 1 || (!successes.has(id) && (reportFailures.get(id) ?? 0) > 0 && (repeatedSuccesses.get(id) ?? 0) > 0);
    expect(
      succeeded
        .filter((id) => executions.get(id) !== 1 || !reportedOnce(id))
        .map((id) => ({
          id,
          runs: executions.get(id) ?? 0,
          applied: successes.get(id) ?? 0,
          failedReports: reportFailures.get(id) ?? 0,
          repeats: repeatedSuccesses.get(id) ?? 0,
        })),
    ).toEqual([]);
    expect(succeeded.length).toBeGreaterThan(20);
    console.info("ha failover jobs:", {
      jobs: jobs.length,
      succeeded: succeeded.length,
      successfulRuns: [...executions.values()].reduce((a, b) => a + b, 0),
      appliedCompletions: [...completions.values()].reduce((a, b) => a + b, 0),
      redeliveredAttempts: jobs.filter((job) => job.attempt > 1).length,
      reportsAppliedUnacknowledged: succeeded.filter((id) => !successes.has(id)).length,
    });
  } finally {
    await check.close();
  }
  // The agent's stream came back; it ended only with the database (never INTERNAL).
  expect(agent.stats().connected).toBe(true);
  expect(streamEnds.filter((end) => /INTERNAL|UNKNOWN/.test(end))).toEqual([]);
  // Each ended stream's log line names the agent's principal, unless the database was down when the
  // stream opened: then the token could not be looked up and the call ended UNAVAILABLE unnamed.
  const streamLines = replicas.flatMap((replica) =>
    replica
      .output()
      .split("\n")
      .filter((line) => line.includes('"message":"rpc","method":"rackplane.v1.AgentService/StreamJobs"')),
  );
  expect(streamLines.filter((line) => line.includes('"principal":"ha-agent"')).length).toBeGreaterThan(0);
  expect(streamLines.filter((line) => !line.includes('"principal":"ha-agent"') && !line.includes('"code":"UNAVAILABLE"'))).toEqual([]);

  // SIGTERM ends each replica within its grace period.
  for (const replica of replicas) {
    const started = performance.now();
    await replica.stop("SIGTERM");
    expect((performance.now() - started) / 1000).toBeLessThan(graceSeconds + 1);
  }
  replicas = [];
}
