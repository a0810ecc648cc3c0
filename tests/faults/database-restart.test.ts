// PostgreSQL stopped and started again under load, with an agent connected. While it is down the
// server says NOT_SERVING and every call fails UNAVAILABLE with a retry hint (never INTERNAL); once it
// is back the server serves again by itself, the agent's stream resumes, and every creation that was
// acknowledged is there and finishes. The database is a cluster of this test's own (the suite's
// shared one must stay up), started again on the same port.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/es/grpc/health/v1/health_pb.js";
import { ComputeService } from "../../gen/es/rackplane/v1/compute_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../src/persistence/embedded-postgres.js";
import { buildCloud, reservationDrift, type Cloud } from "../support/compute.js";
import { startServerProcess, type ServerProcess } from "../support/processes.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let dir = "";
let postgres: EmbeddedDatabase | undefined;
let port = 0;
let replica: ServerProcess | undefined;
let agent: Agent | undefined;

const startPostgres = async () => {
  postgres = await startEmbeddedPostgres({ dir, durable: false, ...(port ? { port } : {}) });
  port = Number(new URL(postgres.url).port);
  return postgres.url;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "rackplane-restart-"));
  const url = await startPostgres();
  replica = await startServerProcess(url, { RACKPLANE_LEASE_SECONDS: "2", RACKPLANE_DB_POOL: "8" });
}, 120_000);
afterAll(async () => {
  await agent?.stop({ graceMs: 0 });
  await replica?.stop();
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it("goes NOT_SERVING and answers UNAVAILABLE while PostgreSQL is down, and recovers by itself with nothing lost", async () => {
  const server = replica!;
  const token = server.adminToken()!;
  const transport = createGrpcTransport({
    baseUrl: server.url,
    interceptors: [bearer(token)],
  });
  const compute = createClient(ComputeService, transport);
  const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
  const status = async () => {
    try {
      return (await health.check({ service: "" })).status;
    } catch {
      return undefined;
    }
  };
  // The cloud is built through an in-process server on the same database, closed before the outage.
  const setup: TestServer = await startTestServer(postgres!.url);
  const cloud: Cloud = await buildCloud(setup, {
    name: "restart",
    hosts: 4,
    cpuAllocationRatio: 8,
    quotaCpu: 100_000n,
    spec: { vcpu: 1, memoryMib: 256n, storageGib: 1n },
  });
  const agentToken = await setup.token(Role.AGENT, "restart-agent");
  await setup.close();
  const streamEnds: string[] = [];
  agent = createSimulatedAgent({
    servers: [server.url.replace("http://", "")],
    token: agentToken,
    agentId: "restart-sim",
    latencyMs: 20,
    concurrency: 8,
    sdk: { backoff: { baseMs: 50, capMs: 500 } },
    log: (_level, message, fields) => {
      if (message === "job stream ended; reconnecting") streamEnds.push(JSON.stringify(fields));
    },
  });
  agent.start();
  expect(await status()).toBe(ServingStatus.SERVING);

  // Load: four sequential clients creating VMs until told to stop.
  const acknowledged: { vm: string; operation: string }[] = [];
  const failures: { code: Code; reason: string; retryHint: boolean }[] = [];
  let loading = true;
  const client = async () => {
    while (loading) {
      try {
        const { virtualMachine, operation } = await compute.createVirtualMachine({
          tenantId: cloud.tenantId,
          target: { case: "groupId", value: cloud.groupId },
          specificationId: cloud.specificationId,
          imageId: cloud.imageId,
        });
        acknowledged.push({ vm: virtualMachine!.id, operation: operation!.id });
      } catch (error) {
        const e = ConnectError.from(error);
        failures.push({
          code: e.code,
          reason: e.findDetails(ErrorInfoSchema)[0]?.reason ?? e.message,
          retryHint: e.findDetails(RetryInfoSchema).length > 0,
        });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  const load = Promise.all(Array.from({ length: 4 }, () => client()));
  await until(async () => acknowledged.length >= 20, 20_000, "creations before the outage");

  await postgres!.stop();
  await until(async () => (await status()) === ServingStatus.NOT_SERVING, 10_000, "health to say NOT_SERVING");
  // Readiness follows the database, liveness does not.
  expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  const failedBefore = failures.length;
  await until(async () => failures.length >= failedBefore + 8, 10_000, "calls to fail while the database is down");
  const duringOutage = failures.slice(failedBefore);

  await startPostgres();
  await until(async () => (await status()) === ServingStatus.SERVING, 30_000, "health to say SERVING again");
  expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  const afterRecovery = acknowledged.length;
  await until(async () => acknowledged.length >= afterRecovery + 20, 30_000, "creations after the restart");
  loading = false;
  await load;

  // While down: UNAVAILABLE with a retry hint. Never INTERNAL, at any time.
  expect(duringOutage.every((f) => f.code === Code.Unavailable && f.retryHint && f.reason === "DATABASE_UNAVAILABLE")).toBe(true);
  expect(failures.filter((f) => f.code === Code.Internal || f.code === Code.Unknown)).toEqual([]);
  expect(failures.every((f) => f.code === Code.Unavailable)).toBe(true);

  // Every acknowledged creation is there, and the agent (whose stream came back) finishes it.
  const check = await startTestServer(postgres!.url);
  try {
    const em = check.server.db.em();
    const [vms] = await em.execute<{ n: number }[]>("select count(*)::int as n from virtual_machine where id = any(array[?]::uuid[])", [
      acknowledged.map((a) => a.vm),
    ]);
    expect(vms!.n).toBe(acknowledged.length);
    await until(
      async () => {
        const [row] = await em.execute<{ n: number }[]>(
          "select count(*)::int as n from operation where id = any(array[?]::uuid[]) and state = 'SUCCEEDED'",
          [acknowledged.map((a) => a.operation)],
        );
        return row!.n === acknowledged.length;
      },
      30_000,
      "every acknowledged creation to succeed",
    );
    expect(agent.stats().connected).toBe(true);
    expect(await reservationDrift(check)).toEqual({ hosts: [], quotas: [], overcommitted: [], overQuota: [] });
  } finally {
    await check.close();
  }
  // The stream ended with the database (UNAVAILABLE, or the connection), never with INTERNAL.
  expect(streamEnds.filter((end) => /INTERNAL|UNKNOWN/.test(end))).toEqual([]);
  expect(server.child.exitCode).toBeNull();
}, 180_000);

it("ends within its shutdown grace period on SIGTERM when PostgreSQL stops answering", async () => {
  // A proxy in front of PostgreSQL that can freeze: connections stay open, nothing comes back, as
  // with a primary that vanished from the network. Every database step of stopping would wait.
  const sockets = new Set<Socket>();
  let frozen = false;
  const proxy = createServer((socket) => {
    sockets.add(socket);
    if (frozen) return;
    const upstream = connect(port, "127.0.0.1");
    sockets.add(upstream);
    socket.pipe(upstream);
    upstream.pipe(socket);
    for (const end of [socket, upstream]) end.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const proxied = new URL(postgres!.tcpUrl);
  proxied.port = String((proxy.address() as AddressInfo).port);
  const stuck = await startServerProcess(proxied.toString(), { RACKPLANE_SHUTDOWN_GRACE_SECONDS: "3" });
  try {
    frozen = true;
    for (const socket of sockets) socket.pause();
    const started = performance.now();
    const code = await stuck.stop("SIGTERM");
    const seconds = (performance.now() - started) / 1000;
    expect(seconds).toBeLessThan(5);
    expect(code).toBe(1);
    expect(stuck.output()).toContain("shutdown took longer than its grace period");
  } finally {
    stuck.child.kill("SIGKILL");
    for (const socket of sockets) socket.destroy();
    proxy.close();
  }
}, 60_000);
