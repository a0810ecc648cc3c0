// The server as an operator runs it (`npm start`): compiled to dist/, in its own process, on the
// embedded PostgreSQL, restarted on the same data directory, and stopped with SIGTERM.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/es/grpc/health/v1/health_pb.js";
import { InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";

const dataDir = mkdtempSync(join(tmpdir(), "rackplane-process-"));
// `npm run build`, as `npm start` does first.
beforeAll(
  () => void execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" }),
  120_000,
);
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

async function start(): Promise<Running> {
  const child = spawn(
    process.execPath,
    ["--enable-source-maps", "--max-semi-space-size=16", "dist/src/main.js", "--listen", "127.0.0.1:0", "--data-dir", dataDir],
    {
      env: { ...process.env, DATABASE_URL: "", RACKPLANE_LOG: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  for (let waited = 0; !/"rackplane is ready"/.test(output); waited += 50) {
    if (waited > 60_000 || child.exitCode !== null) throw new Error(`server did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const url = /"message":"rackplane is ready","url":"([^"]+)"/.exec(output)![1]!;
  return { child, url, output: () => output, exited };
}

describe("the server process", () => {
  it("starts on an embedded database, keeps data across a restart, and stops cleanly on SIGTERM", async () => {
    const first = await start();
    const tokenFile = join(dataDir, "admin.token");
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, "utf8").trim();
    expect(first.output()).not.toContain(token);

    const transport = createGrpcTransport({ baseUrl: first.url });
    const headers = { authorization: `Bearer ${token}` };
    const inventory = createClient(InventoryService, transport);
    const { region } = await inventory.createRegion({ region: { name: "kept" } }, { headers });

    // A Watch stream must end when the server shuts down, not hang the shutdown.
    const watch = createClient(Health, transport).watch({});
    const statuses: HealthCheckResponse_ServingStatus[] = [];
    const watching = (async () => {
      for await (const message of watch) statuses.push(message.status);
    })().catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 200));

    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    await watching;
    expect(statuses[0]).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(first.output()).toContain('"message":"stopped"');

    const second = await start();
    try {
      const again = createClient(InventoryService, createGrpcTransport({ baseUrl: second.url }));
      const { region: kept } = await again.getRegion({ id: region!.id }, { headers });
      expect(kept?.name).toBe("kept");
      expect(second.output()).not.toContain("created the first platform-admin token");
    } finally {
      second.child.kill("SIGTERM");
      expect(await second.exited).toBe(0);
    }
  });
});
