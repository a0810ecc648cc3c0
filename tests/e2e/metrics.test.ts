// /metrics, /healthz and /readyz of a real server. The exposition is parsed line by line against the
// Prometheus text format (HELP and TYPE before samples, names and label sets well formed, values
// numbers) and must hold the families an operator alerts on, with values that follow what happened:
// a job queued with no agent for its kind, a placement refused, the pool in use.
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildCloud, type Cloud } from "../support/compute.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let cloud: Cloud;
beforeAll(async () => {
  t = await startTestServer();
  cloud = await buildCloud(t, {
    name: "metrics",
    hosts: 1,
    cpuAllocationRatio: 1,
    quotaCpu: 100_000n,
    spec: { vcpu: 1, memoryMib: 256n, storageGib: 1n },
  });
});
afterAll(() => t.close());

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the text exposition format 0.0.4; throws on the first line that breaks it. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples: Sample[] = [];
  const metricName = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const labelPair = `([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`;
  const sampleLine = new RegExp(`^(${metricName})(?:\\{((?:${labelPair})(?:,${labelPair})*,?)?\\})? (\\S+)(?: -?\\d+)?$`);
  expect(text.endsWith("\n")).toBe(true);
  for (const line of text.slice(0, -1).split("\n")) {
    // The format ignores empty lines (prom-client puts one between families).
    if (line === "") continue;
    const help = new RegExp(`^# HELP (${metricName}) .+$`).exec(line);
    const type = new RegExp(`^# TYPE (${metricName}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (help) {
      if (helped.has(help[1]!)) throw new Error(`HELP twice for ${help[1]}`);
      helped.add(help[1]!);
      continue;
    }
    if (type) {
      if (types.has(type[1]!)) throw new Error(`TYPE twice for ${type[1]}`);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const sample = sampleLine.exec(line);
    if (!sample) throw new Error(`not a valid exposition line: ${JSON.stringify(line)}`);
    const [, name, labelText = "", ...rest] = sample;
    const valueText = rest.at(-1)!;
    const value = /^(NaN|[+-]Inf)$/.test(valueText) ? Number(valueText.replace("Inf", "Infinity")) : Number(valueText);
    if (valueText === "" || (Number.isNaN(value) && valueText !== "NaN")) throw new Error(`bad value in ${JSON.stringify(line)}`);
    const family = [...types.keys()].find((f) => name === f || new RegExp(`^${f}_(bucket|sum|count|total|created)$`).test(name!));
    if (!family) throw new Error(`sample before its TYPE: ${line}`);
    if (!helped.has(family)) throw new Error(`family without HELP: ${family}`);
    const labels = Object.fromEntries([...labelText.matchAll(new RegExp(labelPair, "g"))].map((m) => [m[1]!, m[2]!]));
    samples.push({ name: name!, labels, value });
  }
  return { types, samples };
}

const scrape = async () => {
  const response = await fetch(`${t.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
};
const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

it("exposes well-formed families an operator can alert on, following what happened", async () => {
  const compute = t.compute();
  // A VM creation queues a job no agent takes; a second one finds no capacity left on the one host.
  await compute.createVirtualMachine({
    tenantId: cloud.tenantId,
    target: { case: "groupId", value: cloud.groupId },
    specificationId: cloud.specificationId,
    imageId: cloud.imageId,
  });
  const refused = await compute
    .createVirtualMachine({
      tenantId: cloud.tenantId,
      target: { case: "groupId", value: cloud.groupId },
      specificationId: (
        await compute.createVirtualMachineSpecification({ specification: { name: "huge", vcpu: 64, memoryMib: 256n, storageGib: 1n } })
      ).specification!.id,
      imageId: cloud.imageId,
    })
    .catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(Error);
  await t.token(Role.AGENT, "metrics-agent");

  const { types, samples } = await scrape();
  for (const [family, type] of [
    ["process_cpu_user_seconds_total", "counter"],
    ["nodejs_eventloop_lag_seconds", "gauge"],
    ["rackplane_rpc_requests_total", "counter"],
    ["rackplane_rpc_duration_seconds", "histogram"],
    ["rackplane_rpc_in_flight", "gauge"],
    ["rackplane_db_pool_connections", "gauge"],
    ["rackplane_db_pool_waiting", "gauge"],
    ["rackplane_db_pool_errors_total", "counter"],
    ["rackplane_jobs", "gauge"],
    ["rackplane_jobs_oldest_queued_age_seconds", "gauge"],
    ["rackplane_job_lease_expiries_total", "counter"],
    ["rackplane_job_redeliveries_total", "counter"],
    ["rackplane_agents_connected", "gauge"],
    ["rackplane_placement_refusals_total", "counter"],
    ["rackplane_operations", "gauge"],
    ["rackplane_drifted_resources", "gauge"],
    ["rackplane_ready", "gauge"],
    ["rackplane_vm_creations_batched_total", "counter"],
  ] as const) {
    expect(types.get(family), family).toBe(type);
  }
  expect(value(samples, "rackplane_rpc_requests_total", { method: "rackplane.v1.ComputeService/CreateVirtualMachine", code: "OK" })).toBe(
    1,
  );
  expect(value(samples, "rackplane_placement_refusals_total", { reason: "INSUFFICIENT_CAPACITY" })).toBe(1);
  expect(value(samples, "rackplane_jobs", { state: "QUEUED" })).toBe(1);
  expect(value(samples, "rackplane_jobs_oldest_queued_age_seconds")).toBeGreaterThan(0);
  expect(value(samples, "rackplane_operations", { state: "PENDING" }) ?? value(samples, "rackplane_operations", { state: "RUNNING" })).toBe(
    1,
  );
  expect(samples.some((s) => s.name === "rackplane_agents_connected")).toBe(false);
  expect(value(samples, "rackplane_ready")).toBe(1);
  expect(value(samples, "rackplane_db_pool_connections", { state: "idle" })).toBeGreaterThan(0);
  // Every cause of a lost connection is exported, at zero on a healthy database.
  for (const cause of ["idle_error", "read_only", "timed_out", "lost_in_use"]) {
    expect(value(samples, "rackplane_db_pool_errors_total", { cause })).toBe(0);
  }
  expect(value(samples, "rackplane_rpc_duration_seconds_bucket", { code: "OK", le: "+Inf" })).toBeGreaterThan(0);
});

it("answers liveness and readiness over plain HTTP", async () => {
  expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
});

it("rejects a malformed exposition (the parser can fail)", () => {
  expect(() => parseExposition("# TYPE a counter\n# HELP a x\na{b=c} 1\n")).toThrow(/not a valid exposition line/);
  expect(() => parseExposition("b 1\n")).toThrow(/before its TYPE/);
});
