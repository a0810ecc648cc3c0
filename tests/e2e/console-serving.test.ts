// The console's files on the API's port (SPA fallback, content types, caching, compression) and
// CORS for other origins, over real HTTP requests.
import http from "node:http";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCorsOrigins } from "../../src/server/cors.js";
import { startTestServer, type TestServer } from "../support/server.js";

const allowedOrigin = "https://console.example.test";
const script = `console.log(${JSON.stringify("x".repeat(4000))});\n`;
let dir: string;
let t: TestServer;
let plain: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "rackplane-console-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(
    join(dir, "index.html"),
    '<!doctype html><title>console marker</title><script type="module" src="/assets/app-3f9a1c.js"></script>',
  );
  writeFileSync(join(dir, "assets", "app-3f9a1c.js"), script);
  writeFileSync(join(dir, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
  [t, plain] = await Promise.all([startTestServer(undefined, { consoleDir: dir, corsOrigins: [allowedOrigin] }), startTestServer()]);
});
afterAll(() => Promise.all([t?.close(), plain?.close()]));

/** A raw HTTP/1.1 GET (no client-side path normalisation, no automatic decompression). */
function rawGet(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}${path}`, { headers, path }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    request.on("error", reject);
    request.end();
  });
}

describe("the console's files", () => {
  it("serves index.html at / and for any deep link, revalidated on every load", async () => {
    for (const path of ["/", "/racks/0b6c0d6e-1b1f-4b8e-9a53-3f2d2f0f4a11", "/vms?operation=x"]) {
      const response = await fetch(`${t.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(response.headers.get("cache-control")).toBe("no-cache");
      expect(await response.text()).toContain("console marker");
    }
  });

  it("serves hashed assets with their content type, cached for good, gzipped when asked", async () => {
    const identity = await rawGet(t.url, "/assets/app-3f9a1c.js");
    expect(identity.status).toBe(200);
    expect(identity.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(identity.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(identity.headers["content-encoding"]).toBeUndefined();
    expect(identity.body.toString()).toBe(script);
    const gzipped = await rawGet(t.url, "/assets/app-3f9a1c.js", { "accept-encoding": "gzip, br" });
    expect(gzipped.headers["content-encoding"]).toBe("gzip");
    expect(gzipped.body.length).toBeLessThan(script.length / 4);
    const svg = await fetch(`${t.url}/favicon.svg`);
    expect(svg.headers.get("content-type")).toBe("image/svg+xml");
    expect(svg.headers.get("cache-control")).toBe("no-cache");
    const head = await fetch(`${t.url}/assets/app-3f9a1c.js`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("never serves a file outside its folder", async () => {
    for (const path of ["/..%2f..%2fpackage.json", "/assets/..%2f..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/package.json"]) {
      const response = await rawGet(t.url, path);
      expect(response.status, path).toBe(200);
      expect(response.body.toString(), path).toContain("console marker");
    }
  });

  it("leaves RPC paths, POSTs and /metrics to the API", async () => {
    const unknown = await fetch(`${t.url}/rackplane.v1.InventoryService/NoSuchMethod`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toBe("text/plain");
    const post = await fetch(`${t.url}/racks`, { method: "POST", body: "{}" });
    expect(post.status).toBe(404);
    const metrics = await fetch(`${t.url}/metrics`);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    const call = await t.json("IdentityService/GetCallerIdentity", {});
    expect(call.status).toBe(200);
    expect(call.body.role).toBe("ROLE_PLATFORM_ADMIN");
  });

  it("says so when no console is configured", async () => {
    const response = await fetch(`${plain.url}/`);
    expect(response.status).toBe(404);
  });
});

describe("CORS", () => {
  const preflight = (url: string, origin: string) =>
    fetch(`${url}/rackplane.v1.IdentityService/GetCallerIdentity`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,x-grpc-web",
      },
    });

  it("answers an allowed origin's preflight with Connect's and gRPC-Web's headers", async () => {
    const response = await preflight(t.url, allowedOrigin);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(allowedOrigin);
    expect(response.headers.get("vary")).toContain("Origin");
    const allowHeaders = response.headers.get("access-control-allow-headers")!.toLowerCase();
    for (const header of ["authorization", "content-type", "connect-protocol-version", "x-grpc-web", "x-user-agent", "grpc-timeout"]) {
      expect(allowHeaders).toContain(header);
    }
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
  });

  it("lets an allowed origin read responses and their gRPC-Web trailers", async () => {
    const response = await fetch(`${t.url}/rackplane.v1.IdentityService/GetCallerIdentity`, {
      method: "POST",
      headers: { origin: allowedOrigin, "content-type": "application/json", authorization: `Bearer ${t.adminToken}` },
      body: "{}",
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(allowedOrigin);
    expect(response.headers.get("access-control-expose-headers")!.toLowerCase()).toContain("grpc-status");
  });

  it("refuses other origins: 403 preflight, and no CORS header on a request", async () => {
    const refused = await preflight(t.url, "https://evil.example.test");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    const call = await fetch(`${t.url}/rackplane.v1.IdentityService/GetCallerIdentity`, {
      method: "POST",
      headers: { origin: "https://evil.example.test", "content-type": "application/json", authorization: `Bearer ${t.adminToken}` },
      body: "{}",
    });
    expect(call.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("is off by default", async () => {
    const response = await preflight(plain.url, allowedOrigin);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("reads RACKPLANE_CORS_ORIGINS as a comma list of origins", () => {
    expect(parseCorsOrigins(undefined)).toEqual([]);
    expect(parseCorsOrigins(" https://a.example , http://localhost:5173")).toEqual(["https://a.example", "http://localhost:5173"]);
    expect(() => parseCorsOrigins("https://a.example/path")).toThrow(/bad origin/);
    expect(() => parseCorsOrigins("not a url")).toThrow(/bad origin/);
  });
});
