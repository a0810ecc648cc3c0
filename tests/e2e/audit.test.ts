// The audit trail (API-4): every mutation writes exactly one event — in its own transaction when it
// succeeds, after the rollback when it is refused — reads write none, and ListAuditEvents is newest
// first, pages, filters and is scoped by role.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type CallOptions } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { AuditService, type AuditEvent } from "../../gen/es/rackplane/v1/audit_pb.js";
import { IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { InventoryService, RackUnitStatus } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;

/** Tenants for the tenant principals: what they change requires their tenant to exist (TEN-2). */
let T1 = "";
let T2 = "";
const MISSING = "0f5b4a3e-58a1-4c4e-9b7e-1d2c3b4a5f60";
const CREATE_REGION = "rackplane.v1.InventoryService/CreateRegion";

/** Seeded once: two regions (the first with a datacenter under it), a 10U rack with U4 reserved,
 * and callers of every kind. */
const s = {
  regionA: "",
  regionB: "",
  datacenter: "",
  rack: "",
  secrets: { mia: "", mo: "", tara: "", svc: "", agent: "" },
};

beforeAll(async () => {
  t = await startTestServer();
  T1 = await t.tenant("audit-t1");
  T2 = await t.tenant("audit-t2");
  const { inventory } = t.clients();
  s.regionA = (await inventory.createRegion({ region: { name: "audit-a" } })).region!.id;
  s.regionB = (await inventory.createRegion({ region: { name: "audit-b" } })).region!.id;
  s.datacenter = (await inventory.createDatacenter({ datacenter: { name: "audit-dc", regionId: s.regionA } })).datacenter!.id;
  const room = (await inventory.createRoom({ room: { name: "audit-room", datacenterId: s.datacenter } })).room!;
  s.rack = (await inventory.createRack({ rack: { name: "audit-rack", roomId: room.id, heightUnits: 10 } })).rack!.id;
  await inventory.reserveRackUnits({ rackId: s.rack, firstPosition: 4, unitCount: 1, purpose: "seed" });
  s.secrets = {
    mia: await t.token(Role.TENANT_MEMBER, "mia", T1),
    mo: await t.token(Role.TENANT_MEMBER, "mo", T2),
    tara: await t.token(Role.TENANT_ADMIN, "tara", T1),
    svc: await t.token(Role.SERVICE, "svc"),
    agent: await t.token(Role.AGENT, "agent"),
  };
});
afterAll(() => t.close());

type Caller = "admin" | "anonymous" | "garbage" | keyof typeof s.secrets;

function as(caller: Caller) {
  const secret =
    caller === "admin" ? t.adminToken : caller === "anonymous" ? undefined : caller === "garbage" ? "rpt_garbage" : s.secrets[caller];
  const transport = createGrpcTransport({
    baseUrl: t.url,
    interceptors: secret === undefined ? [] : [bearer(secret)],
  });
  return {
    inventory: createClient(InventoryService, transport),
    identity: createClient(IdentityService, transport),
    audit: createClient(AuditService, transport),
  };
}
type Clients = ReturnType<typeof as>;

let counter = 0;
/** A fresh request id and the call options that send it as x-request-id. */
function requestId(): [string, CallOptions] {
  const id = `audit-test-${++counter}-${randomUUID().slice(0, 8)}`;
  return [id, { headers: { "x-request-id": id } }];
}

async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("the call was accepted");
}

async function events(filter: string, caller: Caller = "admin"): Promise<AuditEvent[]> {
  const all: AuditEvent[] = [];
  let pageToken = "";
  do {
    const page = await as(caller).audit.listAuditEvents({ filter, pageSize: 1000, pageToken });
    all.push(...page.auditEvents);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return all;
}
const eventsOf = (id: string) => events(`request_id = "${id}"`);

const codeName = (code: Code) => Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

// ------------------------------------------------------------------------------------------------

describe("a successful mutation", () => {
  it("CreateRegion writes exactly one event: who, what, which resource, which request, OK", async () => {
    const [id, options] = requestId();
    const before = Date.now();
    const { region } = await t.clients().inventory.createRegion({ region: { name: "audited" } }, options);
    const after = Date.now();
    const found = await eventsOf(id);
    expect(found).toHaveLength(1);
    const [event] = found as [AuditEvent];
    expect(event).toMatchObject({
      principal: "admin",
      role: Role.PLATFORM_ADMIN,
      tenantId: "",
      method: CREATE_REGION,
      resourceType: "region",
      resourceId: region!.id,
      requestId: id,
      result: "OK",
      reason: "",
      message: "",
    });
    const time = timestampDate(event.time!).getTime();
    expect(time).toBeGreaterThanOrEqual(before - 1000);
    expect(time).toBeLessThanOrEqual(after + 1000);
  });

  it("without x-request-id, the server assigns one, answers it in the response header and records it", async () => {
    let echoed = "";
    const { region } = await t
      .clients()
      .inventory.createRegion({ region: { name: "no-request-id" } }, { onHeader: (header) => (echoed = header.get("x-request-id") ?? "") });
    expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
    const found = await events(`resource_id = "${region!.id}"`);
    expect(found.map((e) => [e.requestId, e.result])).toEqual([[echoed, "OK"]]);
  });

  it.each<[string, (c: Clients, o: CallOptions) => Promise<unknown>, string, () => string]>([
    [
      "UpdateRegion",
      (c, o) => c.inventory.updateRegion({ region: { id: s.regionB, description: "x" }, updateMask: { paths: ["description"] } }, o),
      "region",
      () => s.regionB,
    ],
    [
      "SetRackUnitsFaulty",
      (c, o) => c.inventory.setRackUnitsFaulty({ rackId: s.rack, firstPosition: 9, unitCount: 1, faulty: true, reason: "psu" }, o),
      "rack",
      () => s.rack,
    ],
    [
      "ReserveRackUnits",
      async (c, o) =>
        (await c.inventory.reserveRackUnits({ rackId: s.rack, firstPosition: 7, unitCount: 1, purpose: "p" }, o)).reservation!.id,
      "rack_reservation",
      () => "",
    ],
    [
      "CreateToken",
      async (c, o) => (await c.identity.createToken({ principal: "audited", role: Role.AGENT }, o)).token!.id,
      "api_token",
      () => "",
    ],
  ])("%s writes one OK event naming its resource", async (method, call, resourceType, knownId) => {
    const [id, options] = requestId();
    const returned = await call(t.clients(), options);
    const found = await eventsOf(id);
    expect(found.map((e) => [e.method.split("/")[1], e.result, e.resourceType, e.resourceId])).toEqual([
      [method, "OK", resourceType, knownId() || returned],
    ]);
  });
});

// ------------------------------------------------------------------------------------------------

interface Refused {
  what: string;
  caller: Caller;
  call: (c: Clients, o: CallOptions) => Promise<unknown>;
  result: string;
  reason: string;
  method: string;
  target: () => [string, string];
  /** Asserts the refused change is not there. */
  unchanged: () => Promise<void>;
}

const regionOf = async (id: string) => (await t.clients().inventory.getRegion({ id })).region!;
const regionNames = async () => (await t.clients().inventory.listRegions({ pageSize: 1000 })).regions.map((r) => r.name).sort();
const tokenCount = async () => (await t.clients().identity.listTokens({ pageSize: 1000 })).tokens.length;

/** Snapshots taken before each refused call, for `unchanged` to compare with. */
let snapshot: { regionA: unknown; regionB: unknown; names: string[]; tokens: number; units: string[]; reservations: number };
async function takeSnapshot() {
  const elevation = await t.clients().inventory.getRackElevation({ rackId: s.rack });
  snapshot = {
    regionA: await regionOf(s.regionA),
    regionB: await regionOf(s.regionB),
    names: await regionNames(),
    tokens: await tokenCount(),
    units: elevation.units.map((u) => `${u.position}:${RackUnitStatus[u.status]}:${u.etag}`),
    reservations: elevation.reservations.length,
  };
}
const regionsUnchanged = async () => {
  expect(await regionOf(s.regionA)).toEqual(snapshot.regionA);
  expect(await regionOf(s.regionB)).toEqual(snapshot.regionB);
  expect(await regionNames()).toEqual(snapshot.names);
};

const refusedCases: Refused[] = [
  {
    what: "INVALID_ARGUMENT: a name too long, on an update",
    caller: "admin",
    call: (c, o) => c.inventory.updateRegion({ region: { id: s.regionA, name: "a".repeat(64) }, updateMask: { paths: ["name"] } }, o),
    result: "INVALID_ARGUMENT",
    reason: "VALIDATION_FAILED",
    method: "InventoryService/UpdateRegion",
    target: () => ["region", s.regionA],
    unchanged: regionsUnchanged,
  },
  {
    what: "INVALID_ARGUMENT: a name that is not a label, on a create",
    caller: "admin",
    call: (c, o) => c.inventory.createRegion({ region: { name: "not a label!" } }, o),
    result: "INVALID_ARGUMENT",
    reason: "VALIDATION_FAILED",
    method: "InventoryService/CreateRegion",
    target: () => ["region", ""],
    unchanged: regionsUnchanged,
  },
  {
    what: "UNAUTHENTICATED: no token",
    caller: "anonymous",
    call: (c, o) => c.inventory.deleteRegion({ id: s.regionB, force: true }, o),
    result: "UNAUTHENTICATED",
    reason: "TOKEN_MISSING",
    method: "InventoryService/DeleteRegion",
    target: () => ["region", s.regionB],
    unchanged: regionsUnchanged,
  },
  {
    what: "UNAUTHENTICATED: a token the server never issued",
    caller: "garbage",
    call: (c, o) =>
      c.inventory.updateRegion({ region: { id: s.regionB, description: "hacked" }, updateMask: { paths: ["description"] } }, o),
    result: "UNAUTHENTICATED",
    reason: "TOKEN_INVALID",
    method: "InventoryService/UpdateRegion",
    target: () => ["region", s.regionB],
    unchanged: regionsUnchanged,
  },
  {
    what: "PERMISSION_DENIED: a tenant member deleting a region",
    caller: "mia",
    call: (c, o) => c.inventory.deleteRegion({ id: s.regionB, force: true }, o),
    result: "PERMISSION_DENIED",
    reason: "ROLE_NOT_ALLOWED",
    method: "InventoryService/DeleteRegion",
    target: () => ["region", s.regionB],
    unchanged: regionsUnchanged,
  },
  {
    what: "PERMISSION_DENIED: a tenant admin issuing a token for another tenant",
    caller: "tara",
    call: (c, o) => c.identity.createToken({ principal: "intruder", role: Role.TENANT_ADMIN, tenantId: T2 }, o),
    result: "PERMISSION_DENIED",
    reason: "ROLE_NOT_ALLOWED",
    method: "IdentityService/CreateToken",
    target: () => ["api_token", ""],
    unchanged: async () => expect(await tokenCount()).toBe(snapshot.tokens),
  },
  {
    what: "NOT_FOUND: updating a region that does not exist",
    caller: "admin",
    call: (c, o) => c.inventory.updateRegion({ region: { id: MISSING, description: "x" }, updateMask: { paths: ["description"] } }, o),
    result: "NOT_FOUND",
    reason: "RESOURCE_NOT_FOUND",
    method: "InventoryService/UpdateRegion",
    target: () => ["region", MISSING],
    unchanged: regionsUnchanged,
  },
  {
    what: "NOT_FOUND: a datacenter in a region that does not exist",
    caller: "admin",
    call: (c, o) => c.inventory.createDatacenter({ datacenter: { name: "orphan", regionId: MISSING } }, o),
    result: "NOT_FOUND",
    reason: "RESOURCE_NOT_FOUND",
    method: "InventoryService/CreateDatacenter",
    target: () => ["datacenter", ""],
    unchanged: async () => expect((await t.clients().inventory.listDatacenters({ filter: 'name = "orphan"' })).datacenters).toEqual([]),
  },
  {
    what: "FAILED_PRECONDITION: deleting a region that has datacenters, without force",
    caller: "admin",
    call: (c, o) => c.inventory.deleteRegion({ id: s.regionA }, o),
    result: "FAILED_PRECONDITION",
    reason: "HAS_DEPENDENTS",
    method: "InventoryService/DeleteRegion",
    target: () => ["region", s.regionA],
    unchanged: async () => {
      await regionsUnchanged();
      expect((await t.clients().inventory.getDatacenter({ id: s.datacenter })).datacenter!.regionId).toBe(s.regionA);
    },
  },
  {
    what: "FAILED_PRECONDITION: a reservation over a reserved unit, after the free units of the range were taken",
    caller: "admin",
    call: (c, o) => c.inventory.reserveRackUnits({ rackId: s.rack, firstPosition: 2, unitCount: 4, purpose: "overlap" }, o),
    result: "FAILED_PRECONDITION",
    reason: "RACK_UNITS_UNAVAILABLE",
    method: "InventoryService/ReserveRackUnits",
    target: () => ["rack_reservation", ""],
    unchanged: async () => {
      const elevation = await t.clients().inventory.getRackElevation({ rackId: s.rack });
      expect(elevation.units.map((u) => `${u.position}:${RackUnitStatus[u.status]}:${u.etag}`)).toEqual(snapshot.units);
      expect(elevation.reservations).toHaveLength(snapshot.reservations);
    },
  },
  {
    what: "ALREADY_EXISTS: renaming a region to a taken name",
    caller: "admin",
    call: (c, o) => c.inventory.updateRegion({ region: { id: s.regionB, name: "audit-a" }, updateMask: { paths: ["name"] } }, o),
    result: "ALREADY_EXISTS",
    reason: "ALREADY_EXISTS",
    method: "InventoryService/UpdateRegion",
    target: () => ["region", s.regionB],
    unchanged: regionsUnchanged,
  },
  {
    what: "ALREADY_EXISTS: creating a region with a taken name (the id it would have had names nothing)",
    caller: "admin",
    call: (c, o) => c.inventory.createRegion({ region: { name: "audit-b" } }, o),
    result: "ALREADY_EXISTS",
    reason: "ALREADY_EXISTS",
    method: "InventoryService/CreateRegion",
    target: () => ["region", ""],
    unchanged: regionsUnchanged,
  },
  {
    what: "ABORTED: a stale etag",
    caller: "admin",
    call: (c, o) =>
      c.inventory.updateRegion({ region: { id: s.regionA, etag: '"41"', description: "late" }, updateMask: { paths: ["description"] } }, o),
    result: "ABORTED",
    reason: "ETAG_MISMATCH",
    method: "InventoryService/UpdateRegion",
    target: () => ["region", s.regionA],
    unchanged: regionsUnchanged,
  },
];

/** Who the audit record must say called: [principal, role, tenant]. */
function principalOf(caller: Caller): [string, Role, string] {
  const principals: Record<Caller, [string, Role, string]> = {
    admin: ["admin", Role.PLATFORM_ADMIN, ""],
    anonymous: ["anonymous", Role.UNSPECIFIED, ""],
    garbage: ["anonymous", Role.UNSPECIFIED, ""],
    mia: ["mia", Role.TENANT_MEMBER, T1],
    mo: ["mo", Role.TENANT_MEMBER, T2],
    tara: ["tara", Role.TENANT_ADMIN, T1],
    svc: ["svc", Role.SERVICE, ""],
    agent: ["agent", Role.AGENT, ""],
  };
  return principals[caller];
}

describe("a refused mutation writes one event with its result, and its change is not applied", () => {
  it.each(refusedCases)("$what", async ({ caller, call, result, reason, method, target, unchanged }) => {
    await takeSnapshot();
    const [id, options] = requestId();
    const error = await refusal(call(as(caller), options));
    expect(codeName(error.code)).toBe(result);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe(reason);

    const found = await eventsOf(id);
    expect(found).toHaveLength(1);
    const [principal, role, tenantId] = principalOf(caller);
    const [resourceType, resourceId] = target();
    expect(found[0]).toMatchObject({
      principal,
      role,
      tenantId,
      method: `rackplane.v1.${method}`,
      resourceType,
      resourceId,
      requestId: id,
      result,
      reason,
      message: error.rawMessage,
    });
    await unchanged();
  });

  it("a mutation whose body is not even JSON is audited too (every mutating RPC writes one event)", async () => {
    const [id] = requestId();
    const response = await fetch(`${t.url}/rackplane.v1.InventoryService/CreateRegion`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t.adminToken}`, "x-request-id": id },
      body: '{"region": {"name": ',
    });
    expect(response.status).toBe(400);
    // The call gate writes this record as the refused call ends, beside the response, not before it.
    await vi.waitFor(
      async () => expect((await eventsOf(id)).map((e) => [e.method, e.result])).toEqual([[CREATE_REGION, "INVALID_ARGUMENT"]]),
      {
        timeout: 5_000,
      },
    );
  });
});

// ------------------------------------------------------------------------------------------------

describe("reads write no audit event", () => {
  it.each<[string, Caller, (c: Clients, o: CallOptions) => Promise<unknown>]>([
    ["GetRegion", "admin", (c, o) => c.inventory.getRegion({ id: s.regionA }, o)],
    ["ListRegions", "admin", (c, o) => c.inventory.listRegions({}, o)],
    ["ListRacks as a tenant member", "mia", (c, o) => c.inventory.listRacks({}, o)],
    ["GetRackElevation", "admin", (c, o) => c.inventory.getRackElevation({ rackId: s.rack }, o)],
    ["ListTokens", "admin", (c, o) => c.identity.listTokens({}, o)],
    ["GetCallerIdentity", "svc", (c, o) => c.identity.getCallerIdentity({}, o)],
    ["ListAuditEvents", "admin", (c, o) => c.audit.listAuditEvents({}, o)],
    [
      "GetRegion of a region that does not exist (NOT_FOUND)",
      "admin",
      (c, o) => c.inventory.getRegion({ id: MISSING }, o).catch(() => undefined),
    ],
    [
      "ListRegions with a bad filter (INVALID_ARGUMENT)",
      "admin",
      (c, o) => c.inventory.listRegions({ filter: "nope" }, o).catch(() => undefined),
    ],
    ["ListRegions without a token (UNAUTHENTICATED)", "anonymous", (c, o) => c.inventory.listRegions({}, o).catch(() => undefined)],
    ["ListAuditEvents as a tenant member (PERMISSION_DENIED)", "mia", (c, o) => c.audit.listAuditEvents({}, o).catch(() => undefined)],
  ])("%s", async (_what, caller, call) => {
    const total = (await events("")).length;
    const [id, options] = requestId();
    await call(as(caller), options);
    expect(await eventsOf(id)).toEqual([]);
    expect((await events("")).length).toBe(total);
  });
});

// ------------------------------------------------------------------------------------------------

describe("ListAuditEvents", () => {
  /** Three CreateRegion events, made one after another, oldest first. */
  const made: AuditEvent[] = [];
  beforeAll(async () => {
    for (const name of ["newest-1", "newest-2", "newest-3"]) {
      const [id, options] = requestId();
      await t.clients().inventory.createRegion({ region: { name } }, options);
      made.push(...(await eventsOf(id)));
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct milliseconds
    }
    expect(made).toHaveLength(3);
  });

  it("answers newest first", async () => {
    const all = await events("");
    const times = all.map((e) => timestampDate(e.time!).getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const ids = all.map((e) => e.id);
    expect(ids).toEqual([...ids].sort().reverse());
    const positions = made.map((e) => ids.indexOf(e.id));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => b - a));
  });

  it("pages through everything exactly once", async () => {
    const all = await events("");
    expect(all.length).toBeGreaterThan(7);
    const paged: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await t.clients().audit.listAuditEvents({ pageSize: 3, pageToken });
      expect(page.auditEvents.length).toBeLessThanOrEqual(3);
      paged.push(...page.auditEvents.map((e) => e.id));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken && pages < 1000);
    expect(pages).toBe(Math.ceil(all.length / 3));
    expect(paged).toEqual(all.map((e) => e.id));
  });

  it("pages a filtered list, and the page token is bound to its filter", async () => {
    const filter = `method = "${CREATE_REGION}"`;
    const first = await t.clients().audit.listAuditEvents({ filter, pageSize: 2 });
    expect(first.auditEvents).toHaveLength(2);
    const rest = await t.clients().audit.listAuditEvents({ filter, pageSize: 1000, pageToken: first.nextPageToken });
    expect([...first.auditEvents, ...rest.auditEvents].map((e) => e.id)).toEqual((await events(filter)).map((e) => e.id));
    const error = await refusal(
      t.clients().audit.listAuditEvents({ filter: 'result = "OK"', pageSize: 2, pageToken: first.nextPageToken }),
    );
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INVALID_PAGE_TOKEN");
  });

  it.each<[string, string | (() => string), (e: AuditEvent) => boolean]>([
    ["principal", 'principal = "mia"', (e) => e.principal === "mia"],
    ["principal (anonymous callers)", 'principal = "anonymous"', (e) => e.principal === "anonymous" && e.role === Role.UNSPECIFIED],
    ["method", 'method = "rackplane.v1.InventoryService/DeleteRegion"', (e) => e.method === "rackplane.v1.InventoryService/DeleteRegion"],
    ["result", 'result = "PERMISSION_DENIED"', (e) => e.result === "PERMISSION_DENIED"],
    ["result !=", 'result != "OK"', (e) => e.result !== "OK"],
    ["reason", 'reason = "ETAG_MISMATCH"', (e) => e.reason === "ETAG_MISMATCH"],
    ["role, by its enum name", "role = ROLE_TENANT_MEMBER", (e) => e.role === Role.TENANT_MEMBER],
    ["resource_type and result", 'resource_type = "region" AND result = "OK"', (e) => e.resourceType === "region" && e.result === "OK"],
    ["tenant_id", () => `tenant_id = "${T1}"`, (e) => e.tenantId === T1],
  ])("filters by %s", async (_what, filter, matches) => {
    const all = await events("");
    const filtered = await events(typeof filter === "string" ? filter : filter());
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.map((e) => e.id)).toEqual(all.filter(matches).map((e) => e.id));
  });

  it("filters by resource_id: the whole history of one region", async () => {
    const history = await events(`resource_id = "${s.regionA}"`);
    expect(history.every((e) => e.resourceId === s.regionA)).toBe(true);
    // Created OK (oldest, last), then refused: bad input, stale etag, dependents.
    expect(history.at(-1)).toMatchObject({ method: CREATE_REGION, result: "OK" });
    expect(new Set(history.map((e) => e.result))).toEqual(new Set(["OK", "INVALID_ARGUMENT", "ABORTED", "FAILED_PRECONDITION"]));
  });

  it('filters by time: time >= "…" and time < "…"', async () => {
    const at = timestampDate(made[1]!.time!).toISOString();
    const since = (await events(`time >= "${at}" AND method = "${CREATE_REGION}"`)).map((e) => e.id);
    expect(since).toContain(made[1]!.id);
    expect(since).toContain(made[2]!.id);
    expect(since).not.toContain(made[0]!.id);
    const before = (await events(`time < "${at}" AND method = "${CREATE_REGION}"`)).map((e) => e.id);
    expect(before).toContain(made[0]!.id);
    expect(before).not.toContain(made[1]!.id);
    expect(before).not.toContain(made[2]!.id);
  });
});

// ------------------------------------------------------------------------------------------------

describe("who may read the trail", () => {
  it("a tenant admin sees its tenant's events, and only those", async () => {
    // An event of each tenant: refused inventory changes by a member of T1 and one of T2.
    const [mine, mineOptions] = requestId();
    const [theirs, theirsOptions] = requestId();
    await refusal(as("mia").inventory.createRegion({ region: { name: "t1-try" } }, mineOptions));
    await refusal(as("mo").inventory.createRegion({ region: { name: "t2-try" } }, theirsOptions));

    const seen = await events("", "tara");
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((e) => e.tenantId === T1)).toBe(true);
    expect(seen.map((e) => e.requestId)).toContain(mine);
    expect(seen.map((e) => e.requestId)).not.toContain(theirs);
    expect(seen.map((e) => e.id)).toEqual((await events(`tenant_id = "${T1}"`)).map((e) => e.id));
    // Even when it asks for another tenant's events by name.
    expect(await events(`request_id = "${theirs}"`, "tara")).toEqual([]);
    expect(await events('principal = "admin"', "tara")).toEqual([]);
  });

  it("a service sees every event", async () => {
    expect((await events("", "svc")).map((e) => e.id)).toEqual((await events("")).map((e) => e.id));
  });

  it.each<[Caller]>([["mia"], ["agent"]])("%s (tenant member, agent) is refused: PERMISSION_DENIED", async (caller) => {
    const error = await refusal(as(caller).audit.listAuditEvents({}));
    expect(codeName(error.code)).toBe("PERMISSION_DENIED");
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("ROLE_NOT_ALLOWED");
  });
});
