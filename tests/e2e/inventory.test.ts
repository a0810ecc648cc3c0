// InventoryService end to end: a real server over a real PostgreSQL database, called through the
// connect-node gRPC client. Every test builds its own part of the tree (unique names), so tests
// do not depend on each other's data.
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { RackStatus, RackUnitStatus, type Rack } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { failure } from "../support/failure.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let inventory: ReturnType<TestServer["clients"]>["inventory"];

beforeAll(async () => {
  t = await startTestServer();
  inventory = t.clients().inventory;
});
afterAll(() => t?.close());

// ---------------------------------------------------------------------------------------------
// Helpers

let counter = 0;
/** A name no other test uses. */
const unique = (prefix: string) => `${prefix}-${++counter}`;

/** Awaits a call that must fail and returns its status code and ErrorInfo. */

/** A region, a datacenter and a room, freshly made. */
async function tree(prefix = "t") {
  const { region } = await inventory.createRegion({ region: { name: unique(`${prefix}-region`) } });
  const { datacenter } = await inventory.createDatacenter({ datacenter: { name: unique(`${prefix}-dc`), regionId: region!.id } });
  const { room } = await inventory.createRoom({ room: { name: unique(`${prefix}-room`), datacenterId: datacenter!.id } });
  return { region: region!, datacenter: datacenter!, room: room! };
}

async function newRack(
  roomId: string,
  fields: Partial<Omit<Rack, "$typeName" | "network">> & {
    network?: { torSwitches?: string[]; subnets?: string[]; managementVlan?: number };
  } = {},
) {
  const { rack } = await inventory.createRack({ rack: { name: unique("rack"), roomId, heightUnits: 42, ...fields } });
  return rack!;
}

async function elevation(rackId: string) {
  return inventory.getRackElevation({ rackId });
}

/** Positions of the units of an elevation with the given status, ascending. */
function positionsWith(units: ReadonlyArray<{ position: number; status: RackUnitStatus }>, status: RackUnitStatus): number[] {
  return units
    .filter((unit) => unit.status === status)
    .map((unit) => unit.position)
    .sort((a, b) => a - b);
}

function range(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

/** Every rack the filter matches, following next_page_token. */
async function allRacks(filter: string, pageSize = 100) {
  const racks: Rack[] = [];
  let pageToken = "";
  do {
    const page = await inventory.listRacks({ filter, pageSize, pageToken });
    racks.push(...page.racks);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return racks;
}

// ---------------------------------------------------------------------------------------------

describe("regions, datacenters, rooms and racks", () => {
  it("creates, gets, lists, updates (by update_mask) and deletes a region", async () => {
    const name = unique("eu-west");
    const { region } = await inventory.createRegion({ region: { name, description: "first" } });
    expect(region).toMatchObject({ name, description: "first", etag: '"1"' });
    expect(region!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(region!.createTime).toBeDefined();

    expect((await inventory.getRegion({ id: region!.id })).region).toEqual(region);
    const listed = await inventory.listRegions({ filter: `name = "${name}"` });
    expect(listed.regions.map((r) => r.id)).toEqual([region!.id]);

    const { region: updated } = await inventory.updateRegion({
      region: { id: region!.id, name: "ignored-not-in-mask", description: "second" },
      updateMask: { paths: ["description"] },
    });
    expect(updated).toMatchObject({ id: region!.id, name, description: "second", etag: '"2"' });
    expect((await inventory.getRegion({ id: region!.id })).region?.description).toBe("second");

    expect(await failure(inventory.updateRegion({ region: { id: region!.id, name: "x" }, updateMask: { paths: ["etag"] } }))).toMatchObject(
      { code: Code.InvalidArgument, reason: "INVALID_UPDATE_MASK" },
    );
    expect(
      await failure(inventory.updateRegion({ region: { id: region!.id, description: "x" }, updateMask: { paths: [] } })),
    ).toMatchObject({
      code: Code.InvalidArgument,
    });

    await inventory.deleteRegion({ id: region!.id });
    expect(await failure(inventory.getRegion({ id: region!.id }))).toMatchObject({
      code: Code.NotFound,
      reason: "RESOURCE_NOT_FOUND",
      metadata: { resource_type: "region", resource_id: region!.id },
    });
  });

  it("updates a datacenter's location by nested path, whole message and '*'", async () => {
    const { region } = await tree("dc");
    const location = { address: "Main St 1", city: "Frankfurt", countryCode: "DE", latitude: 50.11, longitude: 8.68 };
    const { datacenter } = await inventory.createDatacenter({
      datacenter: { name: unique("fra"), regionId: region.id, location, description: "d" },
    });
    expect(datacenter).toMatchObject({ regionId: region.id, location, description: "d" });

    // location.city alone: the rest of the location stays.
    const { datacenter: moved } = await inventory.updateDatacenter({
      datacenter: { id: datacenter!.id, location: { city: "Offenbach", address: "ignored" } },
      updateMask: { paths: ["location.city"] },
    });
    expect(moved!.location).toMatchObject({ ...location, city: "Offenbach" });

    // location: the whole message is replaced (unset subfields are cleared).
    const { datacenter: replaced } = await inventory.updateDatacenter({
      datacenter: { id: datacenter!.id, location: { city: "Berlin", countryCode: "DE" } },
      updateMask: { paths: ["location"] },
    });
    expect(replaced!.location).toMatchObject({ address: "", city: "Berlin", countryCode: "DE", latitude: 0, longitude: 0 });
    expect(replaced!.description).toBe("d");

    // '*': every updatable field takes the request's value.
    const newName = unique("ber");
    const { datacenter: full } = await inventory.updateDatacenter({
      datacenter: { id: datacenter!.id, name: newName, location: { city: "Munich" } },
      updateMask: { paths: ["*"] },
    });
    expect(full).toMatchObject({
      name: newName,
      description: "",
      regionId: region.id,
      location: { city: "Munich", countryCode: "" },
      etag: '"4"',
    });
    expect((await inventory.getDatacenter({ id: datacenter!.id })).datacenter).toEqual(full);

    // region_id is immutable.
    expect(
      await failure(
        inventory.updateDatacenter({ datacenter: { id: datacenter!.id, regionId: region.id }, updateMask: { paths: ["region_id"] } }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_UPDATE_MASK" });

    const listed = await inventory.listDatacenters({ filter: `region_id = "${region.id}" AND location.city = "Munich"` });
    expect(listed.datacenters.map((dc) => dc.id)).toEqual([datacenter!.id]);
  });

  it("derives a room's region_id from its datacenter, ignoring what the client sends", async () => {
    const { region, datacenter, room: first } = await tree("room");
    const { room } = await inventory.createRoom({
      room: { name: unique("hall"), datacenterId: datacenter.id, regionId: randomUUID(), description: "a" },
    });
    expect(room).toMatchObject({ datacenterId: datacenter.id, regionId: region.id, description: "a", etag: '"1"' });
    expect((await inventory.getRoom({ id: room!.id })).room).toEqual(room);

    const { room: renamed } = await inventory.updateRoom({ room: { id: room!.id, name: "hall-b" }, updateMask: { paths: ["name"] } });
    expect(renamed).toMatchObject({ name: "hall-b", description: "a", regionId: region.id, etag: '"2"' });
    expect(
      await failure(inventory.updateRoom({ room: { id: room!.id, regionId: randomUUID() }, updateMask: { paths: ["region_id"] } })),
    ).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_UPDATE_MASK" });

    const listed = await inventory.listRooms({ filter: `datacenter_id = "${datacenter.id}"` });
    expect(listed.rooms.map((r) => r.id)).toEqual([first.id, room!.id]);
    expect((await inventory.listRooms({ filter: `region_id = "${region.id}" AND name = "hall-b"` })).rooms.map((r) => r.id)).toEqual([
      room!.id,
    ]);

    await inventory.deleteRoom({ id: room!.id, etag: renamed!.etag });
    expect(await failure(inventory.getRoom({ id: room!.id }))).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
  });

  it("creates a rack with derived datacenter_id and region_id, and gets it back unchanged", async () => {
    const { region, datacenter, room } = await tree("rack");
    const tenant = await t.tenant(unique("t"));
    const { rack } = await inventory.createRack({
      rack: {
        name: unique("r"),
        roomId: room.id,
        datacenterId: randomUUID(),
        regionId: randomUUID(),
        heightUnits: 48,
        status: RackStatus.PLANNED,
        asn: 4_200_000_000,
        network: { torSwitches: ["tor1", "tor2"], subnets: ["10.0.0.0/24"], managementVlan: 100 },
        allowedTenantIds: [tenant],
        description: "north wall",
      },
    });
    expect(rack).toMatchObject({
      roomId: room.id,
      datacenterId: datacenter.id,
      regionId: region.id,
      heightUnits: 48,
      status: RackStatus.PLANNED,
      asn: 4_200_000_000,
      network: { torSwitches: ["tor1", "tor2"], subnets: ["10.0.0.0/24"], managementVlan: 100 },
      allowedTenantIds: [tenant],
      description: "north wall",
      etag: '"1"',
    });
    expect((await inventory.getRack({ id: rack!.id })).rack).toEqual(rack);

    // An unset status means ACTIVE.
    expect((await newRack(room.id)).status).toBe(RackStatus.ACTIVE);
  });

  it("updates a rack by update_mask: network.tor_switches alone, then '*'", async () => {
    const { room } = await tree("rackupd");
    const rack = await newRack(room.id, {
      asn: 65001,
      description: "keep me",
      network: { torSwitches: ["tor1"], subnets: ["10.1.0.0/24"], managementVlan: 7 },
    });

    const { rack: switched } = await inventory.updateRack({
      rack: { id: rack.id, network: { torSwitches: ["tor-a", "tor-b"], subnets: ["192.168.0.0/16"] }, description: "ignored" },
      updateMask: { paths: ["network.tor_switches"] },
    });
    expect(switched).toMatchObject({
      network: { torSwitches: ["tor-a", "tor-b"], subnets: ["10.1.0.0/24"], managementVlan: 7 },
      description: "keep me",
      asn: 65001,
      etag: '"2"',
    });

    const name = unique("renamed");
    const { rack: replaced } = await inventory.updateRack({
      rack: { id: rack.id, name, roomId: room.id, heightUnits: 42, status: RackStatus.MAINTENANCE },
      updateMask: { paths: ["*"] },
    });
    expect(replaced).toMatchObject({
      name,
      roomId: room.id,
      status: RackStatus.MAINTENANCE,
      heightUnits: 42,
      asn: 0,
      network: { torSwitches: [], subnets: [], managementVlan: 0 },
      allowedTenantIds: [],
      description: "",
      etag: '"3"',
    });
    expect((await inventory.getRack({ id: rack.id })).rack).toEqual(replaced);

    // Output-only and unknown fields cannot be named.
    for (const path of ["datacenter_id", "region_id", "etag", "nonsense"]) {
      expect(await failure(inventory.updateRack({ rack: { id: rack.id }, updateMask: { paths: [path] } }))).toMatchObject({
        code: Code.InvalidArgument,
        reason: "INVALID_UPDATE_MASK",
      });
    }
    // Name cannot be cleared.
    expect(await failure(inventory.updateRack({ rack: { id: rack.id, name: "" }, updateMask: { paths: ["name"] } }))).toMatchObject({
      code: Code.InvalidArgument,
    });
  });

  it("moves a rack to a room of another datacenter and re-derives its datacenter_id and region_id", async () => {
    const from = await tree("move-a");
    const to = await tree("move-b");
    const rack = await newRack(from.room.id);
    const { rack: moved } = await inventory.updateRack({ rack: { id: rack.id, roomId: to.room.id }, updateMask: { paths: ["room_id"] } });
    expect(moved).toMatchObject({ roomId: to.room.id, datacenterId: to.datacenter.id, regionId: to.region.id });
    expect((await inventory.listRacks({ filter: `datacenter_id = "${to.datacenter.id}"` })).racks.map((r) => r.id)).toEqual([rack.id]);
    expect((await inventory.listRacks({ filter: `region_id = "${from.region.id}"` })).racks).toEqual([]);
    expect(
      await failure(inventory.updateRack({ rack: { id: rack.id, roomId: randomUUID() }, updateMask: { paths: ["room_id"] } })),
    ).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
  });

  it("deletes a rack with its units", async () => {
    const { room } = await tree("rackdel");
    const rack = await newRack(room.id);
    await inventory.deleteRack({ id: rack.id, etag: rack.etag });
    expect(await failure(inventory.getRack({ id: rack.id }))).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
    expect(await failure(elevation(rack.id))).toMatchObject({ code: Code.NotFound });
    expect(await failure(inventory.deleteRack({ id: rack.id }))).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
  });

  it("refuses children of parents that do not exist", async () => {
    expect(await failure(inventory.createDatacenter({ datacenter: { name: unique("orphan"), regionId: randomUUID() } }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "region" },
    });
    expect(await failure(inventory.createRoom({ room: { name: unique("orphan"), datacenterId: randomUUID() } }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "datacenter" },
    });
    expect(await failure(inventory.createRack({ rack: { name: unique("orphan"), roomId: randomUUID(), heightUnits: 1 } }))).toMatchObject({
      code: Code.NotFound,
      metadata: { resource_type: "room" },
    });
  });

  it("keeps names unique in their scope: ALREADY_EXISTS on create and on rename", async () => {
    const a = await tree("uniq");
    const { datacenter: otherDc } = await inventory.createDatacenter({ datacenter: { name: unique("uniq-dc"), regionId: a.region.id } });

    const alreadyExists = { code: Code.AlreadyExists, reason: "ALREADY_EXISTS" };
    expect(await failure(inventory.createRegion({ region: { name: a.region.name } }))).toMatchObject(alreadyExists);
    expect(await failure(inventory.createDatacenter({ datacenter: { name: a.datacenter.name, regionId: a.region.id } }))).toMatchObject(
      alreadyExists,
    );

    // Room names are unique within a datacenter only.
    expect(await failure(inventory.createRoom({ room: { name: a.room.name, datacenterId: a.datacenter.id } }))).toMatchObject(
      alreadyExists,
    );
    const { room: sameNameElsewhere } = await inventory.createRoom({ room: { name: a.room.name, datacenterId: otherDc!.id } });
    expect(sameNameElsewhere!.name).toBe(a.room.name);

    // Rack names are unique within a room only.
    const rack = await newRack(a.room.id, { name: "r01" });
    expect(await failure(inventory.createRack({ rack: { name: "r01", roomId: a.room.id, heightUnits: 1 } }))).toMatchObject(alreadyExists);
    await newRack(sameNameElsewhere!.id, { name: "r01" });
    const r02 = await newRack(a.room.id, { name: "r02" });
    expect(await failure(inventory.updateRack({ rack: { id: r02.id, name: "r01" }, updateMask: { paths: ["name"] } }))).toMatchObject(
      alreadyExists,
    );
    // Moving a rack into a room that has one of the same name collides too.
    expect(
      await failure(inventory.updateRack({ rack: { id: rack.id, roomId: sameNameElsewhere!.id }, updateMask: { paths: ["room_id"] } })),
    ).toMatchObject(alreadyExists);

    // Nothing was created by the refused calls.
    expect((await inventory.listRooms({ filter: `datacenter_id = "${a.datacenter.id}"` })).rooms).toHaveLength(1);
    expect((await inventory.listRacks({ filter: `room_id = "${a.room.id}"` })).racks.map((r) => r.name)).toEqual(["r01", "r02"]);
  });
});

describe("listing racks", () => {
  it("pages 25 racks 10 at a time: 3 pages, each rack once, in order of creation", async () => {
    const { room } = await tree("page");
    const created: string[] = [];
    for (let i = 0; i < 25; i++) created.push((await newRack(room.id, { heightUnits: 1 })).id);

    const filter = `room_id = "${room.id}"`;
    const pages: string[][] = [];
    let pageToken = "";
    do {
      const page = await inventory.listRacks({ filter, pageSize: 10, pageToken });
      pages.push(page.racks.map((rack) => rack.id));
      pageToken = page.nextPageToken;
      expect(pages.length).toBeLessThanOrEqual(3);
    } while (pageToken !== "");
    expect(pages.map((page) => page.length)).toEqual([10, 10, 5]);
    expect(pages.flat()).toEqual(created);

    // Exactly one page's worth: no empty trailing page.
    const exact = await inventory.listRacks({ filter, pageSize: 25 });
    expect(exact.racks).toHaveLength(25);
    expect(exact.nextPageToken).toBe("");
  });

  it("filters with AIP-160: comparisons, AND, OR, NOT, wildcards and list membership", async () => {
    const { room } = await tree("filter");
    const make = (name: string, status: RackStatus, asn: number, torSwitches: string[] = []) =>
      newRack(room.id, { name, status, asn, heightUnits: 1, network: { torSwitches } });
    const r1a = await make("r1a", RackStatus.MAINTENANCE, 65010, ["tor-x"]);
    const r1b = await make("r1b", RackStatus.MAINTENANCE, 64000);
    const r10 = await make("r10", RackStatus.ACTIVE, 65020, ["tor-x", "tor-y"]);
    const r2 = await make("r2", RackStatus.MAINTENANCE, 65500);
    const x1 = await make("x1", RackStatus.DECOMMISSIONED, 0);

    const names = async (filter: string) => (await allRacks(`room_id = "${room.id}" AND (${filter})`)).map((rack) => rack.name);
    expect(await names("status = RACK_STATUS_MAINTENANCE AND asn >= 65000")).toEqual(["r1a", "r2"]);
    expect(await names(`name = "r1*"`)).toEqual(["r1a", "r1b", "r10"]);
    expect(await names(`name = "*1"`)).toEqual(["x1"]);
    expect(await names(`status = RACK_STATUS_ACTIVE OR status = RACK_STATUS_DECOMMISSIONED`)).toEqual(["r10", "x1"]);
    expect(await names(`NOT status = RACK_STATUS_MAINTENANCE`)).toEqual(["r10", "x1"]);
    expect(await names(`-name = "r1*" AND status = MAINTENANCE`)).toEqual(["r2"]);
    expect(await names(`network.tor_switches:"tor-x"`)).toEqual(["r1a", "r10"]);
    expect(await names(`asn > 65000 asn < 65500`)).toEqual(["r1a", "r10"]);
    expect(await names(`name != "r2" AND status = RACK_STATUS_MAINTENANCE`)).toEqual(["r1a", "r1b"]);
    expect([r1a, r1b, r10, r2, x1].every((rack) => rack.roomId === room.id)).toBe(true);

    expect(await failure(inventory.listRacks({ filter: "colour = red" }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_FILTER",
    });
    expect(await failure(inventory.listRacks({ filter: "status = GREEN" }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_FILTER",
    });
  });

  it("refuses a page token used with a different filter, or one it never issued", async () => {
    const { room } = await tree("token");
    for (let i = 0; i < 3; i++) await newRack(room.id, { heightUnits: 1 });
    const filter = `room_id = "${room.id}"`;
    const first = await inventory.listRacks({ filter, pageSize: 2 });
    expect(first.nextPageToken).not.toBe("");

    expect(
      await failure(inventory.listRacks({ filter: `${filter} AND height_units = 1`, pageSize: 2, pageToken: first.nextPageToken })),
    ).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_PAGE_TOKEN",
    });
    expect(await failure(inventory.listRacks({ pageSize: 2, pageToken: first.nextPageToken }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_PAGE_TOKEN",
    });
    expect(await failure(inventory.listRacks({ filter, pageToken: "bm90IGEgdG9rZW4" }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "INVALID_PAGE_TOKEN",
    });
    // The same filter continues.
    const second = await inventory.listRacks({ filter, pageSize: 2, pageToken: first.nextPageToken });
    expect(second.racks).toHaveLength(1);
    expect(second.nextPageToken).toBe("");
    // Negative sizes are invalid.
    expect(await failure(inventory.listRacks({ filter, pageSize: -1 }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
    });
  });

  it("clamps page_size above 1000 to 1000", async () => {
    const { room } = await tree("clamp");
    const total = 1003;
    const queue = range(0, total);
    // A few creators at a time: fast, but well within the server's connection pool.
    await Promise.all(
      range(0, 8).map(async () => {
        while (queue.length > 0) {
          queue.pop();
          await inventory.createRack({ rack: { name: unique("c"), roomId: room.id, heightUnits: 1 } });
        }
      }),
    );
    const filter = `room_id = "${room.id}"`;
    const first = await inventory.listRacks({ filter, pageSize: 5000 });
    expect(first.racks).toHaveLength(1000);
    expect(first.nextPageToken).not.toBe("");
    const rest = await inventory.listRacks({ filter, pageSize: 5000, pageToken: first.nextPageToken });
    expect(rest.racks).toHaveLength(total - 1000);
    expect(rest.nextPageToken).toBe("");
    expect(new Set([...first.racks, ...rest.racks].map((rack) => rack.id)).size).toBe(total);

    // 0 means the default of 50.
    expect((await inventory.listRacks({ filter })).racks).toHaveLength(50);
  });
});

describe("idempotent create (request_id)", () => {
  it("answers a retry with the first result and creates one resource", async () => {
    const { room } = await tree("idem");
    const request = { rack: { name: unique("idem"), roomId: room.id, heightUnits: 10 }, requestId: randomUUID() };
    const first = await inventory.createRack(request);
    const retry = await inventory.createRack(request);
    expect(retry.rack!.id).toBe(first.rack!.id);
    expect(retry.rack).toEqual(first.rack);
    expect((await inventory.listRacks({ filter: `room_id = "${room.id}"` })).racks).toHaveLength(1);
    expect((await elevation(first.rack!.id)).units).toHaveLength(10);

    const regionRequest = { region: { name: unique("idem-region") }, requestId: "region-once" };
    const a = await inventory.createRegion(regionRequest);
    const b = await inventory.createRegion(regionRequest);
    expect(b.region!.id).toBe(a.region!.id);
  });

  it("refuses the same request_id with a different request: FAILED_PRECONDITION REQUEST_ID_REUSED", async () => {
    const { room } = await tree("reuse");
    const requestId = randomUUID();
    const { rack } = await inventory.createRack({ rack: { name: unique("reuse"), roomId: room.id, heightUnits: 10 }, requestId });
    expect(
      await failure(inventory.createRack({ rack: { name: unique("reuse"), roomId: room.id, heightUnits: 10 }, requestId })),
    ).toMatchObject({ code: Code.FailedPrecondition, reason: "REQUEST_ID_REUSED", metadata: { request_id: requestId } });
    expect((await inventory.listRacks({ filter: `room_id = "${room.id}"` })).racks.map((r) => r.id)).toEqual([rack!.id]);
  });

  it("creates exactly one resource for 10 concurrent creates with the same request_id", async () => {
    const { room } = await tree("idem-par");
    const request = { rack: { name: unique("par"), roomId: room.id, heightUnits: 4 }, requestId: randomUUID() };
    const results = await Promise.allSettled(range(0, 10).map(() => inventory.createRack(request)));
    const failures = results.flatMap((result) => (result.status === "rejected" ? [ConnectError.from(result.reason).message] : []));
    expect(failures).toEqual([]);
    const ids = new Set(results.map((result) => (result as PromiseFulfilledResult<{ rack?: Rack }>).value.rack!.id));
    expect(ids.size).toBe(1);
    const racks = await allRacks(`room_id = "${room.id}"`);
    expect(racks.map((rack) => rack.id)).toEqual([...ids]);
    expect((await elevation(racks[0]!.id)).units).toHaveLength(4);
  });

  it("reserves once for a retried ReserveRackUnits", async () => {
    const { room } = await tree("idem-res");
    const rack = await newRack(room.id, { heightUnits: 10 });
    const request = { rackId: rack.id, firstPosition: 1, unitCount: 2, purpose: "retry", requestId: randomUUID() };
    const first = await inventory.reserveRackUnits(request);
    const retry = await inventory.reserveRackUnits(request);
    expect(retry.reservation!.id).toBe(first.reservation!.id);
    expect((await elevation(rack.id)).reservations).toHaveLength(1);
  });
});

describe("delete guards", () => {
  it("refuses to delete a parent with children (HAS_DEPENDENTS, naming them) unless forced, which cascades", async () => {
    const { region, datacenter, room } = await tree("guard");
    const rack = await newRack(room.id, { heightUnits: 4 });
    await inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 1, unitCount: 2, purpose: "cascade" });

    const regionRefusal = await failure(inventory.deleteRegion({ id: region.id }));
    expect(regionRefusal).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "HAS_DEPENDENTS",
      metadata: { resource_type: "region", resource_id: region.id, datacenters: "1" },
    });
    expect(regionRefusal.message).toContain(datacenter.name);

    const dcRefusal = await failure(inventory.deleteDatacenter({ id: datacenter.id }));
    expect(dcRefusal).toMatchObject({ code: Code.FailedPrecondition, reason: "HAS_DEPENDENTS", metadata: { rooms: "1" } });
    expect(dcRefusal.message).toContain(room.name);

    const roomRefusal = await failure(inventory.deleteRoom({ id: room.id }));
    expect(roomRefusal).toMatchObject({ code: Code.FailedPrecondition, reason: "HAS_DEPENDENTS", metadata: { racks: "1" } });
    expect(roomRefusal.message).toContain(rack.name);

    // Nothing was deleted by the refusals.
    await inventory.getRack({ id: rack.id });
    expect((await elevation(rack.id)).load?.unitsReserved).toBe(2);

    await inventory.deleteRegion({ id: region.id, force: true });
    for (const call of [
      () => inventory.getRegion({ id: region.id }),
      () => inventory.getDatacenter({ id: datacenter.id }),
      () => inventory.getRoom({ id: room.id }),
      () => inventory.getRack({ id: rack.id }),
      () => elevation(rack.id),
    ]) {
      expect(await failure(call())).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
    }
  });

  it("cascades a forced datacenter delete and a forced room delete", async () => {
    const a = await tree("force-dc");
    const rackA = await newRack(a.room.id, { heightUnits: 2 });
    await inventory.deleteDatacenter({ id: a.datacenter.id, force: true });
    expect(await failure(inventory.getRoom({ id: a.room.id }))).toMatchObject({ code: Code.NotFound });
    expect(await failure(inventory.getRack({ id: rackA.id }))).toMatchObject({ code: Code.NotFound });
    await inventory.getRegion({ id: a.region.id });
    // With the datacenter gone, the region may be deleted without force.
    await inventory.deleteRegion({ id: a.region.id });

    const b = await tree("force-room");
    const rackB = await newRack(b.room.id, { heightUnits: 2 });
    await inventory.deleteRoom({ id: b.room.id, force: true });
    expect(await failure(inventory.getRack({ id: rackB.id }))).toMatchObject({ code: Code.NotFound });
    await inventory.deleteDatacenter({ id: b.datacenter.id });
  });

  it("refuses to delete a rack with a reservation unless forced", async () => {
    const { room } = await tree("guard-rack");
    const rack = await newRack(room.id, { heightUnits: 4 });
    await inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 2, unitCount: 2, purpose: "hold" });
    expect(await failure(inventory.deleteRack({ id: rack.id }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "HAS_DEPENDENTS",
      metadata: { resource_type: "rack", resource_id: rack.id, reservations: "1" },
    });
    await inventory.getRack({ id: rack.id });
    await inventory.deleteRack({ id: rack.id, force: true });
    expect(await failure(inventory.getRack({ id: rack.id }))).toMatchObject({ code: Code.NotFound });
  });
});

describe("rack units", () => {
  it("gives a new rack height_units FREE units, listed top to bottom, with a load summary", async () => {
    const { room } = await tree("units");
    const rack = await newRack(room.id, { heightUnits: 12 });
    const { rack: shown, units, reservations, load } = await elevation(rack.id);
    expect(shown).toEqual(rack);
    expect(units.map((unit) => unit.position)).toEqual(range(1, 12).reverse());
    expect(units[0]!.position).toBe(12);
    expect(units.every((unit) => unit.status === RackUnitStatus.FREE && unit.rackId === rack.id && unit.occupant === undefined)).toBe(true);
    expect(reservations).toEqual([]);
    expect(load).toMatchObject({ unitsTotal: 12, unitsFree: 12, unitsReserved: 0, unitsOccupied: 0, unitsFaulty: 0 });
  });

  it("reserves a range: units RESERVED with the reservation as occupant; overlaps and out-of-range are refused; release frees", async () => {
    const { room } = await tree("reserve");
    const rack = await newRack(room.id, { heightUnits: 10 });
    const { reservation } = await inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 3, unitCount: 4, purpose: "gpu nodes" });
    expect(reservation).toMatchObject({
      rackId: rack.id,
      firstPosition: 3,
      unitCount: 4,
      purpose: "gpu nodes",
      tenantId: "",
      createdBy: "admin",
    });

    const after = await elevation(rack.id);
    expect(positionsWith(after.units, RackUnitStatus.RESERVED)).toEqual([3, 4, 5, 6]);
    for (const unit of after.units.filter((u) => u.status === RackUnitStatus.RESERVED)) {
      expect(unit.occupant).toMatchObject({ kind: "reservation", id: reservation!.id, label: "gpu nodes" });
    }
    expect(after.reservations.map((r) => r.id)).toEqual([reservation!.id]);
    expect(after.load).toMatchObject({ unitsTotal: 10, unitsFree: 6, unitsReserved: 4 });

    const overlap = await failure(inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 5, unitCount: 4, purpose: "late" }));
    expect(overlap).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "RACK_UNITS_UNAVAILABLE",
      metadata: { rack_id: rack.id, conflicting_units: "5,6" },
    });

    expect(
      await failure(inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 8, unitCount: 4, purpose: "too high" })),
    ).toMatchObject({
      code: Code.InvalidArgument,
      reason: "UNITS_OUT_OF_RANGE",
      metadata: { first_position: "8", last_position: "11", height_units: "10" },
    });
    expect(await failure(inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 1, unitCount: 1, purpose: "" }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "VALIDATION_FAILED",
    });
    expect(await failure(inventory.reserveRackUnits({ rackId: randomUUID(), firstPosition: 1, unitCount: 1, purpose: "x" }))).toMatchObject(
      {
        code: Code.NotFound,
      },
    );

    // The refused calls changed nothing.
    const unchanged = await elevation(rack.id);
    expect(positionsWith(unchanged.units, RackUnitStatus.RESERVED)).toEqual([3, 4, 5, 6]);
    expect(unchanged.reservations).toHaveLength(1);

    await inventory.releaseRackUnits({ reservationId: reservation!.id });
    const released = await elevation(rack.id);
    expect(positionsWith(released.units, RackUnitStatus.FREE)).toEqual(range(1, 10));
    expect(released.units.every((unit) => unit.occupant === undefined)).toBe(true);
    expect(released.reservations).toEqual([]);
    expect(await failure(inventory.releaseRackUnits({ reservationId: reservation!.id }))).toMatchObject({ code: Code.NotFound });

    // The freed range can be reserved again.
    await inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 5, unitCount: 4, purpose: "late" });
  });

  it("marks units FAULTY (reason required), refuses to reserve them, and clears the fault", async () => {
    const { room } = await tree("faulty");
    const rack = await newRack(room.id, { heightUnits: 8 });
    expect(await failure(inventory.setRackUnitsFaulty({ rackId: rack.id, firstPosition: 2, unitCount: 2, faulty: true }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "FAULT_REASON_REQUIRED",
    });

    const { units } = await inventory.setRackUnitsFaulty({
      rackId: rack.id,
      firstPosition: 2,
      unitCount: 2,
      faulty: true,
      reason: "bent rails",
    });
    expect(units.map((unit) => [unit.position, unit.status, unit.faultReason])).toEqual([
      [2, RackUnitStatus.FAULTY, "bent rails"],
      [3, RackUnitStatus.FAULTY, "bent rails"],
    ]);
    const shown = await elevation(rack.id);
    expect(positionsWith(shown.units, RackUnitStatus.FAULTY)).toEqual([2, 3]);
    expect(shown.load).toMatchObject({ unitsFaulty: 2, unitsFree: 6 });

    expect(await failure(inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 1, unitCount: 3, purpose: "x" }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "RACK_UNITS_UNAVAILABLE",
      metadata: { conflicting_units: "2,3" },
    });
    // A reserved unit cannot be marked faulty.
    await inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 5, unitCount: 1, purpose: "held" });
    expect(
      await failure(inventory.setRackUnitsFaulty({ rackId: rack.id, firstPosition: 4, unitCount: 2, faulty: true, reason: "x" })),
    ).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "RACK_UNITS_UNAVAILABLE",
      metadata: { conflicting_units: "5" },
    });
    expect((await elevation(rack.id)).units.find((unit) => unit.position === 4)!.status).toBe(RackUnitStatus.FREE);

    const cleared = await inventory.setRackUnitsFaulty({ rackId: rack.id, firstPosition: 2, unitCount: 2, faulty: false });
    expect(cleared.units.map((unit) => [unit.position, unit.status, unit.faultReason])).toEqual([
      [2, RackUnitStatus.FREE, ""],
      [3, RackUnitStatus.FREE, ""],
    ]);
    await inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 1, unitCount: 3, purpose: "after repair" });
  });

  it("updates a unit's network, slot group and allowed tenants, guarded by its etag", async () => {
    const { room } = await tree("unit-upd");
    const rack = await newRack(room.id, { heightUnits: 4 });
    const { slotGroup } = await inventory.createSlotGroup({ slotGroup: { name: unique("sg") } });
    const tenant = await t.tenant(unique("t"));
    const before = (await elevation(rack.id)).units.find((unit) => unit.position === 2)!;

    const { unit } = await inventory.updateRackUnit({
      unit: {
        rackId: rack.id,
        position: 2,
        etag: before.etag,
        network: { switchPort: "tor1:Ethernet12", vlan: 120, addresses: ["10.0.0.12", "fd00::12"] },
        slotGroupId: slotGroup!.id,
        allowedTenantIds: [tenant],
      },
      updateMask: { paths: ["network", "slot_group_id", "allowed_tenant_ids"] },
    });
    expect(unit).toMatchObject({
      rackId: rack.id,
      position: 2,
      status: RackUnitStatus.FREE,
      network: { switchPort: "tor1:Ethernet12", vlan: 120, addresses: ["10.0.0.12", "fd00::12"] },
      slotGroupId: slotGroup!.id,
      allowedTenantIds: [tenant],
    });
    expect(unit!.etag).not.toBe(before.etag);
    expect((await elevation(rack.id)).units.find((u) => u.position === 2)).toEqual(unit);

    const { unit: vlanOnly } = await inventory.updateRackUnit({
      unit: { rackId: rack.id, position: 2, network: { vlan: 121, switchPort: "ignored" } },
      updateMask: { paths: ["network.vlan"] },
    });
    expect(vlanOnly!.network).toMatchObject({ switchPort: "tor1:Ethernet12", vlan: 121 });

    expect(
      await failure(
        inventory.updateRackUnit({
          unit: { rackId: rack.id, position: 2, etag: before.etag, network: { vlan: 1 } },
          updateMask: { paths: ["network.vlan"] },
        }),
      ),
    ).toMatchObject({ code: Code.Aborted, reason: "ETAG_MISMATCH" });
    expect(
      await failure(
        inventory.updateRackUnit({
          unit: { rackId: rack.id, position: 2, slotGroupId: randomUUID() },
          updateMask: { paths: ["slot_group_id"] },
        }),
      ),
    ).toMatchObject({ code: Code.NotFound, metadata: { resource_type: "slot_group" } });
    expect(
      await failure(inventory.updateRackUnit({ unit: { rackId: rack.id, position: 9 }, updateMask: { paths: ["network"] } })),
    ).toMatchObject({ code: Code.NotFound });
    expect(
      await failure(inventory.updateRackUnit({ unit: { rackId: rack.id, position: 2 }, updateMask: { paths: ["status"] } })),
    ).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_UPDATE_MASK" });

    // Clearing the slot group.
    const { unit: ungrouped } = await inventory.updateRackUnit({
      unit: { rackId: rack.id, position: 2 },
      updateMask: { paths: ["slot_group_id"] },
    });
    expect(ungrouped!.slotGroupId).toBe("");
  });

  it("refuses to lower a rack below a unit in use (RACK_UNITS_IN_USE) and adds FREE units when raised", async () => {
    const { room } = await tree("resize");
    const rack = await newRack(room.id, { heightUnits: 10 });
    await inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 7, unitCount: 2, purpose: "top" });

    expect(
      await failure(inventory.updateRack({ rack: { id: rack.id, heightUnits: 6 }, updateMask: { paths: ["height_units"] } })),
    ).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "RACK_UNITS_IN_USE",
      metadata: { rack_id: rack.id, units: "7,8" },
    });
    expect((await inventory.getRack({ id: rack.id })).rack!.heightUnits).toBe(10);
    expect((await elevation(rack.id)).units).toHaveLength(10);

    // Lowering to just above the reservation removes the free units on top.
    const { rack: lowered } = await inventory.updateRack({
      rack: { id: rack.id, heightUnits: 8 },
      updateMask: { paths: ["height_units"] },
    });
    expect(lowered!.heightUnits).toBe(8);
    const low = await elevation(rack.id);
    expect(low.units.map((unit) => unit.position)).toEqual(range(1, 8).reverse());
    expect(low.load).toMatchObject({ unitsTotal: 8, unitsFree: 6, unitsReserved: 2 });

    const { rack: raised } = await inventory.updateRack({
      rack: { id: rack.id, heightUnits: 14 },
      updateMask: { paths: ["height_units"] },
    });
    expect(raised!.heightUnits).toBe(14);
    const high = await elevation(rack.id);
    expect(high.units.map((unit) => unit.position)).toEqual(range(1, 14).reverse());
    expect(positionsWith(high.units, RackUnitStatus.FREE)).toEqual([...range(1, 6), ...range(9, 6)]);
    expect(high.load).toMatchObject({ unitsTotal: 14, unitsFree: 12, unitsReserved: 2 });

    // The new units can be reserved.
    await inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 12, unitCount: 3, purpose: "new top" });
  });

  it("reserves for a tenant only units that allow it: the unit's own list, else the rack's", async () => {
    const { room } = await tree("tenant-res");
    const allowed = await t.tenant(unique("allowed"));
    const stranger = await t.tenant(unique("stranger"));
    const rack = await newRack(room.id, { heightUnits: 6, allowedTenantIds: [allowed] });

    expect(
      await failure(inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 1, unitCount: 2, purpose: "x", tenantId: stranger })),
    ).toMatchObject({ code: Code.FailedPrecondition, reason: "RACK_UNITS_UNAVAILABLE", metadata: { conflicting_units: "1,2" } });

    const { reservation } = await inventory.reserveRackUnits({
      rackId: rack.id,
      firstPosition: 1,
      unitCount: 2,
      purpose: "tenant",
      tenantId: allowed,
    });
    expect(reservation!.tenantId).toBe(allowed);

    // A unit's own list overrides the rack's.
    await inventory.updateRackUnit({
      unit: { rackId: rack.id, position: 4, allowedTenantIds: [stranger] },
      updateMask: { paths: ["allowed_tenant_ids"] },
    });
    expect(
      await failure(inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 3, unitCount: 2, purpose: "x", tenantId: allowed })),
    ).toMatchObject({ code: Code.FailedPrecondition, reason: "RACK_UNITS_UNAVAILABLE", metadata: { conflicting_units: "4" } });
    await inventory.reserveRackUnits({ rackId: rack.id, firstPosition: 4, unitCount: 1, purpose: "stranger", tenantId: stranger });

    // A rack that allows nobody takes platform reservations only.
    const platformRack = await newRack(room.id, { heightUnits: 2 });
    expect(
      await failure(
        inventory.reserveRackUnits({ rackId: platformRack.id, firstPosition: 1, unitCount: 1, purpose: "x", tenantId: allowed }),
      ),
    ).toMatchObject({ code: Code.FailedPrecondition, reason: "RACK_UNITS_UNAVAILABLE" });
    await inventory.reserveRackUnits({ rackId: platformRack.id, firstPosition: 1, unitCount: 1, purpose: "platform" });
  });

  it("never lets 20 concurrent overlapping reservations overlap, and the elevation matches the winners exactly", async () => {
    const { room } = await tree("race");
    const height = 24;
    const rack = await newRack(room.id, { heightUnits: height });
    const requests = range(0, 20).map((i) => ({ rackId: rack.id, firstPosition: 1 + ((i * 5) % 21), unitCount: 4, purpose: `race-${i}` }));
    const results = await Promise.allSettled(requests.map((request) => inventory.reserveRackUnits(request)));

    const won = results.flatMap((result) => (result.status === "fulfilled" ? [result.value.reservation!] : []));
    const lost = results.flatMap((result) => (result.status === "rejected" ? [ConnectError.from(result.reason)] : []));
    expect(won.length).toBeGreaterThan(0);
    for (const error of lost) {
      expect(error.code, error.message).toBe(Code.FailedPrecondition);
      expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("RACK_UNITS_UNAVAILABLE");
    }

    const held = new Map<number, string>();
    for (const reservation of won) {
      for (const position of range(reservation.firstPosition, reservation.unitCount)) {
        expect(held.get(position), `U${position} reserved twice`).toBeUndefined();
        held.set(position, reservation.id);
      }
    }

    const { units, reservations, load } = await elevation(rack.id);
    expect(reservations.map((r) => r.id).sort()).toEqual(won.map((r) => r.id).sort());
    for (const unit of units) {
      const owner = held.get(unit.position);
      if (owner) {
        expect(unit.status).toBe(RackUnitStatus.RESERVED);
        expect(unit.occupant?.id).toBe(owner);
      } else {
        expect(unit.status).toBe(RackUnitStatus.FREE);
      }
    }
    expect(load).toMatchObject({ unitsTotal: height, unitsReserved: held.size, unitsFree: height - held.size });
  });
});

describe("slot groups", () => {
  it("creates, gets, lists, updates and deletes a slot group", async () => {
    const name = unique("gpu-pool");
    const { slotGroup } = await inventory.createSlotGroup({ slotGroup: { name, description: "A100 hosts" } });
    expect(slotGroup).toMatchObject({ name, description: "A100 hosts", etag: '"1"' });
    expect((await inventory.getSlotGroup({ id: slotGroup!.id })).slotGroup).toEqual(slotGroup);
    expect((await inventory.listSlotGroups({ filter: `name = "${name}"` })).slotGroups.map((g) => g.id)).toEqual([slotGroup!.id]);
    expect(await failure(inventory.createSlotGroup({ slotGroup: { name } }))).toMatchObject({
      code: Code.AlreadyExists,
      reason: "ALREADY_EXISTS",
    });

    const { slotGroup: updated } = await inventory.updateSlotGroup({
      slotGroup: { id: slotGroup!.id, etag: slotGroup!.etag, description: "H100 hosts" },
      updateMask: { paths: ["description"] },
    });
    expect(updated).toMatchObject({ name, description: "H100 hosts", etag: '"2"' });

    await inventory.deleteSlotGroup({ id: slotGroup!.id, etag: updated!.etag });
    expect(await failure(inventory.getSlotGroup({ id: slotGroup!.id }))).toMatchObject({
      code: Code.NotFound,
      reason: "RESOURCE_NOT_FOUND",
    });
  });

  it("refuses to delete a group holding units (HAS_DEPENDENTS) unless forced, which takes the units out", async () => {
    const { room } = await tree("sg-guard");
    const rackA = await newRack(room.id, { heightUnits: 3 });
    const rackB = await newRack(room.id, { heightUnits: 3 });
    const { slotGroup } = await inventory.createSlotGroup({ slotGroup: { name: unique("spanning") } });
    for (const [rackId, position] of [
      [rackA.id, 1],
      [rackA.id, 2],
      [rackB.id, 3],
    ] as const) {
      await inventory.updateRackUnit({ unit: { rackId, position, slotGroupId: slotGroup!.id }, updateMask: { paths: ["slot_group_id"] } });
    }

    expect(await failure(inventory.deleteSlotGroup({ id: slotGroup!.id }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "HAS_DEPENDENTS",
      metadata: { resource_type: "slot_group", resource_id: slotGroup!.id, units: "3" },
    });
    await inventory.getSlotGroup({ id: slotGroup!.id });
    const grouped = (await elevation(rackA.id)).units.find((unit) => unit.position === 1)!;
    expect(grouped.slotGroupId).toBe(slotGroup!.id);

    await inventory.deleteSlotGroup({ id: slotGroup!.id, force: true });
    expect(await failure(inventory.getSlotGroup({ id: slotGroup!.id }))).toMatchObject({ code: Code.NotFound });
    for (const rack of [rackA, rackB]) {
      expect((await elevation(rack.id)).units.every((unit) => unit.slotGroupId === "")).toBe(true);
    }
    // Taking a unit out of the group changes it, so its etag changes too (AIP-154).
    const ungrouped = (await elevation(rackA.id)).units.find((unit) => unit.position === 1)!;
    expect(ungrouped.etag).not.toBe(grouped.etag);
    expect(
      await failure(
        inventory.updateRackUnit({
          unit: { rackId: rackA.id, position: 1, etag: grouped.etag, slotGroupId: "" },
          updateMask: { paths: ["slot_group_id"] },
        }),
      ),
    ).toMatchObject({ code: Code.Aborted, reason: "ETAG_MISMATCH" });
  });
});

describe("who sees and changes the inventory", () => {
  it("shows a tenant member only the racks that allow its tenant, hides the others as NOT_FOUND, and refuses every write", async () => {
    const tenant = await t.tenant(unique("vis"));
    const other = await t.tenant(unique("other"));
    const { region, datacenter, room } = await tree("vis");
    const mine = await newRack(room.id, { heightUnits: 2, allowedTenantIds: [tenant] });
    const shared = await newRack(room.id, { heightUnits: 2, allowedTenantIds: [other, tenant] });
    const theirs = await newRack(room.id, { heightUnits: 2, allowedTenantIds: [other] });
    const platform = await newRack(room.id, { heightUnits: 2 });

    const member = t.clients(await t.token(Role.TENANT_MEMBER, "bob", tenant)).inventory;
    const listed = (await member.listRacks({ filter: `room_id = "${room.id}"` })).racks.map((rack) => rack.id);
    expect(listed).toEqual([mine.id, shared.id]);
    // Without a filter, still only its racks (the other tests' racks are invisible too).
    const everything = (await member.listRacks({ pageSize: 1000 })).racks;
    expect(everything.every((rack) => rack.allowedTenantIds.includes(tenant))).toBe(true);

    expect((await member.getRack({ id: mine.id })).rack!.id).toBe(mine.id);
    expect((await member.getRackElevation({ rackId: shared.id })).units).toHaveLength(2);
    for (const hidden of [theirs, platform]) {
      expect(await failure(member.getRack({ id: hidden.id }))).toMatchObject({ code: Code.NotFound, reason: "RESOURCE_NOT_FOUND" });
      expect(await failure(member.getRackElevation({ rackId: hidden.id }))).toMatchObject({
        code: Code.NotFound,
        reason: "RESOURCE_NOT_FOUND",
      });
    }
    // The hierarchy above the racks is readable.
    await member.getRegion({ id: region.id });
    await member.getDatacenter({ id: datacenter.id });
    await member.getRoom({ id: room.id });

    const denied = { code: Code.PermissionDenied, reason: "ROLE_NOT_ALLOWED" };
    const writes: Array<() => Promise<unknown>> = [
      () => member.createRegion({ region: { name: unique("nope") } }),
      () => member.updateRegion({ region: { id: region.id, description: "x" }, updateMask: { paths: ["description"] } }),
      () => member.deleteRegion({ id: region.id }),
      () => member.createDatacenter({ datacenter: { name: unique("nope"), regionId: region.id } }),
      () => member.deleteDatacenter({ id: datacenter.id }),
      () => member.createRoom({ room: { name: unique("nope"), datacenterId: datacenter.id } }),
      () => member.deleteRoom({ id: room.id }),
      () => member.createRack({ rack: { name: unique("nope"), roomId: room.id, heightUnits: 1 } }),
      () => member.updateRack({ rack: { id: mine.id, description: "x" }, updateMask: { paths: ["description"] } }),
      () => member.deleteRack({ id: mine.id }),
      () => member.reserveRackUnits({ rackId: mine.id, firstPosition: 1, unitCount: 1, purpose: "x", tenantId: tenant }),
      () => member.setRackUnitsFaulty({ rackId: mine.id, firstPosition: 1, unitCount: 1, faulty: true, reason: "x" }),
      () =>
        member.updateRackUnit({
          unit: { rackId: mine.id, position: 1, allowedTenantIds: [] },
          updateMask: { paths: ["allowed_tenant_ids"] },
        }),
      () => member.createSlotGroup({ slotGroup: { name: unique("nope") } }),
    ];
    for (const write of writes) expect(await failure(write())).toMatchObject(denied);
    // Nothing changed.
    expect((await inventory.getRack({ id: mine.id })).rack).toEqual(mine);
    expect((await elevation(mine.id)).load?.unitsFree).toBe(2);
  });

  it("refuses agents every inventory read", async () => {
    const { region, room } = await tree("agent");
    const rack = await newRack(room.id, { heightUnits: 1 });
    const agent = t.clients(await t.token(Role.AGENT, "agent-7")).inventory;
    const denied = { code: Code.PermissionDenied, reason: "ROLE_NOT_ALLOWED" };
    expect(await failure(agent.getRack({ id: rack.id }))).toMatchObject(denied);
    expect(await failure(agent.listRacks({}))).toMatchObject(denied);
    expect(await failure(agent.getRackElevation({ rackId: rack.id }))).toMatchObject(denied);
    expect(await failure(agent.getRegion({ id: region.id }))).toMatchObject(denied);
    expect(await failure(agent.listSlotGroups({}))).toMatchObject(denied);
  });

  it("lets a service principal change the inventory, and refuses calls without a valid token", async () => {
    const { room } = await tree("svc");
    const service = t.clients(await t.token(Role.SERVICE, "placement")).inventory;
    const { rack } = await service.createRack({ rack: { name: unique("svc"), roomId: room.id, heightUnits: 2 } });
    const { reservation } = await service.reserveRackUnits({ rackId: rack!.id, firstPosition: 1, unitCount: 1, purpose: "svc" });
    expect(reservation!.createdBy).toBe("placement");

    expect(await failure(t.clients("rpt_not-a-real-token").inventory.getRack({ id: rack!.id }))).toMatchObject({
      code: Code.Unauthenticated,
      reason: "TOKEN_INVALID",
    });
  });
});
