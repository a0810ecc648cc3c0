// rackctl against a TLS server: login with --ca-file stores it in the context and every later call
// trusts that CA; without it the server's certificate is refused.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { bootstrapAdminToken } from "../../src/app/identity.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createTestCa, type TestCa } from "../support/certificates.js";
import { freshDatabaseUrl } from "../support/database.js";
import { rackctlIn } from "../support/rackctl.js";

const dir = mkdtempSync(join(tmpdir(), "rackctl-tls-"));
let ca: TestCa;
let server: RunningServer;
let url: string;

const rackctl = rackctlIn(dir);

beforeAll(async () => {
  ca = createTestCa();
  server = await startServer({
    databaseUrl: await freshDatabaseUrl(),
    host: "127.0.0.1",
    port: 0,
    poolSize: 5,
    shutdownGraceMs: 2_000,
    tls: ca.issue("cli"),
  });
  writeFileSync(join(dir, "admin.token"), (await bootstrapAdminToken(server.db))!);
  // The certificate names localhost; the port is the server's.
  url = `https://localhost:${server.port}`;
});
afterAll(async () => {
  await server?.close();
  ca?.remove();
  rmSync(dir, { recursive: true, force: true });
});

it("logs in over TLS with a CA file and keeps trusting it", async () => {
  const untrusted = await rackctl(["login", "--server", url, "--token-file", join(dir, "admin.token")]);
  expect(untrusted.code).not.toBe(0);
  const login = await rackctl(["login", "--server", url, "--token-file", join(dir, "admin.token"), "--ca-file", ca.caFile]);
  expect(login.stderr).toBe("");
  expect(login.stdout).toContain("PLATFORM_ADMIN");
  expect((await rackctl(["create", "region", "tls-region"])).code).toBe(0);
  expect((await rackctl(["get", "regions", "-o", "name"])).stdout).toBe("regions/tls-region\n");
}, 60_000);
