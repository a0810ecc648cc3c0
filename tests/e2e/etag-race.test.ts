// Optimistic concurrency (AIP-154) end to end: an etag read by several clients lets exactly one of
// them write; the rest get ABORTED / ETAG_MISMATCH. An empty etag is an unconditional write.
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { failure } from "../support/failure.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let inventory: ReturnType<TestServer["clients"]>["inventory"];
let roomId: string;

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

beforeAll(async () => {
  t = await startTestServer();
  inventory = t.clients().inventory;
  const { region } = await inventory.createRegion({ region: { name: unique("etag-region") } });
  const { datacenter } = await inventory.createDatacenter({ datacenter: { name: unique("etag-dc"), regionId: region!.id } });
  roomId = (await inventory.createRoom({ room: { name: unique("etag-room"), datacenterId: datacenter!.id } })).room!.id;
});
afterAll(() => t?.close());

async function newRack() {
  return (await inventory.createRack({ rack: { name: unique("rack"), roomId, heightUnits: 4, description: "initial" } })).rack!;
}

/** The outcome of each settled call: "ok", or the reason of its ErrorInfo with the status code. */
function outcomes(results: PromiseSettledResult<unknown>[]): string[] {
  return results.map((result) => {
    if (result.status === "fulfilled") return "ok";
    const error = ConnectError.from(result.reason);
    return `${Code[error.code]}/${error.findDetails(ErrorInfoSchema)[0]?.reason ?? error.rawMessage}`;
  });
}

describe("concurrent writes with one etag", () => {
  it("lets exactly one of two clients holding the same etag update the rack; the other gets ABORTED ETAG_MISMATCH", async () => {
    const rack = await newRack();
    // Two independent clients (own connections), each reading the rack.
    const alice = t.clients().inventory;
    const bob = t.clients().inventory;
    const [seenByAlice, seenByBob] = await Promise.all([alice.getRack({ id: rack.id }), bob.getRack({ id: rack.id })]);
    expect(seenByAlice.rack!.etag).toBe(seenByBob.rack!.etag);
    const etag = seenByAlice.rack!.etag;

    const results = await Promise.allSettled([
      alice.updateRack({ rack: { id: rack.id, etag, description: "alice" }, updateMask: { paths: ["description"] } }),
      bob.updateRack({ rack: { id: rack.id, etag, description: "bob" }, updateMask: { paths: ["description"] } }),
    ]);
    expect(outcomes(results).sort()).toEqual(["Aborted/ETAG_MISMATCH", "ok"]);

    const winner = results[0].status === "fulfilled" ? "alice" : "bob";
    const { rack: after } = await inventory.getRack({ id: rack.id });
    expect(after).toMatchObject({ description: winner, etag: '"2"' });
  });

  it("lets exactly 1 of 10 concurrent updates with the same etag succeed", async () => {
    const rack = await newRack();
    const clients = Array.from({ length: 10 }, () => t.clients().inventory);
    const results = await Promise.allSettled(
      clients.map((client, i) =>
        client.updateRack({ rack: { id: rack.id, etag: rack.etag, description: `writer-${i}` }, updateMask: { paths: ["description"] } }),
      ),
    );
    const seen = outcomes(results);
    expect(seen.filter((outcome) => outcome === "ok")).toHaveLength(1);
    expect(seen.filter((outcome) => outcome === "Aborted/ETAG_MISMATCH")).toHaveLength(9);

    const winner = seen.indexOf("ok");
    const { rack: after } = await inventory.getRack({ id: rack.id });
    expect(after).toMatchObject({ description: `writer-${winner}`, etag: '"2"' });
    expect((results[winner] as PromiseFulfilledResult<{ rack?: { etag: string } }>).value.rack!.etag).toBe('"2"');
  });

  it("lets exactly 1 of 10 concurrent unit updates with the same etag succeed", async () => {
    const rack = await newRack();
    const unit = (await inventory.getRackElevation({ rackId: rack.id })).units.find((u) => u.position === 1)!;
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        inventory.updateRackUnit({
          unit: { rackId: rack.id, position: 1, etag: unit.etag, network: { vlan: 100 + i } },
          updateMask: { paths: ["network.vlan"] },
        }),
      ),
    );
    const seen = outcomes(results);
    expect(seen.filter((outcome) => outcome === "ok")).toHaveLength(1);
    expect(seen.filter((outcome) => outcome === "Aborted/ETAG_MISMATCH")).toHaveLength(9);
    const after = (await inventory.getRackElevation({ rackId: rack.id })).units.find((u) => u.position === 1)!;
    expect(after.network?.vlan).toBe(100 + seen.indexOf("ok"));
  });

  it("lets a delete and an update racing on one etag not both succeed", async () => {
    const rack = await newRack();
    const results = await Promise.allSettled([
      inventory.deleteRack({ id: rack.id, etag: rack.etag }),
      inventory.updateRack({ rack: { id: rack.id, etag: rack.etag, description: "late" }, updateMask: { paths: ["description"] } }),
    ]);
    const [deleted, updated] = outcomes(results);
    if (deleted === "ok") {
      expect(["NotFound/RESOURCE_NOT_FOUND", "Aborted/ETAG_MISMATCH"]).toContain(updated);
      expect((await failure(inventory.getRack({ id: rack.id }))).code).toBe(Code.NotFound);
    } else {
      expect([deleted, updated]).toEqual(["Aborted/ETAG_MISMATCH", "ok"]);
      expect((await inventory.getRack({ id: rack.id })).rack!.description).toBe("late");
    }
  });

  it("serialises 10 concurrent unconditional updates without losing a version", async () => {
    const rack = await newRack();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        inventory.updateRack({ rack: { id: rack.id, description: `free-${i}` }, updateMask: { paths: ["description"] } }),
      ),
    );
    expect(outcomes(results)).toEqual(Array(10).fill("ok"));
    const etags = results.map((result) => (result as PromiseFulfilledResult<{ rack?: { etag: string } }>).value.rack!.etag);
    expect(new Set(etags).size).toBe(10);
    expect((await inventory.getRack({ id: rack.id })).rack!.etag).toBe('"11"');
  });
});

describe("stale and empty etags", () => {
  it("refuses an Update and a Delete with a stale etag (ABORTED), changing nothing", async () => {
    const rack = await newRack();
    const { rack: changed } = await inventory.updateRack({
      rack: { id: rack.id, etag: rack.etag, description: "second" },
      updateMask: { paths: ["description"] },
    });
    expect(changed!.etag).not.toBe(rack.etag);

    const stale = {
      code: Code.Aborted,
      reason: "ETAG_MISMATCH",
      metadata: { resource_type: "rack", resource_id: rack.id, current_etag: changed!.etag },
    };
    expect(
      await failure(
        inventory.updateRack({ rack: { id: rack.id, etag: rack.etag, description: "third" }, updateMask: { paths: ["description"] } }),
      ),
    ).toMatchObject(stale);
    expect(await failure(inventory.deleteRack({ id: rack.id, etag: rack.etag }))).toMatchObject(stale);
    expect(await failure(inventory.deleteRack({ id: rack.id, etag: '"not-a-version"' }))).toMatchObject({
      code: Code.Aborted,
      reason: "ETAG_MISMATCH",
    });
    expect((await inventory.getRack({ id: rack.id })).rack).toEqual(changed);

    // The current etag works.
    await inventory.deleteRack({ id: rack.id, etag: changed!.etag });
    expect((await failure(inventory.getRack({ id: rack.id }))).code).toBe(Code.NotFound);
  });

  it("treats an empty etag as unconditional on Update and Delete", async () => {
    const rack = await newRack();
    await inventory.updateRack({ rack: { id: rack.id, etag: rack.etag, description: "second" }, updateMask: { paths: ["description"] } });
    const { rack: updated } = await inventory.updateRack({
      rack: { id: rack.id, description: "blind" },
      updateMask: { paths: ["description"] },
    });
    expect(updated).toMatchObject({ description: "blind", etag: '"3"' });
    await inventory.deleteRack({ id: rack.id });
    expect((await failure(inventory.getRack({ id: rack.id }))).code).toBe(Code.NotFound);
  });

  type Kind = "region" | "datacenter" | "room" | "slot group";
  const kinds: Record<
    Kind,
    {
      create(): Promise<{ id: string; etag: string }>;
      update(id: string, etag: string, description: string): Promise<unknown>;
      remove(id: string, etag: string): Promise<unknown>;
      get(id: string): Promise<{ etag: string; description: string }>;
    }
  > = {
    region: {
      create: async () => (await inventory.createRegion({ region: { name: unique("e-region") } })).region!,
      update: (id, etag, description) =>
        inventory.updateRegion({ region: { id, etag, description }, updateMask: { paths: ["description"] } }),
      remove: (id, etag) => inventory.deleteRegion({ id, etag }),
      get: async (id) => (await inventory.getRegion({ id })).region!,
    },
    datacenter: {
      create: async () => {
        const { region } = await inventory.createRegion({ region: { name: unique("e-region") } });
        return (await inventory.createDatacenter({ datacenter: { name: unique("e-dc"), regionId: region!.id } })).datacenter!;
      },
      update: (id, etag, description) =>
        inventory.updateDatacenter({ datacenter: { id, etag, description }, updateMask: { paths: ["description"] } }),
      remove: (id, etag) => inventory.deleteDatacenter({ id, etag }),
      get: async (id) => (await inventory.getDatacenter({ id })).datacenter!,
    },
    room: {
      create: async () => {
        const { room } = await inventory.getRoom({ id: roomId });
        return (await inventory.createRoom({ room: { name: unique("e-room"), datacenterId: room!.datacenterId } })).room!;
      },
      update: (id, etag, description) => inventory.updateRoom({ room: { id, etag, description }, updateMask: { paths: ["description"] } }),
      remove: (id, etag) => inventory.deleteRoom({ id, etag }),
      get: async (id) => (await inventory.getRoom({ id })).room!,
    },
    "slot group": {
      create: async () => (await inventory.createSlotGroup({ slotGroup: { name: unique("e-sg") } })).slotGroup!,
      update: (id, etag, description) =>
        inventory.updateSlotGroup({ slotGroup: { id, etag, description }, updateMask: { paths: ["description"] } }),
      remove: (id, etag) => inventory.deleteSlotGroup({ id, etag }),
      get: async (id) => (await inventory.getSlotGroup({ id })).slotGroup!,
    },
  };

  it.each(Object.keys(kinds) as Kind[])("guards a %s's Update and Delete by etag the same way", async (kind) => {
    const resource = kinds[kind];
    const created = await resource.create();
    const race = await Promise.allSettled([resource.update(created.id, created.etag, "a"), resource.update(created.id, created.etag, "b")]);
    expect(outcomes(race).sort()).toEqual(["Aborted/ETAG_MISMATCH", "ok"]);
    const current = await resource.get(created.id);
    expect(current.etag).toBe('"2"');

    expect(await failure(resource.update(created.id, created.etag, "stale"))).toMatchObject({
      code: Code.Aborted,
      reason: "ETAG_MISMATCH",
    });
    expect(await failure(resource.remove(created.id, created.etag))).toMatchObject({ code: Code.Aborted, reason: "ETAG_MISMATCH" });
    expect((await resource.get(created.id)).description).toBe(current.description);

    await resource.remove(created.id, current.etag);
    expect((await failure(resource.get(created.id))).code).toBe(Code.NotFound);
    expect((await failure(resource.remove(randomUUID(), ""))).code).toBe(Code.NotFound);
  });
});
