// TLS on the one port: every protocol the contract promises (gRPC with two clients, Connect JSON
// over HTTP/1.1 and HTTP/2, gRPC-Web over both) works over TLS, HTTP/2 chosen by ALPN; a provision
// agent connects with a CA file; SIGHUP gives new connections a new certificate and keeps the old
// one when the new pair is bad; clear text on a non-loopback address is warned about.
import { copyFileSync } from "node:fs";
import https from "node:https";
import tls from "node:tls";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { credentials, Metadata } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentService } from "../../gen/es/rackplane/v1/agent_pb.js";
import { IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { IdentityServiceClient } from "../../gen/grpc-js/rackplane/v1/identity.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { tlsCredentials } from "../../src/agent-sdk/index.js";
import { bootstrapAdminToken } from "../../src/app/identity.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createTestCa, type TestCa } from "../support/certificates.js";
import { freshDatabaseUrl } from "../support/database.js";
import { startServerProcess, type ServerProcess } from "../support/processes.js";

let ca: TestCa;
let databaseUrl: string;

beforeAll(async () => {
  ca = createTestCa();
  databaseUrl = await freshDatabaseUrl();
});
afterAll(() => ca.remove());

describe("every protocol over TLS on one port", () => {
  let server: RunningServer;
  let token: string;
  let baseUrl: string;

  beforeAll(async () => {
    const files = ca.issue("in-process");
    server = await startServer({ databaseUrl, host: "127.0.0.1", port: 0, poolSize: 5, shutdownGraceMs: 2_000, tls: files });
    token = (await bootstrapAdminToken(server.db))!;
    // The certificate names localhost; the port is the server's.
    baseUrl = `https://localhost:${server.port}`;
  });
  afterAll(() => server.close());

  const withToken = (secret: string) => [
    (next: Parameters<import("@connectrpc/connect").Interceptor>[0]) => (req: Parameters<typeof next>[0]) => {
      req.header.set("authorization", `Bearer ${secret}`);
      return next(req);
    },
  ];

  it("serves an https URL", () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it.each([
    ["gRPC (connect-node, HTTP/2)", () => createGrpcTransport({ baseUrl, nodeOptions: { ca: ca.ca }, interceptors: withToken(token) })],
    [
      "Connect JSON over HTTP/2",
      () => createConnectTransport({ baseUrl, httpVersion: "2", nodeOptions: { ca: ca.ca }, interceptors: withToken(token) }),
    ],
    [
      "Connect JSON over HTTP/1.1",
      () => createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { ca: ca.ca }, interceptors: withToken(token) }),
    ],
    [
      "gRPC-Web over HTTP/1.1",
      () => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { ca: ca.ca }, interceptors: withToken(token) }),
    ],
    [
      "gRPC-Web over HTTP/2",
      () => createGrpcWebTransport({ baseUrl, httpVersion: "2", nodeOptions: { ca: ca.ca }, interceptors: withToken(token) }),
    ],
  ])("%s", async (_name, transport) => {
    const identity = await createClient(IdentityService, transport()).getCallerIdentity({});
    expect(identity).toMatchObject({ principal: "admin", role: Role.PLATFORM_ADMIN });
  });

  it("gRPC with a stock grpc-js client", async () => {
    const client = new IdentityServiceClient(`localhost:${server.port}`, credentials.createSsl(ca.ca));
    try {
      const metadata = new Metadata();
      metadata.set("authorization", `Bearer ${token}`);
      const identity = await new Promise((resolve, reject) =>
        client.getCallerIdentity({}, metadata, (error, response) => (error ? reject(error) : resolve(response))),
      );
      expect(identity).toMatchObject({ principal: "admin" });
    } finally {
      client.close();
    }
  });

  // `curl --http1.1` offers http/1.1 by ALPN; an older client offers nothing.
  it.each([
    [["http/1.1"], "1.1 http/1.1"],
    [undefined, "1.1 false"],
  ])("Connect JSON as curl sends it, ALPN %j", async (alpn, expected) => {
    const { status, body, protocol } = await new Promise<{ status: number; body: string; protocol: string }>((resolve, reject) => {
      const request = https.request(
        `${baseUrl}/rackplane.v1.IdentityService/GetCallerIdentity`,
        {
          method: "POST",
          ca: ca.ca,
          ...(alpn ? { ALPNProtocols: alpn } : {}),
          agent: false,
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        },
        (response) => {
          const protocol = `${response.httpVersion} ${(response.socket as tls.TLSSocket).alpnProtocol}`;
          let text = "";
          response.on("data", (chunk) => (text += chunk));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text, protocol }));
        },
      );
      request.on("error", reject);
      request.end("{}");
    });
    expect(protocol).toBe(expected);
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ principal: "admin", role: "ROLE_PLATFORM_ADMIN" });
  });

  it("a client that offers h2 gets h2", async () => {
    const socket = tls.connect({ host: "localhost", port: server.port, ca: ca.ca, ALPNProtocols: ["h2", "http/1.1"] });
    await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
    expect(socket.alpnProtocol).toBe("h2");
    socket.destroy();
  });

  it("a provision agent connects with the CA", async () => {
    const { secret } = await createClient(
      IdentityService,
      createGrpcTransport({ baseUrl, nodeOptions: { ca: ca.ca }, interceptors: withToken(token) }),
    ).createToken({ principal: "tls-agent", role: Role.AGENT });
    const agent = createSimulatedAgent({
      servers: [`localhost:${server.port}`],
      token: secret,
      agentId: "tls-agent-1",
      sdk: { credentials: tlsCredentials(ca.ca) },
    });
    agent.start();
    try {
      const admin = createClient(
        AgentService,
        createGrpcTransport({ baseUrl, nodeOptions: { ca: ca.ca }, interceptors: withToken(token) }),
      );
      let connected = false;
      for (let attempt = 0; attempt < 200 && !connected; attempt++) {
        const { agents } = await admin.listAgents({});
        connected = agents.some((listed) => listed.id === "tls-agent-1" && listed.connected);
        if (!connected) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(connected).toBe(true);
    } finally {
      await agent.stop({ graceMs: 1_000 });
    }
  });
});

describe("a server process", () => {
  let secure: ServerProcess;
  let plain: ServerProcess;
  /** The files the server reads: each step copies another pair over them. */
  let live: { certFile: string; keyFile: string; fingerprint: string };

  beforeAll(async () => {
    live = ca.issue("live");
    [secure, plain] = await Promise.all([
      startServerProcess(databaseUrl, { RACKPLANE_TLS_CERT: live.certFile, RACKPLANE_TLS_KEY: live.keyFile }),
      startServerProcess(databaseUrl, {}, "0.0.0.0:0"),
    ]);
  });
  afterAll(async () => {
    await Promise.all([secure?.stop(), plain?.stop()]);
  });

  async function served(process: ServerProcess): Promise<string> {
    const port = Number(new URL(process.url).port);
    const socket = tls.connect({ host: "127.0.0.1", port, ca: ca.ca, servername: "localhost" });
    await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
    const fingerprint = socket.getPeerCertificate().fingerprint256;
    socket.destroy();
    return fingerprint;
  }

  async function logged(process: ServerProcess, pattern: RegExp, after: number): Promise<void> {
    for (let waited = 0; !pattern.test(process.output().slice(after)); waited += 50) {
      if (waited > 20_000) throw new Error(`no ${pattern} in the log:\n${process.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it("reloads the pair on SIGHUP for new connections, and keeps it when the new pair is bad", async () => {
    expect(secure.url).toMatch(/^https:/);
    const { certFile, keyFile } = live;
    const before = await served(secure);
    expect(before).toBe(live.fingerprint);
    const next = ca.issue("next");
    copyFileSync(next.certFile, certFile);
    copyFileSync(next.keyFile, keyFile);
    let mark = secure.output().length;
    secure.child.kill("SIGHUP");
    await logged(secure, /reloaded the TLS certificate/, mark);
    expect(await served(secure)).toBe(next.fingerprint);
    expect(next.fingerprint).not.toBe(before);

    // A certificate with someone else's key: refused, logged, the pair in use stays.
    const other = ca.issue("other");
    copyFileSync(other.certFile, certFile);
    mark = secure.output().length;
    secure.child.kill("SIGHUP");
    await logged(secure, /kept the TLS certificate in use/, mark);
    expect(await served(secure)).toBe(next.fingerprint);
  });

  it("warns about clear text on a non-loopback address, and only there", () => {
    expect(plain.output()).toMatch(/"level":"warn","message":"serving clear text on a non-loopback address/);
    expect(secure.output()).not.toMatch(/serving clear text/);
  });
});
