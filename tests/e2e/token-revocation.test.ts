// Revocation reaches every replica promptly: two server processes over one database, each caching
// tokens for ten minutes (RACKPLANE_TOKEN_CACHE_SECONDS=600), so only the database's notice can end
// the other replica's cached entry in time. A token revoked on one is refused by the other within
// seconds; so is a token whose row is deleted.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { freshDatabaseUrl } from "../support/database.js";
import { startServerProcess, type ServerProcess } from "../support/processes.js";
import { bearer } from "../support/server.js";

let replicas: ServerProcess[] = [];
let databaseUrl = "";
let admin = "";

beforeAll(async () => {
  databaseUrl = await freshDatabaseUrl();
  const env = { RACKPLANE_TOKEN_CACHE_SECONDS: "600" };
  // One after the other: the first makes the admin token.
  replicas.push(await startServerProcess(databaseUrl, env));
  replicas.push(await startServerProcess(databaseUrl, env));
  admin = replicas[0]!.adminToken()!;
}, 120_000);
afterAll(async () => {
  await Promise.all(replicas.map((replica) => replica.stop()));
  replicas = [];
});

const identity = (replica: ServerProcess, token: string) =>
  createClient(
    IdentityService,
    createGrpcTransport({
      baseUrl: replica.url,
      interceptors: [bearer(token)],
    }),
  );

/** How the replica answers the token now: its token id, or the refusal's code. */
async function answer(replica: ServerProcess, token: string): Promise<string> {
  try {
    return (await identity(replica, token).getCallerIdentity({})).tokenId;
  } catch (error) {
    return Code[ConnectError.from(error).code];
  }
}

/** Asks until the replica refuses the token, at most `attempts` times 50 ms apart (10 s: far below
 * the 600 s cache, far above a notice's travel). */
async function refusedWithin(replica: ServerProcess, token: string, attempts = 200): Promise<string> {
  let last = "";
  for (let i = 0; i < attempts; i++) {
    last = await answer(replica, token);
    if (last === "Unauthenticated") return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return last;
}

it("a token revoked on one replica is refused by the other, which had it cached", async () => {
  const [a, b] = [replicas[0]!, replicas[1]!];
  const { token, secret } = await identity(a, admin).createToken({ principal: "revoked-soon", role: Role.SERVICE });
  expect(await answer(b, secret)).toBe(token!.id); // b has it cached now
  await identity(a, admin).revokeToken({ id: token!.id });
  expect(await refusedWithin(b, secret)).toBe("Unauthenticated");
  expect(await answer(a, secret)).toBe("Unauthenticated");
});

it("a token whose row is deleted (as a tenant's deletion would) is refused by every replica", async () => {
  const { token, secret } = await identity(replicas[0]!, admin).createToken({ principal: "deleted-soon", role: Role.SERVICE });
  for (const replica of replicas) expect(await answer(replica, secret)).toBe(token!.id);
  const pg = await import("pg");
  const client = new pg.default.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("delete from api_token where id = $1", [token!.id]);
  } finally {
    await client.end();
  }
  for (const replica of replicas) expect(await refusedWithin(replica, secret)).toBe("Unauthenticated");
});
