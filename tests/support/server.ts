// A real rackplane server on a free port over its own database, with the three kinds of client
// the contract promises to serve: connect-node (gRPC), a stock @grpc/grpc-js client built from the
// ts-proto stubs, and plain JSON over fetch.
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuditService } from "../../gen/es/rackplane/v1/audit_pb.js";
import { IdentityService, type Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { TenantService } from "../../gen/es/rackplane/v1/tenant_pb.js";
import { ComputeService } from "../../gen/es/rackplane/v1/compute_pb.js";
import { OperationService } from "../../gen/es/rackplane/v1/operation_pb.js";
import { AgentService } from "../../gen/es/rackplane/v1/agent_pb.js";
import { bootstrapAdminToken, issue } from "../../src/app/identity.js";
import { newSecret } from "../../src/domain/token.js";
import { startServer, type RunningServer, type ServerOptions } from "../../src/server/server.js";
import { freshDatabaseUrl } from "./database.js";

export interface TestServer {
  readonly server: RunningServer;
  readonly url: string;
  readonly adminToken: string;
  /** connect-node gRPC clients, authenticated as the given token (the admin by default). */
  clients(token?: string): {
    inventory: Client<typeof InventoryService>;
    identity: Client<typeof IdentityService>;
    audit: Client<typeof AuditService>;
    tenants: Client<typeof TenantService>;
  };
  /** Connect JSON over HTTP/1.1 with fetch: returns the HTTP status and the parsed body. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies by path
  json(method: string, body: unknown, token?: string | null): Promise<{ status: number; body: any }>;
  /** AgentService client, as the given token. */
  agents(token: string): Client<typeof AgentService>;
  /** AgentService client as the admin (ListAgents). */
  agentsAdmin(): Client<typeof AgentService>;
  /** ComputeService and OperationService clients, as the given token (the admin by default). */
  compute(token?: string): Client<typeof ComputeService>;
  operations(token?: string): Client<typeof OperationService>;
  /** Creates a tenant (as the admin) and returns its id. */
  tenant(name: string): Promise<string>;
  /** Issues a token with the given role (tenant roles need a tenant id). */
  token(role: Role, principal: string, tenantId?: string): Promise<string>;
  close(): Promise<void>;
}

/** Starts a server on a fresh database, or on `databaseUrl` to join other replicas. */
export async function startTestServer(
  databaseUrl?: string,
  options: Pick<
    ServerOptions,
    | "leaseMillis"
    | "oidc"
    | "rateLimit"
    | "tokenCacheMillis"
    | "consoleDir"
    | "corsOrigins"
    | "observationStaleMillis"
    | "driftGraceMillis"
    | "databaseReadUrl"
    | "observationRollupMillis"
    | "clusterHealthStaleMillis"
    | "autoscaler"
  > = {},
): Promise<TestServer> {
  const server = await startServer({
    ...options,
    databaseUrl: databaseUrl ?? (await freshDatabaseUrl()),
    host: "127.0.0.1",
    port: 0,
    poolSize: 10,
    shutdownGraceMs: 2_000,
  });
  const adminToken = (await bootstrapAdminToken(server.db)) ?? (await extraAdminToken(server));
  const authedTransport = (token: string) =>
    createGrpcTransport({
      baseUrl: server.url,
      interceptors: [bearer(token)],
    });
  const clients = (token = adminToken) => {
    const authed = authedTransport(token);
    return {
      inventory: createClient(InventoryService, authed),
      identity: createClient(IdentityService, authed),
      audit: createClient(AuditService, authed),
      tenants: createClient(TenantService, authed),
    };
  };
  const testServer: TestServer = {
    server,
    url: server.url,
    adminToken,
    clients,
    async json(method, body, token = adminToken) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (token) headers.authorization = `Bearer ${token}`;
      const response = await fetch(`${server.url}/rackplane.v1.${method}`, {
        method: "POST",
        headers,
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    compute: (token = adminToken) => createClient(ComputeService, authedTransport(token)),
    agents: (token) => createClient(AgentService, authedTransport(token)),
    agentsAdmin: () => createClient(AgentService, authedTransport(adminToken)),
    operations: (token = adminToken) => createClient(OperationService, authedTransport(token)),
    async tenant(name) {
      const { tenant } = await clients().tenants.createTenant({ tenant: { name } });
      return tenant!.id;
    },
    async token(role, principal, tenantId = "") {
      const { secret } = await clients().identity.createToken({ principal, role, tenantId });
      return secret;
    },
    close: () => server.close(),
  };
  return testServer;
}

/** When another replica already made the first admin token, this server gets one of its own. */
async function extraAdminToken(server: RunningServer): Promise<string> {
  const secret = newSecret();
  await server.db.em().transactional(async (em) => {
    issue(
      em,
      "tests",
      { principal: "test-admin", role: "PLATFORM_ADMIN", tenantId: null, description: "test harness", ttlMillis: null },
      secret,
    );
  });
  return secret;
}

/** An interceptor that sends `token` as the call's bearer token. */
export function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}
