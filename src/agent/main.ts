// `npm run agent -- --simulate …`: a provision agent process. Only the simulated hypervisor exists
// for now; a real one (libvirt, Proxmox, OpenStack) would be another flag and another handler set
// on the same SDK (see docs/agents.md).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { errorFields, log } from "../log.js";
import { createSimulatedAgent } from "./simulator.js";
import { tlsCredentials } from "../agent-sdk/index.js";

const usage = `usage: npm run agent -- --simulate [options]

  --simulate              run the simulated hypervisor (the only agent there is so far)
  --server host:port      a rackplane server; repeat for several replicas (default 127.0.0.1:8080)
  --token-file path       file holding the agent token (default: $RACKPLANE_AGENT_TOKEN)
  --tls                   connect over TLS, trusting the system's root certificates
  --ca-file path          connect over TLS, trusting this PEM CA certificate (implies --tls)
  --agent-id name         the agent's stable name (default sim-1)
  --latency ms            mean job duration, each job takes ±50 % of it (default 200)
  --failure-rate 0..1     share of jobs failing with a transient error (default 0)
  --concurrency n         jobs at once, 1 to 256 (default 8)
  --group uuid            a host group to serve; repeat for several (default: every group)
`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${usage}`);
  process.exit(2);
}

function parseOptions() {
  return parseArgs({
    options: {
      simulate: { type: "boolean", default: false },
      server: { type: "string", multiple: true },
      "token-file": { type: "string" },
      tls: { type: "boolean", default: false },
      "ca-file": { type: "string" },
      "agent-id": { type: "string", default: "sim-1" },
      latency: { type: "string", default: "200" },
      "failure-rate": { type: "string", default: "0" },
      concurrency: { type: "string", default: "8" },
      group: { type: "string", multiple: true },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}

let values: ReturnType<typeof parseOptions>["values"];
try {
  ({ values } = parseOptions());
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
if (!values.simulate) fail("only the simulated agent exists: pass --simulate");

function number(name: string, text: string, min: number, max: number, integer: boolean): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    fail(`--${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, not ${JSON.stringify(text)}`);
  }
  return value;
}

const latencyMs = number("latency", values.latency, 0, 3_600_000, false);
const failureRate = number("failure-rate", values["failure-rate"], 0, 1, false);
const concurrency = number("concurrency", values.concurrency, 1, 256, true);
const servers = values.server ?? ["127.0.0.1:8080"];
for (const server of servers)
  if (!/^(\[[^\]]+\]|[^:\s]+):\d+$/.test(server)) fail(`--server wants host:port, not ${JSON.stringify(server)}`);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
for (const group of values.group ?? []) if (!uuid.test(group)) fail(`--group wants a UUID, not ${JSON.stringify(group)}`);

let token: string | undefined;
if (values["token-file"]) {
  try {
    token = readFileSync(values["token-file"], "utf8").trim();
  } catch (error) {
    fail(`cannot read the token file: ${(error as Error).message}`);
  }
} else {
  token = process.env.RACKPLANE_AGENT_TOKEN?.trim();
}
if (!token) fail("no agent token: pass --token-file or set RACKPLANE_AGENT_TOKEN");

let ca: Buffer | undefined;
if (values["ca-file"]) {
  try {
    ca = readFileSync(values["ca-file"]);
  } catch (error) {
    fail(`cannot read the CA file: ${(error as Error).message}`);
  }
}
const tls = values.tls || ca !== undefined;

const agent = createSimulatedAgent({
  servers,
  token,
  agentId: values["agent-id"],
  latencyMs,
  failureRate,
  concurrency,
  groupIds: values.group ?? [],
  log,
  ...(tls ? { sdk: { credentials: tlsCredentials(ca) } } : {}),
});
agent.start();
log("info", "simulated agent started", {
  agentId: values["agent-id"],
  servers,
  tls,
  latencyMs,
  failureRate,
  concurrency,
  groups: values.group ?? [],
});

// A line of numbers now and then: enough to watch a load test from the log.
const statsTimer = setInterval(() => log("info", "agent stats", { ...agent.stats() }), 60_000);
statsTimer.unref();

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) {
      log("warn", "second signal; exiting now", { signal });
      process.exit(1);
    }
    stopping = true;
    log("info", "stopping: finishing running jobs", { signal });
    clearInterval(statsTimer);
    agent.stop({ graceMs: 10_000 }).then(
      () => process.exit(0),
      (error: unknown) => {
        log("error", "stop failed", errorFields(error));
        process.exit(1);
      },
    );
  });
}
