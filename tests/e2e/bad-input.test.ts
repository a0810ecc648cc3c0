// Bad input, table by table: for every RPC of InventoryService, IdentityService and AuditService,
// requests the server must refuse, each with the status code and the google.rpc.ErrorInfo reason it
// must answer (and, for INVALID_ARGUMENT, the google.rpc.BadRequest field path), and each checked to
// change nothing: a fingerprint of the whole database but the audit trail is taken before and after
// every single case. Then every RPC with a garbage token, and Connect JSON. What applies to every RPC of
// the contract alike (no token, revoked tokens, roles, undecodable bodies, page sizes and tokens) is
// tests/e2e/contract-matrix.test.ts.
import { Code, ConnectError, createClient, type CallOptions } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { AuditService } from "../../gen/es/rackplane/v1/audit_pb.js";
import { IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import {
  BaremetalStatus,
  CustomFieldType,
  InventoryService,
  type BaremetalGroupDimension,
  type RackStatus,
} from "../../gen/es/rackplane/v1/inventory_pb.js";
import { served as routes } from "../../src/server/routes.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;

/** What the cases refer to: server-assigned ids are only known once the seed exists. */
interface Seed {
  region: string;
  datacenter: string;
  room: string;
  /** 42U: U1–U2 reserved, U10 in the slot group, the host on U21–U22; allows no tenant. */
  rack: string;
  /** 42U, empty, under the second region: where the acceptable host requests go, so that the hosts
   * they create do not hold up the forced deletes of the first region's tree. */
  rack2: string;
  slotGroup: string;
  reservation: string;
  hostGroup: string;
  /** In the host group, on the first rack. */
  host: string;
  /** "owner", a string field of racks. */
  fieldDefinition: string;
  /** A real tenant (TEN-2), allowed in no rack. */
  tenant: string;
  serviceToken: string;
  /** A platform-admin token that was revoked. */
  revokedSecret: string;
  memberSecret: string;
  agentSecret: string;
  regionsPageToken: string;
  tokensPageToken: string;
  auditPageToken: string;
}
let s: Seed;

/** A well-formed id that names nothing. */
const MISSING = "0f5b4a3e-58a1-4c4e-9b7e-1d2c3b4a5f60";
const long = (n: number) => "a".repeat(n);

/** A host as CreateBaremetal takes it, 2U from `firstPosition`, in the seed's host group unless told otherwise. */
function hostRequest(name: string, serialNumber: string, rackId: string, firstPosition: number, groupId = s.hostGroup) {
  return {
    name,
    serialNumber,
    capacity: { cpuCores: 32, memoryMib: 131072n, storageGib: 2000n },
    placement: { rackId, firstPosition, heightUnits: 2 },
    groupId,
  };
}

beforeAll(async () => {
  t = await startTestServer();
  const { inventory, identity, audit } = t.clients();
  const tenant = await t.tenant("seed-tenant");
  const region = (await inventory.createRegion({ region: { name: "seed-region" } })).region!;
  const region2 = (await inventory.createRegion({ region: { name: "seed-region-2" } })).region!;
  const datacenter = (await inventory.createDatacenter({ datacenter: { name: "seed-dc", regionId: region.id } })).datacenter!;
  const room = (await inventory.createRoom({ room: { name: "seed-room", datacenterId: datacenter.id } })).room!;
  const rack = (await inventory.createRack({ rack: { name: "seed-rack", roomId: room.id, heightUnits: 42 } })).rack!;
  const datacenter2 = (await inventory.createDatacenter({ datacenter: { name: "seed-dc-2", regionId: region2.id } })).datacenter!;
  const room2 = (await inventory.createRoom({ room: { name: "seed-room-2", datacenterId: datacenter2.id } })).room!;
  const rack2 = (await inventory.createRack({ rack: { name: "seed-rack-2", roomId: room2.id, heightUnits: 42 } })).rack!;
  const slotGroup = (await inventory.createSlotGroup({ slotGroup: { name: "seed-group" } })).slotGroup!;
  await inventory.updateRackUnit({
    unit: { rackId: rack.id, position: 10, slotGroupId: slotGroup.id },
    updateMask: { paths: ["slot_group_id"] },
  });
  const reservation = (await inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 1, unitCount: 2, purpose: "seed" })).reservation!;
  const hostGroup = (await inventory.createBaremetalGroup({ group: { name: "seed-hosts" } })).group!;
  const host = (await inventory.createBaremetal({ baremetal: hostRequest("seed-host", "SN-SEED", rack.id, 21, hostGroup.id) })).baremetal!;
  const fieldDefinition = (
    await inventory.createCustomFieldDefinition({ definition: { name: "owner", type: CustomFieldType.STRING, resourceTypes: ["rack"] } })
  ).definition!;
  const serviceToken = (await identity.createToken({ principal: "seed-service", role: Role.SERVICE })).token!;
  const revoked = await identity.createToken({ principal: "gone", role: Role.PLATFORM_ADMIN });
  await identity.revokeToken({ id: revoked.token!.id });
  s = {
    region: region.id,
    datacenter: datacenter.id,
    room: room.id,
    rack: rack.id,
    rack2: rack2.id,
    slotGroup: slotGroup.id,
    reservation: reservation.id,
    hostGroup: hostGroup.id,
    host: host.id,
    fieldDefinition: fieldDefinition.id,
    tenant,
    serviceToken: serviceToken.id,
    revokedSecret: revoked.secret,
    memberSecret: await t.token(Role.TENANT_MEMBER, "member", tenant),
    agentSecret: await t.token(Role.AGENT, "agent"),
    regionsPageToken: (await inventory.listRegions({ pageSize: 1 })).nextPageToken,
    tokensPageToken: (await identity.listTokens({ pageSize: 1 })).nextPageToken,
    auditPageToken: (await audit.listAuditEvents({ pageSize: 1 })).nextPageToken,
  };
  expect(s.regionsPageToken && s.tokensPageToken && s.auditPageToken).toBeTruthy();
});
afterAll(() => t.close());

// ------------------------------------------------------------------------------------------------
// The fingerprint: a digest of every row of every table but the audit trail (which refusals do
// write), read in one query from the server's own database. Whatever a refused request could have
// changed — a resource, a unit, a reservation, a token, an idempotency key, a table added later —
// changes it.

let fingerprintQuery = "";

async function fingerprint(): Promise<Record<string, string>> {
  const em = t.server.db.em();
  if (!fingerprintQuery) {
    const tables = await em.execute<{ table_name: string }[]>(
      `select table_name from information_schema.tables
        where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not in ('audit_event', 'mikro_orm_migrations')
        order by table_name`,
    );
    expect(tables.map((table) => table.table_name)).toEqual(
      expect.arrayContaining(["region", "rack", "rack_unit", "rack_reservation", "api_token", "idempotency_key"]),
    );
    fingerprintQuery = `select ${tables
      .map(
        ({ table_name: name }) =>
          `(select count(*) || ':' || coalesce(md5(string_agg(r::text, '|' order by r::text)), '') from "${name}" r) as "${name}"`,
      )
      .join(", ")}`;
  }
  const [row] = await em.execute<Record<string, string>[]>(fingerprintQuery);
  return row!;
}

// ------------------------------------------------------------------------------------------------
// Calling any RPC by name, as any caller.

type ServiceName = "InventoryService" | "IdentityService" | "AuditService";
type Rpc = `${ServiceName}/${string}`;
type Caller = "admin" | "no token" | "garbage token" | "revoked token" | "tenant member" | "agent";
const services = { InventoryService, IdentityService, AuditService } as const;

const clientCache = new Map<Caller, ReturnType<typeof makeClients>>();
const clientsAs = (caller: Caller) => clientCache.get(caller) ?? clientCache.set(caller, makeClients(caller)).get(caller)!;

function makeClients(caller: Caller) {
  const secret = {
    admin: t.adminToken,
    "no token": undefined,
    "garbage token": "rpt_this-is-not-a-token-the-server-issued",
    "revoked token": s.revokedSecret,
    "tenant member": s.memberSecret,
    agent: s.agentSecret,
  }[caller];
  const transport = createGrpcTransport({
    baseUrl: t.url,
    interceptors: secret === undefined ? [] : [bearer(secret)],
  });
  return {
    InventoryService: createClient(InventoryService, transport),
    IdentityService: createClient(IdentityService, transport),
    AuditService: createClient(AuditService, transport),
  };
}

async function invoke(rpc: Rpc, request: object, caller: Caller = "admin", options?: CallOptions): Promise<unknown> {
  const [service, method] = rpc.split("/") as [ServiceName, string];
  const desc = services[service].methods.find((m) => m.name === method);
  if (!desc) throw new Error(`no RPC ${rpc}`);
  const client = clientsAs(caller)[service] as unknown as Record<string, (req: object, options?: CallOptions) => Promise<unknown>>;
  return client[desc.localName]!(request, options);
}

/** Calls and returns the error; a request the server accepts fails the test. */
async function refusal(rpc: Rpc, request: object, caller: Caller = "admin"): Promise<ConnectError> {
  try {
    await invoke(rpc, request, caller);
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error(
    `${rpc} accepted ${JSON.stringify(request, (_key, value: unknown) => (typeof value === "bigint" ? String(value) : value))}`,
  );
}

const codeName = (code: Code) => Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

function expectRefusal(error: ConnectError, code: string, reason: string, field?: string): void {
  expect(`${codeName(error.code)} ${error.rawMessage}`).toMatch(new RegExp(`^${code} `));
  const infos = error.findDetails(ErrorInfoSchema);
  expect(infos, "exactly one google.rpc.ErrorInfo").toHaveLength(1);
  expect(infos[0]!.domain).toBe("rackplane.dev");
  expect(infos[0]!.reason).toBe(reason);
  if (code === "INVALID_ARGUMENT") {
    const fields = error.findDetails(BadRequestSchema).flatMap((bad) => bad.fieldViolations.map((violation) => violation.field));
    expect(fields, "google.rpc.BadRequest field paths").toContain(field);
  }
}

// ------------------------------------------------------------------------------------------------
// The table. Each row: RPC, what is wrong, the request, the expected code, reason and field path.

interface Case {
  rpc: Rpc;
  what: string;
  request: () => object;
  code: string;
  reason: string;
  field?: string;
  caller: Caller;
}

const INVALID = "INVALID_ARGUMENT";
const VALIDATION = "VALIDATION_FAILED";
const NOT_FOUND = "NOT_FOUND";
const row = (
  rpc: Rpc,
  what: string,
  request: () => object,
  code: string,
  reason: string,
  field?: string,
  caller: Caller = "admin",
): Case => ({
  rpc,
  what,
  request,
  code,
  reason,
  caller,
  ...(field === undefined ? {} : { field }),
});
const notFound = (rpc: Rpc, what: string, request: () => object) => row(rpc, what, request, NOT_FOUND, "RESOURCE_NOT_FOUND");
const mask = (...paths: string[]) => ({ paths });
const craftedPageToken = (filter: string) =>
  Buffer.from(
    JSON.stringify({ after: "0".repeat(36), filter: createHash("sha256").update(filter.trim()).digest("base64url").slice(0, 16) }),
  ).toString("base64url");

const R = "InventoryService/";
const cases: Case[] = [
  // Regions ----------------------------------------------------------------------------------------------------------------
  row(`${R}CreateRegion`, "no region", () => ({}), INVALID, VALIDATION, "region"),
  row(`${R}CreateRegion`, "no name", () => ({ region: { description: "x" } }), INVALID, VALIDATION, "region.name"),
  row(`${R}CreateRegion`, "name of 64 characters", () => ({ region: { name: long(64) } }), INVALID, VALIDATION, "region.name"),
  row(`${R}CreateRegion`, "name not a DNS-like label", () => ({ region: { name: "-eu west-" } }), INVALID, VALIDATION, "region.name"),
  row(
    `${R}CreateRegion`,
    "description of 1025 characters",
    () => ({ region: { name: "r", description: long(1025) } }),
    INVALID,
    VALIDATION,
    "region.description",
  ),
  row(
    `${R}CreateRegion`,
    "request_id of 129 characters",
    () => ({ region: { name: "r" }, requestId: long(129) }),
    INVALID,
    VALIDATION,
    "request_id",
  ),
  row(`${R}CreateRegion`, "name taken", () => ({ region: { name: "seed-region" } }), "ALREADY_EXISTS", "ALREADY_EXISTS"),
  row(`${R}GetRegion`, "id not a UUID", () => ({ id: "eu-west" }), INVALID, VALIDATION, "id"),
  row(`${R}GetRegion`, "no id", () => ({}), INVALID, VALIDATION, "id"),
  notFound(`${R}GetRegion`, "unknown id", () => ({ id: MISSING })),
  row(`${R}ListRegions`, "filter of 2049 characters", () => ({ filter: `name = "${long(2041)}"` }), INVALID, VALIDATION, "filter"),
  row(`${R}ListRegions`, "unknown filter field", () => ({ filter: 'colour = "red"' }), INVALID, "INVALID_FILTER", "filter"),
  row(
    `${R}ListRegions`,
    "filter type error (timestamp)",
    () => ({ filter: 'create_time > "yesterday"' }),
    INVALID,
    "INVALID_FILTER",
    "filter",
  ),
  row(`${R}ListRegions`, "filter syntax: dangling AND", () => ({ filter: 'name = "a" AND' }), INVALID, "INVALID_FILTER", "filter"),
  row(`${R}ListRegions`, "filter type error (id is a UUID)", () => ({ filter: 'id = "eu-west"' }), INVALID, "INVALID_FILTER", "filter"),
  row(
    `${R}ListRegions`,
    "page_token of another filter",
    () => ({ pageToken: s.regionsPageToken, filter: 'name = "x*"' }),
    INVALID,
    "INVALID_PAGE_TOKEN",
    "page_token",
  ),
  row(`${R}ListRegions`, "page_token of 1025 characters", () => ({ pageToken: long(1025) }), INVALID, VALIDATION, "page_token"),
  row(`${R}UpdateRegion`, "no update_mask", () => ({ region: { id: s.region, name: "x" } }), INVALID, VALIDATION, "update_mask"),
  row(`${R}UpdateRegion`, "no region", () => ({ updateMask: mask("name") }), INVALID, VALIDATION, "region"),
  row(`${R}UpdateRegion`, "no id", () => ({ region: { name: "x" }, updateMask: mask("name") }), INVALID, VALIDATION, "region.id"),
  row(
    `${R}UpdateRegion`,
    "id not a UUID",
    () => ({ region: { id: "x", name: "x" }, updateMask: mask("name") }),
    INVALID,
    VALIDATION,
    "region.id",
  ),
  row(
    `${R}UpdateRegion`,
    "empty update_mask",
    () => ({ region: { id: s.region, name: "x" }, updateMask: mask() }),
    INVALID,
    "INVALID_UPDATE_MASK",
    "update_mask",
  ),
  row(
    `${R}UpdateRegion`,
    "unknown update_mask path",
    () => ({ region: { id: s.region }, updateMask: mask("colour") }),
    INVALID,
    "INVALID_UPDATE_MASK",
    "update_mask",
  ),
  row(
    `${R}UpdateRegion`,
    "immutable path id",
    () => ({ region: { id: s.region }, updateMask: mask("id") }),
    INVALID,
    "INVALID_UPDATE_MASK",
    "update_mask",
  ),
  row(
    `${R}UpdateRegion`,
    "output-only path create_time",
    () => ({ region: { id: s.region }, updateMask: mask("create_time") }),
    INVALID,
    "INVALID_UPDATE_MASK",
    "update_mask",
  ),
  row(
    `${R}UpdateRegion`,
    "clears the name",
    () => ({ region: { id: s.region, name: "" }, updateMask: mask("name") }),
    INVALID,
    VALIDATION,
    "region.name",
  ),
  row(
    `${R}UpdateRegion`,
    "name of 64 characters",
    () => ({ region: { id: s.region, name: long(64) }, updateMask: mask("name") }),
    INVALID,
    VALIDATION,
    "region.name",
  ),
  notFound(`${R}UpdateRegion`, "unknown id", () => ({ region: { id: MISSING, name: "x" }, updateMask: mask("name") })),
  row(
    `${R}UpdateRegion`,
    "stale etag",
    () => ({ region: { id: s.region, etag: '"99"', name: "x" }, updateMask: mask("name") }),
    "ABORTED",
    "ETAG_MISMATCH",
  ),
  row(`${R}DeleteRegion`, "id not a UUID", () => ({ id: "eu-west" }), INVALID, VALIDATION, "id"),
  row(`${R}DeleteRegion`, "etag of 65 characters", () => ({ id: s.region, etag: long(65) }), INVALID, VALIDATION, "etag"),
  notFound(`${R}DeleteRegion`, "unknown id", () => ({ id: MISSING })),
  row(`${R}DeleteRegion`, "datacenters left, no force", () => ({ id: s.region }), "FAILED_PRECONDITION", "HAS_DEPENDENTS"),
  row(`${R}DeleteRegion`, "stale etag", () => ({ id: s.region, etag: '"99"', force: true }), "ABORTED", "ETAG_MISMATCH"),

  // Datacenters ------------------------------------------------------------------------------------------------------------
  row(`${R}CreateDatacenter`, "no region_id", () => ({ datacenter: { name: "dc" } }), INVALID, VALIDATION, "datacenter.region_id"),
  row(`${R}CreateDatacenter`, "no name", () => ({ datacenter: { regionId: s.region } }), INVALID, VALIDATION, "datacenter.name"),
  row(
    `${R}CreateDatacenter`,
    "region_id not a UUID",
    () => ({ datacenter: { name: "dc", regionId: "eu-west" } }),
    INVALID,
    VALIDATION,
    "datacenter.region_id",
  ),
  row(
    `${R}CreateDatacenter`,
    "latitude 91",
    () => ({ datacenter: { name: "dc", regionId: s.region, location: { latitude: 91 } } }),
    INVALID,
    VALIDATION,
    "datacenter.location.latitude",
  ),
  row(
    `${R}CreateDatacenter`,
    "longitude -180.5",
    () => ({ datacenter: { name: "dc", regionId: s.region, location: { longitude: -180.5 } } }),
    INVALID,
    VALIDATION,
    "datacenter.location.longitude",
  ),
  row(
    `${R}CreateDatacenter`,
    "latitude NaN",
    () => ({ datacenter: { name: "dc", regionId: s.region, location: { latitude: Number.NaN } } }),
    INVALID,
    VALIDATION,
    "datacenter.location.latitude",
  ),
  row(
    `${R}CreateDatacenter`,
    "country_code not ISO alpha-2",
    () => ({ datacenter: { name: "dc", regionId: s.region, location: { countryCode: "deu" } } }),
    INVALID,
    VALIDATION,
    "datacenter.location.country_code",
  ),
  row(
    `${R}CreateDatacenter`,
    "city of 129 characters",
    () => ({ datacenter: { name: "dc", regionId: s.region, location: { city: long(129) } } }),
    INVALID,
    VALIDATION,
    "datacenter.location.city",
  ),
  notFound(`${R}CreateDatacenter`, "region does not exist", () => ({ datacenter: { name: "dc", regionId: MISSING } })),
  row(
    `${R}CreateDatacenter`,
    "name taken",
    () => ({ datacenter: { name: "seed-dc", regionId: s.region } }),
    "ALREADY_EXISTS",
    "ALREADY_EXISTS",
  ),
  row(`${R}GetDatacenter`, "id not a UUID", () => ({ id: "fra1" }), INVALID, VALIDATION, "id"),
  notFound(`${R}GetDatacenter`, "unknown id", () => ({ id: MISSING })),
  row(`${R}ListDatacenters`, "negative page_size", () => ({ pageSize: -5 }), INVALID, VALIDATION, "page_size"),
  row(`${R}ListDatacenters`, "unknown filter field (country)", () => ({ filter: 'country = "DE"' }), INVALID, "INVALID_FILTER", "filter"),
  row(`${R}ListDatacenters`, "filter syntax: unclosed parenthesis", () => ({ filter: '(name = "a"' }), INVALID, "INVALID_FILTER", "filter"),
  row(
    `${R}UpdateDatacenter`,
    "immutable path region_id",
    () => ({ datacenter: { id: s.datacenter, regionId: MISSING }, updateMask: mask("region_id") }),
    INVALID,
    "INVALID_UPDATE_MASK",
    "update_mask",
  ),
  row(
    `${R}UpdateDatacenter`,
    "no update_mask",
    () => ({ datacenter: { id: s.datacenter, name: "x" } }),
    INVALID,
    VALIDATION,
    "update_mask",
  ),
  row(
    `${R}UpdateDatacenter`,
    "latitude 91",
    () => ({ datacenter: { id: s.datacenter, location: { latitude: 91 } }, updateMask: mask("location.latitude") }),
    INVALID,
    VALIDATION,
    "datacenter.location.latitude",
  ),
  notFound(`${R}UpdateDatacenter`, "unknown id", () => ({
    datacenter: { id: MISSING, description: "x" },
    updateMask: mask("description"),
  })),
  row(`${R}DeleteDatacenter`, "id not a UUID", () => ({ id: "fra1" }), INVALID, VALIDATION, "id"),
  notFound(`${R}DeleteDatacenter`, "unknown id", () => ({ id: MISSING })),
  row(`${R}DeleteDatacenter`, "rooms left, no force", () => ({ id: s.datacenter }), "FAILED_PRECONDITION", "HAS_DEPENDENTS"),

  // Rooms ------------------------------------------------------------------------------------------------------------------
  row(`${R}CreateRoom`, "no datacenter_id", () => ({ room: { name: "hall" } }), INVALID, VALIDATION, "room.datacenter_id"),
  row(
    `${R}CreateRoom`,
    "datacenter_id not a UUID",
    () => ({ room: { name: "hall", datacenterId: "fra1" } }),
    INVALID,
    VALIDATION,
    "room.datacenter_id",
  ),
  row(
    `${R}CreateRoom`,
    "name of 64 characters",
    () => ({ room: { name: long(64), datacenterId: s.datacenter } }),
    INVALID,
    VALIDATION,
    "room.name",
  ),
  notFound(`${R}CreateRoom`, "datacenter does not exist", () => ({ room: { name: "hall", datacenterId: MISSING } })),
  row(`${R}GetRoom`, "id not a UUID", () => ({ id: "hall" }), INVALID, VALIDATION, "id"),
  notFound(`${R}GetRoom`, "unknown id", () => ({ id: MISSING })),
  row(`${R}ListRooms`, "filter syntax: no value", () => ({ filter: "name < " }), INVALID, "INVALID_FILTER", "filter"),
  row(
    `${R}ListRooms`,
    "filter type error (datacenter_id is a UUID)",
    () => ({ filter: 'datacenter_id = "fra1"' }),
    INVALID,
    "INVALID_FILTER",
    "filter",
  ),
  row(
    `${R}UpdateRoom`,
    "immutable path datacenter_id",
    () => ({ room: { id: s.room, datacenterId: MISSING }, updateMask: mask("datacenter_id") }),
    INVALID,
    "INVALID_UPDATE_MASK",
    "update_mask",
  ),
  row(
    `${R}UpdateRoom`,
    "output-only path region_id",
    () => ({ room: { id: s.room }, updateMask: mask("region_id") }),
    INVALID,
    "INVALID_UPDATE_MASK",
    "update_mask",
  ),
  row(`${R}UpdateRoom`, "no id", () => ({ room: { name: "x" }, updateMask: mask("name") }), INVALID, VALIDATION, "room.id"),
  notFound(`${R}UpdateRoom`, "unknown id", () => ({ room: { id: MISSING, name: "x" }, updateMask: mask("name") })),
  row(`${R}DeleteRoom`, "id not a UUID", () => ({ id: "hall" }), INVALID, VALIDATION, "id"),
  notFound(`${R}DeleteRoom`, "unknown id", () => ({ id: MISSING })),
  row(`${R}DeleteRoom`, "racks left, no force", () => ({ id: s.room }), "FAILED_PRECONDITION", "HAS_DEPENDENTS"),

  // Racks ------------------------------------------------------------------------------------------------------------------
  row(`${R}CreateRack`, "no rack", () => ({}), INVALID, VALIDATION, "rack"),
  row(`${R}CreateRack`, "no name", () => ({ rack: { roomId: s.room, heightUnits: 42 } }), INVALID, VALIDATION, "rack.name"),
  row(`${R}CreateRack`, "no room_id", () => ({ rack: { name: "r1", heightUnits: 42 } }), INVALID, VALIDATION, "rack.room_id"),
  row(`${R}CreateRack`, "no height_units", () => ({ rack: { name: "r1", roomId: s.room } }), INVALID, VALIDATION, "rack.height_units"),
  row(
    `${R}CreateRack`,
    "height_units 61",
    () => ({ rack: { name: "r1", roomId: s.room, heightUnits: 61 } }),
    INVALID,
    VALIDATION,
    "rack.height_units",
  ),
  row(
    `${R}CreateRack`,
    "asn 23456 (AS_TRANS)",
    () => ({ rack: { name: "r1", roomId: s.room, heightUnits: 42, asn: 23456 } }),
    INVALID,
    VALIDATION,
    "rack.asn",
  ),
  row(
    `${R}CreateRack`,
    "asn 4294967295",
    () => ({ rack: { name: "r1", roomId: s.room, heightUnits: 42, asn: 4294967295 } }),
    INVALID,
    VALIDATION,
    "rack.asn",
  ),
  row(
    `${R}CreateRack`,
    "management_vlan 4095",
    () => ({ rack: { name: "r1", roomId: s.room, heightUnits: 42, network: { managementVlan: 4095 } } }),
    INVALID,
    VALIDATION,
    "rack.network.management_vlan",
  ),
  row(
    `${R}CreateRack`,
    "subnet /33",
    () => ({ rack: { name: "r1", roomId: s.room, heightUnits: 42, network: { subnets: ["10.0.0.0/33"] } } }),
    INVALID,
    VALIDATION,
    "rack.network.subnets[0]",
  ),
  row(
    `${R}CreateRack`,
    "subnet not a CIDR",
    () => ({ rack: { name: "r1", roomId: s.room, heightUnits: 42, network: { subnets: ["10.0.0.0/24", "fabric-a"] } } }),
    INVALID,
    VALIDATION,
    "rack.network.subnets[1]",
  ),
  row(
    `${R}CreateRack`,
    "tor_switches repeated",
    () => ({ rack: { name: "r1", roomId: s.room, heightUnits: 42, network: { torSwitches: ["tor1", "tor1"] } } }),
    INVALID,
    VALIDATION,
    "rack.network.tor_switches",
  ),
  row(
    `${R}CreateRack`,
    "allowed tenant not a UUID",
    () => ({ rack: { name: "r1", roomId: s.room, heightUnits: 42, allowedTenantIds: ["acme"] } }),
    INVALID,
    VALIDATION,
    "rack.allowed_tenant_ids[0]",
  ),
  row(
    `${R}CreateRack`,
    "status not a RackStatus",
    () => ({ rack: { name: "r1", roomId: s.room, heightUnits: 42, status: 99 as RackStatus } }),
    INVALID,
    VALIDATION,
    "rack.status",
  ),
  row(
    `${R}CreateRack`,
    "description of 1025 characters",
    () => ({ rack: { name: "r1", roomId: s.room, heightUnits: 42, description: long(1025) } }),
    INVALID,
    VALIDATION,
    "rack.description",
  ),
  notFound(`${R}CreateRack`, "room does not exist", () => ({ rack: { name: "r1", roomId: MISSING, heightUnits: 42 } })),
  row(
    `${R}CreateRack`,
    "name taken in the room",
    () => ({ rack: { name: "seed-rack", roomId: s.room, heightUnits: 42 } }),
    "ALREADY_EXISTS",
    "ALREADY_EXISTS",
  ),
  row(`${R}GetRack`, "id not a UUID", () => ({ id: "seed-rack" }), INVALID, VALIDATION, "id"),
  notFound(`${R}GetRack`, "unknown id", () => ({ id: MISSING })),
  row(
    `${R}ListRacks`,
    "filter type error (height_units)",
    () => ({ filter: 'height_units = "tall"' }),
    INVALID,
    "INVALID_FILTER",
    "filter",
  ),
  row(
    `${R}ListRacks`,
    "filter unknown enum value",
    () => ({ filter: "status = RACK_STATUS_ON_FIRE" }),
    INVALID,
    "INVALID_FILTER",
    "filter",
  ),
  row(`${R}ListRacks`, "filter operator not allowed (asn:)", () => ({ filter: "asn : 65000" }), INVALID, "INVALID_FILTER", "filter"),
  row(
    `${R}ListRacks`,
    "forged page_token with a non-UUID position",
    () => ({ pageToken: craftedPageToken("") }),
    INVALID,
    "INVALID_PAGE_TOKEN",
    "page_token",
  ),
  row(`${R}UpdateRack`, "no id", () => ({ rack: { name: "x" }, updateMask: mask("name") }), INVALID, VALIDATION, "rack.id"),
  row(
    `${R}UpdateRack`,
    "output-only path datacenter_id",
    () => ({ rack: { id: s.rack, datacenterId: MISSING }, updateMask: mask("datacenter_id") }),
    INVALID,
    "INVALID_UPDATE_MASK",
    "update_mask",
  ),
  row(
    `${R}UpdateRack`,
    "immutable path id",
    () => ({ rack: { id: s.rack }, updateMask: mask("id") }),
    INVALID,
    "INVALID_UPDATE_MASK",
    "update_mask",
  ),
  row(
    `${R}UpdateRack`,
    "height_units 61",
    () => ({ rack: { id: s.rack, heightUnits: 61 }, updateMask: mask("height_units") }),
    INVALID,
    VALIDATION,
    "rack.height_units",
  ),
  row(
    `${R}UpdateRack`,
    "clears height_units",
    () => ({ rack: { id: s.rack, heightUnits: 0 }, updateMask: mask("height_units") }),
    INVALID,
    VALIDATION,
    "rack.height_units",
  ),
  row(
    `${R}UpdateRack`,
    "subnet not a CIDR",
    () => ({ rack: { id: s.rack, network: { subnets: ["300.1.1.0/24"] } }, updateMask: mask("network.subnets") }),
    INVALID,
    VALIDATION,
    "rack.network.subnets[0]",
  ),
  notFound(`${R}UpdateRack`, "move to a room that does not exist", () => ({
    rack: { id: s.rack, roomId: MISSING },
    updateMask: mask("room_id"),
  })),
  row(
    `${R}UpdateRack`,
    "lower than a reserved unit",
    () => ({ rack: { id: s.rack, heightUnits: 1 }, updateMask: mask("height_units") }),
    "FAILED_PRECONDITION",
    "RACK_UNITS_IN_USE",
  ),
  row(
    `${R}UpdateRack`,
    "stale etag",
    () => ({ rack: { id: s.rack, etag: '"99"', description: "x" }, updateMask: mask("description") }),
    "ABORTED",
    "ETAG_MISMATCH",
  ),
  row(`${R}DeleteRack`, "id not a UUID", () => ({ id: "seed-rack" }), INVALID, VALIDATION, "id"),
  notFound(`${R}DeleteRack`, "unknown id", () => ({ id: MISSING })),
  row(`${R}DeleteRack`, "reservations left, no force", () => ({ id: s.rack }), "FAILED_PRECONDITION", "HAS_DEPENDENTS"),
  row(`${R}DeleteRack`, "stale etag", () => ({ id: s.rack, etag: '"99"', force: true }), "ABORTED", "ETAG_MISMATCH"),

  // Rack units -------------------------------------------------------------------------------------------------------------
  row(`${R}GetRackElevation`, "rack_id not a UUID", () => ({ rackId: "seed-rack" }), INVALID, VALIDATION, "rack_id"),
  notFound(`${R}GetRackElevation`, "unknown rack", () => ({ rackId: MISSING })),
  row(`${R}UpdateRackUnit`, "no unit", () => ({ updateMask: mask("network") }), INVALID, VALIDATION, "unit"),
  row(
    `${R}UpdateRackUnit`,
    "no position",
    () => ({ unit: { rackId: s.rack }, updateMask: mask("network") }),
    INVALID,
    VALIDATION,
    "unit.position",
  ),
  row(
    `${R}UpdateRackUnit`,
    "position 61",
    () => ({ unit: { rackId: s.rack, position: 61 }, updateMask: mask("network") }),
    INVALID,
    VALIDATION,
    "unit.position",
  ),
  row(
    `${R}UpdateRackUnit`,
    "vlan 4095",
    () => ({ unit: { rackId: s.rack, position: 5, network: { vlan: 4095 } }, updateMask: mask("network") }),
    INVALID,
    VALIDATION,
    "unit.network.vlan",
  ),
  row(
    `${R}UpdateRackUnit`,
    "address not an IP",
    () => ({ unit: { rackId: s.rack, position: 5, network: { addresses: ["10.0.0.256"] } }, updateMask: mask("network.addresses") }),
    INVALID,
    VALIDATION,
    "unit.network.addresses[0]",
  ),
  row(
    `${R}UpdateRackUnit`,
    "slot_group_id not a UUID",
    () => ({ unit: { rackId: s.rack, position: 5, slotGroupId: "seed-group" }, updateMask: mask("slot_group_id") }),
    INVALID,
    VALIDATION,
    "unit.slot_group_id",
  ),
  row(
    `${R}UpdateRackUnit`,
    "output-only path status",
    () => ({ unit: { rackId: s.rack, position: 5 }, updateMask: mask("status") }),
    INVALID,
    "INVALID_UPDATE_MASK",
    "update_mask",
  ),
  row(`${R}UpdateRackUnit`, "no update_mask", () => ({ unit: { rackId: s.rack, position: 5 } }), INVALID, VALIDATION, "update_mask"),
  notFound(`${R}UpdateRackUnit`, "slot group does not exist", () => ({
    unit: { rackId: s.rack, position: 5, slotGroupId: MISSING },
    updateMask: mask("slot_group_id"),
  })),
  notFound(`${R}UpdateRackUnit`, "position above the rack", () => ({
    unit: { rackId: s.rack, position: 50 },
    updateMask: mask("network"),
  })),
  notFound(`${R}UpdateRackUnit`, "rack does not exist", () => ({ unit: { rackId: MISSING, position: 5 }, updateMask: mask("network") })),
  row(
    `${R}ReserveRackUnits`,
    "rack_id not a UUID",
    () => ({ rackId: "seed-rack", firstPosition: 5, unitCount: 1, purpose: "p" }),
    INVALID,
    VALIDATION,
    "rack_id",
  ),
  row(
    `${R}ReserveRackUnits`,
    "first_position 0",
    () => ({ rackId: s.rack, firstPosition: 0, unitCount: 1, purpose: "p" }),
    INVALID,
    VALIDATION,
    "first_position",
  ),
  row(
    `${R}ReserveRackUnits`,
    "unit_count 61",
    () => ({ rackId: s.rack, firstPosition: 1, unitCount: 61, purpose: "p" }),
    INVALID,
    VALIDATION,
    "unit_count",
  ),
  row(`${R}ReserveRackUnits`, "no purpose", () => ({ rackId: s.rack, firstPosition: 5, unitCount: 1 }), INVALID, VALIDATION, "purpose"),
  row(
    `${R}ReserveRackUnits`,
    "tenant_id not a UUID",
    () => ({ rackId: s.rack, firstPosition: 5, unitCount: 1, purpose: "p", tenantId: "acme" }),
    INVALID,
    VALIDATION,
    "tenant_id",
  ),
  row(
    `${R}ReserveRackUnits`,
    "request_id of 129 characters",
    () => ({ rackId: s.rack, firstPosition: 5, unitCount: 1, purpose: "p", requestId: long(129) }),
    INVALID,
    VALIDATION,
    "request_id",
  ),
  row(
    `${R}ReserveRackUnits`,
    "range above the rack's top",
    () => ({ rackId: s.rack, firstPosition: 40, unitCount: 5, purpose: "p" }),
    INVALID,
    "UNITS_OUT_OF_RANGE",
    "unit_count",
  ),
  notFound(`${R}ReserveRackUnits`, "rack does not exist", () => ({ rackId: MISSING, firstPosition: 5, unitCount: 1, purpose: "p" })),
  row(
    `${R}ReserveRackUnits`,
    "range overlaps a reservation",
    () => ({ rackId: s.rack, firstPosition: 2, unitCount: 3, purpose: "p" }),
    "FAILED_PRECONDITION",
    "RACK_UNITS_UNAVAILABLE",
  ),
  row(
    `${R}ReserveRackUnits`,
    "tenant not allowed in the rack",
    () => ({ rackId: s.rack, firstPosition: 20, unitCount: 2, purpose: "p", tenantId: s.tenant }),
    "FAILED_PRECONDITION",
    "RACK_UNITS_UNAVAILABLE",
  ),
  row(`${R}ReleaseRackUnits`, "reservation_id not a UUID", () => ({ reservationId: "seed" }), INVALID, VALIDATION, "reservation_id"),
  notFound(`${R}ReleaseRackUnits`, "unknown reservation", () => ({ reservationId: MISSING })),
  row(
    `${R}SetRackUnitsFaulty`,
    "rack_id not a UUID",
    () => ({ rackId: "seed-rack", firstPosition: 5, unitCount: 1, faulty: true, reason: "psu" }),
    INVALID,
    VALIDATION,
    "rack_id",
  ),
  row(
    `${R}SetRackUnitsFaulty`,
    "reason of 513 characters",
    () => ({ rackId: s.rack, firstPosition: 5, unitCount: 1, faulty: true, reason: long(513) }),
    INVALID,
    VALIDATION,
    "reason",
  ),
  row(
    `${R}SetRackUnitsFaulty`,
    "faulty without a reason",
    () => ({ rackId: s.rack, firstPosition: 5, unitCount: 1, faulty: true }),
    INVALID,
    "FAULT_REASON_REQUIRED",
    "reason",
  ),
  row(
    `${R}SetRackUnitsFaulty`,
    "no unit_count",
    () => ({ rackId: s.rack, firstPosition: 5, faulty: true, reason: "psu" }),
    INVALID,
    VALIDATION,
    "unit_count",
  ),
  notFound(`${R}SetRackUnitsFaulty`, "rack does not exist", () => ({
    rackId: MISSING,
    firstPosition: 5,
    unitCount: 1,
    faulty: true,
    reason: "psu",
  })),
  row(
    `${R}SetRackUnitsFaulty`,
    "faulty over reserved units",
    () => ({ rackId: s.rack, firstPosition: 1, unitCount: 3, faulty: true, reason: "psu" }),
    "FAILED_PRECONDITION",
    "RACK_UNITS_UNAVAILABLE",
  ),
  row(
    `${R}SetRackUnitsFaulty`,
    "clearing a fault that is not there",
    () => ({ rackId: s.rack, firstPosition: 5, unitCount: 1, faulty: false }),
    "FAILED_PRECONDITION",
    "RACK_UNITS_UNAVAILABLE",
  ),

  // Slot groups ------------------------------------------------------------------------------------------------------------
  row(`${R}CreateSlotGroup`, "no name", () => ({ slotGroup: { description: "x" } }), INVALID, VALIDATION, "slot_group.name"),
  row(`${R}CreateSlotGroup`, "name with a space", () => ({ slotGroup: { name: "gpu pool" } }), INVALID, VALIDATION, "slot_group.name"),
  row(
    `${R}CreateSlotGroup`,
    "request_id of 129 characters",
    () => ({ slotGroup: { name: "g" }, requestId: long(129) }),
    INVALID,
    VALIDATION,
    "request_id",
  ),
  row(`${R}CreateSlotGroup`, "name taken", () => ({ slotGroup: { name: "seed-group" } }), "ALREADY_EXISTS", "ALREADY_EXISTS"),
  row(`${R}GetSlotGroup`, "id not a UUID", () => ({ id: "seed-group" }), INVALID, VALIDATION, "id"),
  notFound(`${R}GetSlotGroup`, "unknown id", () => ({ id: MISSING })),
  row(
    `${R}ListSlotGroups`,
    "page_token not issued by the server",
    () => ({ pageToken: "eyJhZnRlciI6MX0" }),
    INVALID,
    "INVALID_PAGE_TOKEN",
    "page_token",
  ),
  row(
    `${R}ListSlotGroups`,
    "filter syntax: lower-case and",
    () => ({ filter: 'name = "a" and description = "b"' }),
    INVALID,
    "INVALID_FILTER",
    "filter",
  ),
  row(`${R}UpdateSlotGroup`, "no update_mask", () => ({ slotGroup: { id: s.slotGroup, name: "x" } }), INVALID, VALIDATION, "update_mask"),
  row(
    `${R}UpdateSlotGroup`,
    "description of 1025 characters",
    () => ({ slotGroup: { id: s.slotGroup, description: long(1025) }, updateMask: mask("description") }),
    INVALID,
    VALIDATION,
    "slot_group.description",
  ),
  notFound(`${R}UpdateSlotGroup`, "unknown id", () => ({ slotGroup: { id: MISSING, name: "x" }, updateMask: mask("name") })),
  row(
    `${R}UpdateSlotGroup`,
    "stale etag",
    () => ({ slotGroup: { id: s.slotGroup, etag: '"99"', name: "x" }, updateMask: mask("name") }),
    "ABORTED",
    "ETAG_MISMATCH",
  ),
  row(`${R}DeleteSlotGroup`, "id not a UUID", () => ({ id: "seed-group" }), INVALID, VALIDATION, "id"),
  notFound(`${R}DeleteSlotGroup`, "unknown id", () => ({ id: MISSING })),
  row(`${R}DeleteSlotGroup`, "units left in it, no force", () => ({ id: s.slotGroup }), "FAILED_PRECONDITION", "HAS_DEPENDENTS"),

  // Hosts ------------------------------------------------------------------------------------------------------------------
  row(`${R}CreateBaremetal`, "no baremetal", () => ({}), INVALID, VALIDATION, "baremetal"),
  row(
    `${R}CreateBaremetal`,
    "no serial_number",
    () => ({ baremetal: { ...hostRequest("h1", "", s.rack, 30) } }),
    INVALID,
    VALIDATION,
    "baremetal.serial_number",
  ),
  row(
    `${R}CreateBaremetal`,
    "no capacity",
    () => ({ baremetal: { ...hostRequest("h1", "SN-1", s.rack, 30), capacity: undefined } }),
    INVALID,
    VALIDATION,
    "baremetal.capacity",
  ),
  row(
    `${R}CreateBaremetal`,
    "no placement",
    () => ({ baremetal: { ...hostRequest("h1", "SN-1", s.rack, 30), placement: undefined } }),
    INVALID,
    VALIDATION,
    "baremetal.placement",
  ),
  row(
    `${R}CreateBaremetal`,
    "serial_number with a space",
    () => ({ baremetal: hostRequest("h1", "SN 1", s.rack, 30) }),
    INVALID,
    VALIDATION,
    "baremetal.serial_number",
  ),
  row(
    `${R}CreateBaremetal`,
    "cpu_cores 4097",
    () => ({ baremetal: { ...hostRequest("h1", "SN-1", s.rack, 30), capacity: { cpuCores: 4097 } } }),
    INVALID,
    VALIDATION,
    "baremetal.capacity.cpu_cores",
  ),
  row(
    `${R}CreateBaremetal`,
    "placement at U0",
    () => ({ baremetal: hostRequest("h1", "SN-1", s.rack, 0) }),
    INVALID,
    VALIDATION,
    "baremetal.placement.first_position",
  ),
  row(
    `${R}CreateBaremetal`,
    "placement rack_id not a UUID",
    () => ({ baremetal: hostRequest("h1", "SN-1", "seed-rack", 30) }),
    INVALID,
    VALIDATION,
    "baremetal.placement.rack_id",
  ),
  notFound(`${R}CreateBaremetal`, "rack does not exist", () => ({ baremetal: hostRequest("h1", "SN-1", MISSING, 30) })),
  notFound(`${R}CreateBaremetal`, "host group does not exist", () => ({ baremetal: hostRequest("h1", "SN-1", s.rack, 30, MISSING) })),
  row(
    `${R}CreateBaremetal`,
    "units occupied by another host",
    () => ({ baremetal: hostRequest("h1", "SN-1", s.rack, 21) }),
    "FAILED_PRECONDITION",
    "RACK_UNITS_UNAVAILABLE",
  ),
  row(
    `${R}CreateBaremetal`,
    "serial_number taken",
    () => ({ baremetal: hostRequest("h1", "SN-SEED", s.rack, 30) }),
    "ALREADY_EXISTS",
    "ALREADY_EXISTS",
  ),
  row(`${R}BatchCreateBaremetals`, "no requests", () => ({ requests: [] }), INVALID, VALIDATION, "requests"),
  row(
    `${R}BatchCreateBaremetals`,
    "an item without serial_number",
    () => ({ requests: [{ baremetal: hostRequest("h1", "SN-1", s.rack, 30) }, { baremetal: hostRequest("h2", "", s.rack, 32) }] }),
    INVALID,
    VALIDATION,
    "requests[1].baremetal.serial_number",
  ),
  row(`${R}GetBaremetal`, "id not a UUID", () => ({ id: "seed-host" }), INVALID, VALIDATION, "id"),
  notFound(`${R}GetBaremetal`, "unknown id", () => ({ id: MISSING })),
  row(
    `${R}ListBaremetals`,
    "filter type error (capacity_cpu)",
    () => ({ filter: 'capacity_cpu >= "lots"' }),
    INVALID,
    "INVALID_FILTER",
    "filter",
  ),
  row(`${R}ListBaremetals`, "unknown filter field", () => ({ filter: 'colour = "red"' }), INVALID, "INVALID_FILTER", "filter"),
  row(`${R}UpdateBaremetal`, "no update_mask", () => ({ baremetal: { id: s.host, description: "x" } }), INVALID, VALIDATION, "update_mask"),
  row(
    `${R}UpdateBaremetal`,
    "output-only path status",
    () => ({ baremetal: { id: s.host, status: BaremetalStatus.OFFLINE }, updateMask: mask("status") }),
    INVALID,
    "INVALID_UPDATE_MASK",
    "update_mask",
  ),
  row(
    `${R}UpdateBaremetal`,
    "cpu_cores 4097",
    () => ({ baremetal: { id: s.host, capacity: { cpuCores: 4097 } }, updateMask: mask("capacity") }),
    INVALID,
    VALIDATION,
    "baremetal.capacity.cpu_cores",
  ),
  notFound(`${R}UpdateBaremetal`, "unknown id", () => ({ baremetal: { id: MISSING, description: "x" }, updateMask: mask("description") })),
  row(
    `${R}UpdateBaremetal`,
    "stale etag",
    () => ({ baremetal: { id: s.host, etag: '"99"', description: "x" }, updateMask: mask("description") }),
    "ABORTED",
    "ETAG_MISMATCH",
  ),
  row(`${R}DeleteBaremetal`, "id not a UUID", () => ({ id: "seed-host" }), INVALID, VALIDATION, "id"),
  notFound(`${R}DeleteBaremetal`, "unknown id", () => ({ id: MISSING })),
  row(`${R}DeleteBaremetal`, "stale etag", () => ({ id: s.host, etag: '"99"' }), "ABORTED", "ETAG_MISMATCH"),
  row(`${R}SetBaremetalStatus`, "status 0 (unspecified)", () => ({ id: s.host, reason: "r" }), INVALID, VALIDATION, "status"),
  row(`${R}SetBaremetalStatus`, "no reason", () => ({ id: s.host, status: BaremetalStatus.OFFLINE }), INVALID, VALIDATION, "reason"),
  notFound(`${R}SetBaremetalStatus`, "unknown id", () => ({ id: MISSING, status: BaremetalStatus.OFFLINE, reason: "r" })),
  row(`${R}LocateBaremetal`, "id not a UUID", () => ({ id: "seed-host" }), INVALID, VALIDATION, "id"),
  notFound(`${R}LocateBaremetal`, "unknown id", () => ({ id: MISSING })),
  row(`${R}CreateBaremetalGroup`, "no group", () => ({}), INVALID, VALIDATION, "group"),
  row(`${R}CreateBaremetalGroup`, "no name", () => ({ group: { description: "x" } }), INVALID, VALIDATION, "group.name"),
  row(
    `${R}CreateBaremetalGroup`,
    "dimension not a BaremetalGroupDimension",
    () => ({ group: { name: "g", dimension: 9 as BaremetalGroupDimension } }),
    INVALID,
    VALIDATION,
    "group.dimension",
  ),
  row(`${R}CreateBaremetalGroup`, "name taken", () => ({ group: { name: "seed-hosts" } }), "ALREADY_EXISTS", "ALREADY_EXISTS"),
  row(`${R}GetBaremetalGroup`, "id not a UUID", () => ({ id: "seed-hosts" }), INVALID, VALIDATION, "id"),
  notFound(`${R}GetBaremetalGroup`, "unknown id", () => ({ id: MISSING })),
  row(`${R}ListBaremetalGroups`, "negative page_size", () => ({ pageSize: -3 }), INVALID, VALIDATION, "page_size"),
  row(`${R}UpdateBaremetalGroup`, "no id", () => ({ group: { name: "x" }, updateMask: mask("name") }), INVALID, VALIDATION, "group.id"),
  row(
    `${R}UpdateBaremetalGroup`,
    "unknown update_mask path",
    () => ({ group: { id: s.hostGroup }, updateMask: mask("colour") }),
    INVALID,
    "INVALID_UPDATE_MASK",
    "update_mask",
  ),
  notFound(`${R}UpdateBaremetalGroup`, "unknown id", () => ({ group: { id: MISSING, description: "x" }, updateMask: mask("description") })),
  row(`${R}DeleteBaremetalGroup`, "id not a UUID", () => ({ id: "seed-hosts" }), INVALID, VALIDATION, "id"),
  notFound(`${R}DeleteBaremetalGroup`, "unknown id", () => ({ id: MISSING })),
  row(`${R}DeleteBaremetalGroup`, "hosts left in it, no force", () => ({ id: s.hostGroup }), "FAILED_PRECONDITION", "HAS_DEPENDENTS"),
  row(`${R}CreateCustomFieldDefinition`, "no definition", () => ({}), INVALID, VALIDATION, "definition"),
  row(
    `${R}CreateCustomFieldDefinition`,
    "name not snake_case",
    () => ({ definition: { name: "Owner", type: CustomFieldType.STRING, resourceTypes: ["rack"] } }),
    INVALID,
    VALIDATION,
    "definition.name",
  ),
  row(
    `${R}CreateCustomFieldDefinition`,
    "type 0 (unspecified)",
    () => ({ definition: { name: "cost", resourceTypes: ["rack"] } }),
    INVALID,
    VALIDATION,
    "definition.type",
  ),
  row(
    `${R}CreateCustomFieldDefinition`,
    "enum without enum_values",
    () => ({ definition: { name: "tier", type: CustomFieldType.ENUM, resourceTypes: ["rack"] } }),
    INVALID,
    VALIDATION,
    "definition.enum_values",
  ),
  row(
    `${R}CreateCustomFieldDefinition`,
    "string with enum_values",
    () => ({ definition: { name: "tier", type: CustomFieldType.STRING, enumValues: ["a"], resourceTypes: ["rack"] } }),
    INVALID,
    VALIDATION,
    "definition.enum_values",
  ),
  row(
    `${R}CreateCustomFieldDefinition`,
    "no resource_types",
    () => ({ definition: { name: "tier", type: CustomFieldType.STRING } }),
    INVALID,
    VALIDATION,
    "definition.resource_types",
  ),
  row(
    `${R}CreateCustomFieldDefinition`,
    "resource type not definable",
    () => ({ definition: { name: "tier", type: CustomFieldType.STRING, resourceTypes: ["switch"] } }),
    INVALID,
    VALIDATION,
    "definition.resource_types[0]",
  ),
  row(
    `${R}CreateCustomFieldDefinition`,
    "name taken",
    () => ({ definition: { name: "owner", type: CustomFieldType.STRING, resourceTypes: ["rack"] } }),
    "ALREADY_EXISTS",
    "ALREADY_EXISTS",
  ),
  row(`${R}DeleteCustomFieldDefinition`, "id not a UUID", () => ({ id: "owner" }), INVALID, VALIDATION, "id"),
  notFound(`${R}DeleteCustomFieldDefinition`, "unknown id", () => ({ id: MISSING })),

  // Tokens -----------------------------------------------------------------------------------------------------------------
  row("IdentityService/CreateToken", "no principal", () => ({ role: Role.SERVICE }), INVALID, VALIDATION, "principal"),
  row(
    "IdentityService/CreateToken",
    "principal of 129 characters",
    () => ({ principal: long(129), role: Role.SERVICE }),
    INVALID,
    VALIDATION,
    "principal",
  ),
  row(
    "IdentityService/CreateToken",
    "principal with a space",
    () => ({ principal: "bob smith", role: Role.SERVICE }),
    INVALID,
    VALIDATION,
    "principal",
  ),
  row("IdentityService/CreateToken", "role 0 (unspecified)", () => ({ principal: "bob" }), INVALID, VALIDATION, "role"),
  row("IdentityService/CreateToken", "role not a Role", () => ({ principal: "bob", role: 42 as Role }), INVALID, VALIDATION, "role"),
  row(
    "IdentityService/CreateToken",
    "tenant role without tenant_id",
    () => ({ principal: "bob", role: Role.TENANT_MEMBER }),
    INVALID,
    VALIDATION,
    "tenant_id",
  ),
  row(
    "IdentityService/CreateToken",
    "platform role with tenant_id",
    () => ({ principal: "bob", role: Role.SERVICE, tenantId: s.tenant }),
    INVALID,
    VALIDATION,
    "tenant_id",
  ),
  row(
    "IdentityService/CreateToken",
    "tenant_id not a UUID",
    () => ({ principal: "bob", role: Role.TENANT_ADMIN, tenantId: "acme" }),
    INVALID,
    VALIDATION,
    "tenant_id",
  ),
  row(
    "IdentityService/CreateToken",
    "description of 513 characters",
    () => ({ principal: "bob", role: Role.SERVICE, description: long(513) }),
    INVALID,
    VALIDATION,
    "description",
  ),
  row(
    "IdentityService/CreateToken",
    "ttl of 59 s",
    () => ({ principal: "bob", role: Role.SERVICE, ttl: { seconds: 59n } }),
    INVALID,
    VALIDATION,
    "ttl",
  ),
  row(
    "IdentityService/CreateToken",
    "ttl over ten years",
    () => ({ principal: "bob", role: Role.SERVICE, ttl: { seconds: 315360001n } }),
    INVALID,
    VALIDATION,
    "ttl",
  ),
  row("IdentityService/ListTokens", "unknown filter field", () => ({ filter: 'name = "bob"' }), INVALID, "INVALID_FILTER", "filter"),
  row("IdentityService/ListTokens", "filter unknown role", () => ({ filter: "role = ROLE_ROOT" }), INVALID, "INVALID_FILTER", "filter"),
  row(
    "IdentityService/ListTokens",
    "filter type error (tenant_id is a UUID)",
    () => ({ filter: 'tenant_id = "acme"' }),
    INVALID,
    "INVALID_FILTER",
    "filter",
  ),
  row(
    "IdentityService/ListTokens",
    "page_token of another filter",
    () => ({ pageToken: s.tokensPageToken, filter: "role = ROLE_SERVICE" }),
    INVALID,
    "INVALID_PAGE_TOKEN",
    "page_token",
  ),
  row("IdentityService/RevokeToken", "id not a UUID", () => ({ id: "rpt_abc" }), INVALID, VALIDATION, "id"),
  notFound("IdentityService/RevokeToken", "unknown id", () => ({ id: MISSING })),

  // Audit ------------------------------------------------------------------------------------------------------------------
  row(
    "AuditService/ListAuditEvents",
    "filter of 2049 characters",
    () => ({ filter: `principal = "${long(2036)}"` }),
    INVALID,
    VALIDATION,
    "filter",
  ),
  row("AuditService/ListAuditEvents", "unknown filter field", () => ({ filter: 'user = "admin"' }), INVALID, "INVALID_FILTER", "filter"),
  row(
    "AuditService/ListAuditEvents",
    "filter type error (time)",
    () => ({ filter: 'time >= "last tuesday"' }),
    INVALID,
    "INVALID_FILTER",
    "filter",
  ),
  row("AuditService/ListAuditEvents", "filter syntax: missing value", () => ({ filter: "result = " }), INVALID, "INVALID_FILTER", "filter"),
  row(
    "AuditService/ListAuditEvents",
    "filter type error (tenant_id is a UUID)",
    () => ({ filter: 'tenant_id = "acme"' }),
    INVALID,
    "INVALID_FILTER",
    "filter",
  ),
  row(
    "AuditService/ListAuditEvents",
    "page_token of another filter",
    () => ({ pageToken: s.auditPageToken, filter: 'result = "OK"' }),
    INVALID,
    "INVALID_PAGE_TOKEN",
    "page_token",
  ),
];

/** A request each RPC would accept from the platform admin: the auth cases send these, so that a
 * token check that let them through would show in the fingerprint. */
const acceptable: Record<string, () => object> = {
  CreateRegion: () => ({ region: { name: "would-be" } }),
  GetRegion: () => ({ id: s.region }),
  ListRegions: () => ({}),
  UpdateRegion: () => ({ region: { id: s.region, description: "changed" }, updateMask: mask("description") }),
  DeleteRegion: () => ({ id: s.region, force: true }),
  CreateDatacenter: () => ({ datacenter: { name: "would-be", regionId: s.region } }),
  GetDatacenter: () => ({ id: s.datacenter }),
  ListDatacenters: () => ({}),
  UpdateDatacenter: () => ({ datacenter: { id: s.datacenter, description: "changed" }, updateMask: mask("description") }),
  DeleteDatacenter: () => ({ id: s.datacenter, force: true }),
  CreateRoom: () => ({ room: { name: "would-be", datacenterId: s.datacenter } }),
  GetRoom: () => ({ id: s.room }),
  ListRooms: () => ({}),
  UpdateRoom: () => ({ room: { id: s.room, description: "changed" }, updateMask: mask("description") }),
  DeleteRoom: () => ({ id: s.room, force: true }),
  CreateRack: () => ({ rack: { name: "would-be", roomId: s.room, heightUnits: 42 } }),
  GetRack: () => ({ id: s.rack }),
  ListRacks: () => ({}),
  UpdateRack: () => ({ rack: { id: s.rack, description: "changed" }, updateMask: mask("description") }),
  DeleteRack: () => ({ id: s.rack, force: true }),
  GetRackElevation: () => ({ rackId: s.rack }),
  UpdateRackUnit: () => ({ unit: { rackId: s.rack, position: 5, network: { vlan: 100 } }, updateMask: mask("network.vlan") }),
  ReserveRackUnits: () => ({ rackId: s.rack, firstPosition: 30, unitCount: 2, purpose: "would-be" }),
  ReleaseRackUnits: () => ({ reservationId: s.reservation }),
  SetRackUnitsFaulty: () => ({ rackId: s.rack, firstPosition: 5, unitCount: 1, faulty: true, reason: "psu" }),
  CreateSlotGroup: () => ({ slotGroup: { name: "would-be" } }),
  GetSlotGroup: () => ({ id: s.slotGroup }),
  ListSlotGroups: () => ({}),
  UpdateSlotGroup: () => ({ slotGroup: { id: s.slotGroup, description: "changed" }, updateMask: mask("description") }),
  DeleteSlotGroup: () => ({ id: s.slotGroup, force: true }),
  CreateBaremetal: () => ({ baremetal: hostRequest("would-be", "SN-WOULD-BE", s.rack2, 10) }),
  BatchCreateBaremetals: () => ({ requests: [{ baremetal: hostRequest("would-be-2", "SN-WOULD-BE-2", s.rack2, 14) }] }),
  GetBaremetal: () => ({ id: s.host }),
  ListBaremetals: () => ({}),
  UpdateBaremetal: () => ({ baremetal: { id: s.host, description: "changed" }, updateMask: mask("description") }),
  DeleteBaremetal: () => ({ id: s.host }),
  SetBaremetalStatus: () => ({ id: s.host, status: BaremetalStatus.MAINTENANCE, reason: "fan" }),
  LocateBaremetal: () => ({ id: s.host }),
  CreateBaremetalGroup: () => ({ group: { name: "would-be" } }),
  GetBaremetalGroup: () => ({ id: s.hostGroup }),
  ListBaremetalGroups: () => ({}),
  UpdateBaremetalGroup: () => ({ group: { id: s.hostGroup, description: "changed" }, updateMask: mask("description") }),
  DeleteBaremetalGroup: () => ({ id: s.hostGroup, force: true }),
  CreateCustomFieldDefinition: () => ({ definition: { name: "would_be", type: CustomFieldType.STRING, resourceTypes: ["rack"] } }),
  ListCustomFieldDefinitions: () => ({}),
  DeleteCustomFieldDefinition: () => ({ id: s.fieldDefinition }),
  CreateToken: () => ({ principal: "would-be", role: Role.PLATFORM_ADMIN }),
  ListTokens: () => ({}),
  RevokeToken: () => ({ id: s.serviceToken }),
  GetCallerIdentity: () => ({}),
  ListAuditEvents: () => ({}),
};

const allRpcs: Rpc[] = Object.entries(services).flatMap(([service, desc]) =>
  desc.methods.map((method) => `${service}/${method.name}` as Rpc),
);
/** Authentication comes first, for every RPC of the contract, served yet or not. */
const authCases: Case[] = allRpcs.flatMap((rpc) => {
  const request = acceptable[rpc.split("/")[1]!] ?? (() => ({}));
  return [
    // No token, a revoked token and roles that may not: tests/e2e/contract-matrix.test.ts.
    row(rpc, "garbage token", request, "UNAUTHENTICATED", "TOKEN_INVALID", undefined, "garbage token"),
  ];
});

describe("the tables cover the contract", () => {
  it("every RPC the server serves has bad-input rows and an acceptable request for the auth rows", () => {
    // Every service is implemented whole (the compiler checks it): served means in the contract.
    const served = routes.flatMap((route) => route.service.methods.map((method) => `${route.service.name}/${method.name}` as Rpc));
    expect(served.filter((rpc) => rpc.split("/")[0]! in services).length).toBeGreaterThanOrEqual(35);
    // GetCallerIdentity takes no input: only the auth rows apply to it.
    const inputless = allRpcs.filter(
      (rpc) => services[rpc.split("/")[0] as ServiceName].methods.find((m) => m.name === rpc.split("/")[1])!.input.fields.length === 0,
    );
    expect(inputless).toEqual(["IdentityService/GetCallerIdentity"]);
    // A List that takes only page_size and page_token has no bad input but what the contract matrix
    // tries on every List.
    const pagingOnly = allRpcs.filter((rpc) =>
      services[rpc.split("/")[0] as ServiceName].methods
        .find((m) => m.name === rpc.split("/")[1])!
        .input.fields.every((field) => field.name === "page_size" || field.name === "page_token"),
    );
    const covered = new Set(cases.map((c) => c.rpc));
    const unserved = new Set(allRpcs.filter((rpc) => !served.includes(rpc)));
    expect(
      allRpcs.filter((rpc) => !unserved.has(rpc) && !covered.has(rpc) && !pagingOnly.includes(rpc)),
      "served RPCs without bad-input rows",
    ).toEqual([]);
    expect(
      allRpcs.filter((rpc) => !unserved.has(rpc) && !acceptable[rpc.split("/")[1]!]),
      "served RPCs without an acceptable request",
    ).toEqual([]);
    expect(authCases.length).toBe(allRpcs.length);
    expect([...acceptanceOrder].sort()).toEqual(Object.keys(acceptable).sort());
    expect(cases.length).toBeGreaterThan(80);
  });
});

describe.each([
  ["bad input", cases],
  ["authentication", authCases],
])("%s", (_table, table) => {
  it.each(table)("$rpc as $caller — $what → $code $reason", async ({ rpc, request, code, reason, field, caller }) => {
    const before = await fingerprint();
    const error = await refusal(rpc, request(), caller);
    expectRefusal(error, code, reason, field);
    expect(await fingerprint()).toEqual(before);
  });
});

// ------------------------------------------------------------------------------------------------
// Connect JSON: bodies that do not decode, or that decode into a request the contract refuses.

const C = "InventoryService/";
const jsonCases: Array<{ method: string; what: string; body: () => string; reason?: string; field?: string }> = [
  {
    method: `${C}CreateRack`,
    what: "height_units is a word",
    body: () => `{"rack":{"name":"r9","roomId":"${s.room}","heightUnits":"tall"}}`,
  },
  { method: `${C}CreateRack`, what: "height_units negative", body: () => `{"rack":{"name":"r9","roomId":"${s.room}","heightUnits":-1}}` },
  {
    method: `${C}CreateRack`,
    what: "height_units fractional",
    body: () => `{"rack":{"name":"r9","roomId":"${s.room}","heightUnits":4.5}}`,
  },
  {
    method: `${C}CreateRack`,
    what: "status not a RackStatus name",
    body: () => `{"rack":{"name":"r9","roomId":"${s.room}","heightUnits":4,"status":"RACK_STATUS_ON_FIRE"}}`,
  },
  { method: `${C}CreateRegion`, what: "name is a number", body: () => '{"region":{"name":42}}' },
  { method: `${C}CreateRegion`, what: "region is a list", body: () => '{"region":["eu-west"]}' },
  { method: `${C}UpdateRack`, what: "update_mask is a number", body: () => `{"rack":{"id":"${s.rack}","description":"x"},"updateMask":7}` },
  { method: `${C}ListRacks`, what: "page_size is a word", body: () => '{"pageSize":"many"}' },
  { method: "IdentityService/CreateToken", what: "role not a Role name", body: () => '{"principal":"bob","role":"ROLE_ROOT"}' },
  {
    method: "IdentityService/CreateToken",
    what: "ttl not a duration",
    body: () => '{"principal":"bob","role":"ROLE_SERVICE","ttl":"forever"}',
  },
  { method: `${C}CreateRack`, what: "malformed JSON", body: () => `{"rack":{"name":"r9","roomId":"${s.room}","heightUnits":4` },
  { method: `${C}DeleteRegion`, what: "malformed JSON (not an object)", body: () => `{id: ${s.region}}` },
  { method: `${C}CreateRegion`, what: "a JSON array", body: () => "[]" },
  {
    method: `${C}CreateRack`,
    what: "valid JSON, height_units 61",
    body: () => `{"rack":{"name":"r9","roomId":"${s.room}","heightUnits":61}}`,
    reason: VALIDATION,
    field: "rack.height_units",
  },
  {
    method: `${C}CreateDatacenter`,
    what: "valid JSON, latitude 91",
    body: () => `{"datacenter":{"name":"d9","regionId":"${s.region}","location":{"latitude":91}}}`,
    reason: VALIDATION,
    field: "datacenter.location.latitude",
  },
];

interface JsonErrorDetail {
  type: string;
  debug?: { reason?: string; domain?: string; fieldViolations?: Array<{ field: string }> };
}

describe("Connect JSON", () => {
  it.each(jsonCases)("$method — $what → INVALID_ARGUMENT", async ({ method, body, reason, field }) => {
    const before = await fingerprint();
    const response = await t.json(method, body());
    expect(response.status).toBe(400);
    expect(response.body.code).toBe("invalid_argument");
    if (reason !== undefined) {
      const details = (response.body.details ?? []) as JsonErrorDetail[];
      expect(details.find((d) => d.type === "google.rpc.ErrorInfo")?.debug).toMatchObject({ reason, domain: "rackplane.dev" });
      expect(details.find((d) => d.type === "google.rpc.BadRequest")?.debug?.fieldViolations?.map((v) => v.field)).toContain(field);
    }
    expect(await fingerprint()).toEqual(before);
  });

  it("a body that does not decode still answers with a google.rpc.ErrorInfo (API-5)", async () => {
    const response = await t.json(`${C}CreateRack`, '{"rack":{"heightUnits":"tall"}}');
    expect(response.status).toBe(400);
    const details = (response.body.details ?? []) as JsonErrorDetail[];
    expect(details.find((d) => d.type === "google.rpc.ErrorInfo")?.debug?.domain).toBe("rackplane.dev");
  });

  it.each([
    ["no token", null, "TOKEN_MISSING"],
    ["a garbage token", "not-a-token", "TOKEN_INVALID"],
  ] as const)("a mutation with %s → UNAUTHENTICATED %s", async (_what, token, reason) => {
    const before = await fingerprint();
    const response = await t.json(`${C}DeleteRegion`, { id: s.region, force: true }, token);
    expect(response.status).toBe(401);
    expect(response.body.code).toBe("unauthenticated");
    expect((response.body.details as JsonErrorDetail[]).find((d) => d.type === "google.rpc.ErrorInfo")?.debug?.reason).toBe(reason);
    expect(await fingerprint()).toEqual(before);
  });
});

// ------------------------------------------------------------------------------------------------
// The fingerprint itself: if it could not see a change, every "changes nothing" above would pass
// vacuously. Last, because it changes the seed.

describe("the fingerprint", () => {
  it("sees every kind of change the refused requests could have made", async () => {
    const { inventory, identity } = t.clients();
    const changes: Array<[string, () => Promise<unknown>]> = [
      [
        "a unit's settings",
        () => inventory.updateRackUnit({ unit: { rackId: s.rack, position: 7, network: { vlan: 7 } }, updateMask: mask("network.vlan") }),
      ],
      ["a reservation", () => inventory.reserveRackUnits({ rackId: s.rack, firstPosition: 35, unitCount: 1, purpose: "probe" })],
      ["a rack's fields", () => inventory.updateRack({ rack: { id: s.rack, description: "probe" }, updateMask: mask("description") })],
      [
        "a slot group",
        () => inventory.updateSlotGroup({ slotGroup: { id: s.slotGroup, description: "probe" }, updateMask: mask("description") }),
      ],
      ["a room", () => inventory.updateRoom({ room: { id: s.room, description: "probe" }, updateMask: mask("description") })],
      [
        "a datacenter",
        () => inventory.updateDatacenter({ datacenter: { id: s.datacenter, description: "probe" }, updateMask: mask("description") }),
      ],
      ["a region", () => inventory.updateRegion({ region: { id: s.region, description: "probe" }, updateMask: mask("description") })],
      ["a token revoked", () => identity.revokeToken({ id: s.serviceToken })],
      ["a token issued", () => identity.createToken({ principal: "probe", role: Role.AGENT })],
      ["a region created", () => inventory.createRegion({ region: { name: "probe" } })],
    ];
    for (const [what, change] of changes) {
      const before = await fingerprint();
      await change();
      expect(await fingerprint(), what).not.toEqual(before);
    }
  });
});

// ------------------------------------------------------------------------------------------------
// The acceptable requests are accepted: so the auth rows above prove the token check refused them,
// not some validation. Run in an order where each still applies (reads, updates, creates, then
// deletes up the tree); last, because it takes the seed apart.

const acceptanceOrder = [
  ...["GetRegion", "ListRegions", "GetDatacenter", "ListDatacenters", "GetRoom", "ListRooms", "GetRack", "ListRacks", "GetRackElevation"],
  ...["GetSlotGroup", "ListSlotGroups", "GetBaremetal", "ListBaremetals", "LocateBaremetal", "GetBaremetalGroup", "ListBaremetalGroups"],
  ...["ListCustomFieldDefinitions", "ListTokens", "GetCallerIdentity", "ListAuditEvents"],
  ...["UpdateRegion", "UpdateDatacenter", "UpdateRoom", "UpdateRack", "UpdateRackUnit", "SetRackUnitsFaulty", "UpdateSlotGroup"],
  ...["UpdateBaremetal", "SetBaremetalStatus", "UpdateBaremetalGroup"],
  ...["CreateRegion", "CreateDatacenter", "CreateRoom", "CreateRack", "ReserveRackUnits", "CreateSlotGroup", "CreateBaremetal"],
  ...["BatchCreateBaremetals", "CreateBaremetalGroup", "CreateCustomFieldDefinition", "CreateToken"],
  ...["ReleaseRackUnits", "RevokeToken", "DeleteCustomFieldDefinition", "DeleteBaremetal", "DeleteBaremetalGroup", "DeleteSlotGroup"],
  ...["DeleteRack", "DeleteRoom", "DeleteDatacenter", "DeleteRegion"],
];

describe("the acceptable requests of the auth rows", () => {
  it("are accepted from the platform admin", async () => {
    const refused: string[] = [];
    for (const method of acceptanceOrder) {
      const rpc = allRpcs.find((candidate) => candidate.endsWith(`/${method}`))!;
      await invoke(rpc, acceptable[method]!()).catch((error: unknown) => refused.push(`${method}: ${ConnectError.from(error).message}`));
    }
    expect(refused).toEqual([]);
  });
});
