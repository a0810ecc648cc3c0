// The same small InventoryService flow through every kind of client the server promises to serve:
// connect-node over gRPC, a stock @grpc/grpc-js client built from the ts-proto stubs, and plain
// fetch speaking Connect JSON; plus a Connect GET and a gRPC-Web call.
import { randomUUID } from "node:crypto";
import { toJson } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { InventoryService, RackSchema, RackStatus } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { ErrorInfo } from "../../gen/grpc-js/google/rpc/error_details.js";
import * as stubs from "../../gen/grpc-js/rackplane/v1/inventory.js";
import { startTestServer, type TestServer, bearer } from "../support/server.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t?.close());

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

describe("connect-node gRPC client", () => {
  it("creates the tree, gets and lists the rack, and reads a NOT_FOUND's ErrorInfo", async () => {
    const { inventory } = t.clients();
    const { region } = await inventory.createRegion({ region: { name: unique("grpc-region") } });
    const { datacenter } = await inventory.createDatacenter({ datacenter: { name: unique("grpc-dc"), regionId: region!.id } });
    const { room } = await inventory.createRoom({ room: { name: unique("grpc-room"), datacenterId: datacenter!.id } });
    const { rack } = await inventory.createRack({
      rack: { name: "r01", roomId: room!.id, heightUnits: 42, status: RackStatus.MAINTENANCE, asn: 65001 },
    });
    expect(rack).toMatchObject({ roomId: room!.id, datacenterId: datacenter!.id, regionId: region!.id, etag: '"1"' });

    expect((await inventory.getRack({ id: rack!.id })).rack).toEqual(rack);
    const listed = await inventory.listRacks({ filter: `room_id = "${room!.id}" AND status = RACK_STATUS_MAINTENANCE AND asn >= 65000` });
    expect(listed.racks.map((r) => r.id)).toEqual([rack!.id]);
    expect(listed.nextPageToken).toBe("");

    const missing = randomUUID();
    const error = await inventory.getRack({ id: missing }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.NotFound);
    expect(error?.findDetails(ErrorInfoSchema)[0]).toMatchObject({
      reason: "RESOURCE_NOT_FOUND",
      domain: "rackplane.dev",
      metadata: { resource_type: "rack", resource_id: missing },
    });
  });
});

describe("stock @grpc/grpc-js client from the ts-proto stubs", () => {
  let client: stubs.InventoryServiceClient;
  let metadata: grpc.Metadata;
  beforeAll(() => {
    client = new stubs.InventoryServiceClient(new URL(t.url).host, grpc.credentials.createInsecure());
    metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${t.adminToken}`);
  });
  afterAll(() => client?.close());

  type Callback<Res> = (error: grpc.ServiceError | null, response: Res) => void;
  /** A unary call of the callback-style client, as a promise. */
  function call<Res>(invoke: (done: Callback<Res>) => unknown): Promise<Res> {
    return new Promise((resolve, reject) => invoke((error, response) => (error ? reject(error) : resolve(response))));
  }

  it("creates the tree, gets and lists the rack, and reads a NOT_FOUND's status details", async () => {
    const createRegion = stubs.CreateRegionRequest.fromPartial({ region: { name: unique("grpcjs-region") } });
    const { region } = await call<stubs.CreateRegionResponse>((done) => client.createRegion(createRegion, metadata, done));

    const createDatacenter = stubs.CreateDatacenterRequest.fromPartial({
      datacenter: { name: unique("grpcjs-dc"), regionId: region!.id, location: { city: "Paris", countryCode: "FR" } },
    });
    const { datacenter } = await call<stubs.CreateDatacenterResponse>((done) => client.createDatacenter(createDatacenter, metadata, done));

    const createRoom = stubs.CreateRoomRequest.fromPartial({ room: { name: unique("grpcjs-room"), datacenterId: datacenter!.id } });
    const { room } = await call<stubs.CreateRoomResponse>((done) => client.createRoom(createRoom, metadata, done));

    const createRack = stubs.CreateRackRequest.fromPartial({
      rack: {
        name: "r01",
        roomId: room!.id,
        heightUnits: 42,
        status: stubs.RackStatus.RACK_STATUS_MAINTENANCE,
        asn: 65001,
        network: { torSwitches: ["tor1"] },
      },
    });
    const { rack } = await call<stubs.CreateRackResponse>((done) => client.createRack(createRack, metadata, done));

    expect(datacenter!.location).toMatchObject({ city: "Paris", countryCode: "FR" });
    expect(room!.regionId).toBe(region!.id);
    expect(rack).toMatchObject({
      name: "r01",
      roomId: room!.id,
      datacenterId: datacenter!.id,
      regionId: region!.id,
      status: stubs.RackStatus.RACK_STATUS_MAINTENANCE,
      heightUnits: 42,
      asn: 65001,
      network: { torSwitches: ["tor1"], subnets: [], managementVlan: 0 },
      etag: '"1"',
    });
    expect(rack!.createTime).toBeInstanceOf(Date);

    const getRack = stubs.GetRackRequest.fromPartial({ id: rack!.id });
    const got = await call<stubs.GetRackResponse>((done) => client.getRack(getRack, metadata, done));
    expect(got.rack).toEqual(rack);

    const listRacks = stubs.ListRacksRequest.fromPartial({
      filter: `room_id = "${room!.id}" AND status = RACK_STATUS_MAINTENANCE AND asn >= 65000`,
      pageSize: 10,
    });
    const listed = await call<stubs.ListRacksResponse>((done) => client.listRacks(listRacks, metadata, done));
    expect(listed.racks.map((r) => r.id)).toEqual([rack!.id]);

    // What the stock client got is what a connect client reads.
    const viaConnect = (await t.clients().inventory.getRack({ id: rack!.id })).rack!;
    const { id, name, roomId, datacenterId, regionId, heightUnits, asn, etag, description, allowedTenantIds } = rack!;
    expect(viaConnect).toMatchObject({ id, name, roomId, datacenterId, regionId, heightUnits, asn, etag, description, allowedTenantIds });
    expect(viaConnect.status).toBe(RackStatus.MAINTENANCE);
    expect(viaConnect.network?.torSwitches).toEqual(["tor1"]);

    const missing = randomUUID();
    const getMissing = stubs.GetRackRequest.fromPartial({ id: missing });
    const error = await call<stubs.GetRackResponse>((done) => client.getRack(getMissing, metadata, done)).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(error?.code).toBe(grpc.status.NOT_FOUND);
    const [detailsBin] = error!.metadata.get("grpc-status-details-bin") as Buffer[];
    expect(detailsBin?.length).toBeGreaterThan(0);
    const status = decodeStatus(detailsBin!);
    expect(status.code).toBe(grpc.status.NOT_FOUND);
    expect(status.message).toContain(missing);
    const info = status.details.find((detail) => detail.typeUrl === "type.googleapis.com/google.rpc.ErrorInfo");
    expect(info).toBeDefined();
    expect(ErrorInfo.decode(info!.value)).toMatchObject({
      reason: "RESOURCE_NOT_FOUND",
      domain: "rackplane.dev",
      metadata: { resource_type: "rack", resource_id: missing },
    });
  });

  it("is refused without a token", async () => {
    const anonymous = stubs.GetRackRequest.fromPartial({ id: randomUUID() });
    const error = await call<stubs.GetRackResponse>((done) => client.getRack(anonymous, done)).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(error?.code).toBe(grpc.status.UNAUTHENTICATED);
  });
});

describe("Connect JSON over fetch", () => {
  it("creates the tree, gets and lists the rack, and reads a NOT_FOUND's JSON error", async () => {
    const region = await t.json("InventoryService/CreateRegion", { region: { name: unique("json-region") } });
    expect(region.status).toBe(200);
    const datacenter = await t.json("InventoryService/CreateDatacenter", {
      datacenter: { name: unique("json-dc"), regionId: region.body.region.id },
    });
    const room = await t.json("InventoryService/CreateRoom", {
      room: { name: unique("json-room"), datacenterId: datacenter.body.datacenter.id },
    });
    const created = await t.json("InventoryService/CreateRack", {
      rack: { name: "r01", roomId: room.body.room.id, heightUnits: 42, status: "RACK_STATUS_MAINTENANCE", asn: 65001 },
    });
    expect(created.status).toBe(200);
    const rack = created.body.rack;
    expect(rack).toMatchObject({
      name: "r01",
      roomId: room.body.room.id,
      datacenterId: datacenter.body.datacenter.id,
      regionId: region.body.region.id,
      status: "RACK_STATUS_MAINTENANCE",
      heightUnits: 42,
      asn: 65001,
      etag: '"1"',
    });
    expect(typeof rack.createTime).toBe("string");

    const got = await t.json("InventoryService/GetRack", { id: rack.id });
    expect(got).toEqual({ status: 200, body: { rack } });
    // The JSON is the canonical proto3 JSON of what a gRPC client reads.
    const viaGrpc = (await t.clients().inventory.getRack({ id: rack.id })).rack!;
    expect(rack).toEqual(toJson(RackSchema, viaGrpc));

    const listed = await t.json("InventoryService/ListRacks", {
      filter: `room_id = "${room.body.room.id}" AND status = RACK_STATUS_MAINTENANCE AND asn >= 65000`,
      pageSize: 10,
    });
    expect(listed.status).toBe(200);
    expect(listed.body.racks.map((r: { id: string }) => r.id)).toEqual([rack.id]);

    const missing = randomUUID();
    const notFound = await t.json("InventoryService/GetRack", { id: missing });
    expect(notFound.status).toBe(404);
    expect(notFound.body).toMatchObject({
      code: "not_found",
      details: [
        {
          type: "google.rpc.ErrorInfo",
          debug: { reason: "RESOURCE_NOT_FOUND", domain: "rackplane.dev", metadata: { resource_type: "rack", resource_id: missing } },
        },
      ],
    });
    expect(notFound.body.message).toContain(missing);
  });

  it("answers a bad request and a missing token with Connect JSON errors", async () => {
    const invalid = await t.json("InventoryService/GetRack", { id: "not-a-uuid" });
    expect(invalid.status).toBe(400);
    expect(invalid.body.code).toBe("invalid_argument");
    expect(invalid.body.details).toContainEqual(
      expect.objectContaining({ type: "google.rpc.ErrorInfo", debug: expect.objectContaining({ reason: "VALIDATION_FAILED" }) }),
    );

    const anonymous = await t.json("InventoryService/GetRack", { id: randomUUID() }, null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({
      code: "unauthenticated",
      details: [{ type: "google.rpc.ErrorInfo", debug: { reason: "TOKEN_MISSING" } }],
    });
  });
});

describe("Connect GET and gRPC-Web", () => {
  let rackId: string;
  beforeAll(async () => {
    const { inventory } = t.clients();
    const { region } = await inventory.createRegion({ region: { name: unique("get-region") } });
    const { datacenter } = await inventory.createDatacenter({ datacenter: { name: unique("get-dc"), regionId: region!.id } });
    const { room } = await inventory.createRoom({ room: { name: unique("get-room"), datacenterId: datacenter!.id } });
    rackId = (await inventory.createRack({ rack: { name: "r01", roomId: room!.id, heightUnits: 4 } })).rack!.id;
  });

  const getUrl = (method: string, message: unknown) =>
    `${t.url}/rackplane.v1.InventoryService/${method}?encoding=json&message=${encodeURIComponent(JSON.stringify(message))}`;
  const authorized = () => ({ headers: { authorization: `Bearer ${t.adminToken}` } });

  it("serves a NO_SIDE_EFFECTS method over Connect GET, curl style", async () => {
    const response = await fetch(getUrl("GetRack", { id: rackId }), authorized());
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect((await response.json()).rack).toMatchObject({ id: rackId, name: "r01", heightUnits: 4 });

    const missing = await fetch(getUrl("GetRack", { id: randomUUID() }), authorized());
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: "not_found", details: [{ debug: { reason: "RESOURCE_NOT_FOUND" } }] });

    const anonymous = await fetch(getUrl("GetRack", { id: rackId }));
    expect(anonymous.status).toBe(401);
  });

  it("refuses Connect GET for a method with side effects", async () => {
    const response = await fetch(getUrl("DeleteRack", { id: rackId }), authorized());
    expect(response.status).toBe(405);
    expect((await t.clients().inventory.getRack({ id: rackId })).rack!.id).toBe(rackId);
  });

  it("serves gRPC-Web over HTTP/1.1", async () => {
    const transport = createGrpcWebTransport({
      baseUrl: t.url,
      httpVersion: "1.1",
      interceptors: [bearer(t.adminToken)],
    });
    const inventory = createClient(InventoryService, transport);
    const { rack } = await inventory.getRack({ id: rackId });
    expect(rack).toMatchObject({ id: rackId, name: "r01", heightUnits: 4 });

    const missing = randomUUID();
    const error = await inventory.getRack({ id: missing }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.NotFound);
    expect(error?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("RESOURCE_NOT_FOUND");
  });
});

/** google.rpc.Status from grpc-status-details-bin: code = 1, message = 2, details = 3 (each a
 * google.protobuf.Any: type_url = 1, value = 2). gen/grpc-js has no Status, so its few fields are
 * read by hand; the ErrorInfo inside is decoded with the generated stub. */
function decodeStatus(bytes: Uint8Array): { code: number; message: string; details: { typeUrl: string; value: Uint8Array }[] } {
  const status = { code: 0, message: "", details: [] as { typeUrl: string; value: Uint8Array }[] };
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) status.code = reader.int32();
    else if (field === 2) status.message = reader.string();
    else if (field === 3) {
      const any = new BinaryReader(reader.bytes());
      const detail: { typeUrl: string; value: Uint8Array } = { typeUrl: "", value: new Uint8Array() };
      while (any.pos < any.len) {
        const [anyField, anyWireType] = any.tag();
        if (anyField === 1) detail.typeUrl = any.string();
        else if (anyField === 2) detail.value = any.bytes();
        else any.skip(anyWireType);
      }
      status.details.push(detail);
    } else reader.skip(wireType);
  }
  return status;
}
