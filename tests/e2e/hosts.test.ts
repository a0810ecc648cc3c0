import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BaremetalStatus, CustomFieldType, RackUnitStatus } from "../../gen/es/rackplane/v1/inventory_pb.js";
import fc from "fast-check";
import { effectiveCapacity } from "../../src/domain/quota.js";
import { failure } from "../support/failure.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let roomId = "";
let rackId = "";
let groupId = "";
beforeAll(async () => {
  t = await startTestServer();
  const { inventory } = t.clients();
  const { region } = await inventory.createRegion({ region: { name: "r" } });
  const { datacenter } = await inventory.createDatacenter({ datacenter: { name: "dc", regionId: region!.id } });
  const { room } = await inventory.createRoom({ room: { name: "room", datacenterId: datacenter!.id } });
  roomId = room!.id;
  rackId = (await inventory.createRack({ rack: { name: "rack", roomId: room!.id, heightUnits: 10 } })).rack!.id;
  groupId = (await inventory.createBaremetalGroup({ group: { name: "compute" } })).group!.id;
});
afterAll(() => t.close());

const host = (name: string, first: number, extra: Record<string, unknown> = {}) => ({
  name,
  serialNumber: `SN-${name}`,
  capacity: { cpuCores: 64, memoryMib: 262144n, storageGib: 4000n },
  placement: { rackId, firstPosition: first, heightUnits: 2 },
  groupId,
  ...extra,
});

describe("bare-metal hosts", () => {
  it("mounts a host on its units, derives its location and shows it in the elevation", async () => {
    const { inventory } = t.clients();
    const { baremetal } = await inventory.createBaremetal({ baremetal: host("h1", 1) });
    expect(baremetal?.status).toBe(BaremetalStatus.ACTIVE);
    expect(baremetal?.free?.cpuCores).toBe(64);
    expect(baremetal?.regionId).not.toBe("");
    const elevation = await inventory.getRackElevation({ rackId });
    const bottom = elevation.units.filter((unit) => unit.position <= 2);
    expect(bottom.every((unit) => unit.status === RackUnitStatus.OCCUPIED && unit.occupant?.id === baremetal!.id)).toBe(true);
    expect(elevation.load?.hostCount).toBe(1);
    expect(elevation.load?.cpuCoresCapacity).toBe(64n);
    const located = await inventory.locateBaremetal({ id: baremetal!.id });
    expect(located.rack?.id).toBe(rackId);
    expect(located.units.map((unit) => unit.position)).toEqual([2, 1]);
  });

  it("refuses occupied, faulty and out-of-rack units with RACK_UNITS_UNAVAILABLE", async () => {
    const { inventory } = t.clients();
    expect(await failure(inventory.createBaremetal({ baremetal: host("h2", 2) }))).toMatchObject({ reason: "RACK_UNITS_UNAVAILABLE" });
    expect(await failure(inventory.createBaremetal({ baremetal: host("h3", 10) }))).toMatchObject({ reason: "RACK_UNITS_UNAVAILABLE" });
    await inventory.setRackUnitsFaulty({ rackId, firstPosition: 5, unitCount: 1, faulty: true, reason: "rail" });
    const faulty = await failure(inventory.createBaremetal({ baremetal: host("h4", 4) }));
    expect(faulty.reason).toBe("RACK_UNITS_UNAVAILABLE");
    expect(faulty.message).toContain("U5 is FAULTY");
    await inventory.setRackUnitsFaulty({ rackId, firstPosition: 5, unitCount: 1, faulty: false });
  });

  it("lets exactly one of two racing hosts have the same units", async () => {
    const { inventory } = t.clients();
    const results = await Promise.allSettled([
      inventory.createBaremetal({ baremetal: host("race-a", 7) }),
      inventory.createBaremetal({ baremetal: host("race-b", 7) }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });

  it("batch-creates all or nothing and reports every rejected item by index", async () => {
    const { inventory } = t.clients();
    const rejected = await failure(
      inventory.batchCreateBaremetals({
        requests: [{ baremetal: host("b1", 3) }, { baremetal: host("h1", 5) }, { baremetal: host("b3", 1) }],
      }),
    );
    expect(rejected.reason).toBe("BATCH_REJECTED");
    expect(rejected.fields).toEqual([
      "requests[1].baremetal.name",
      "requests[1].baremetal.serial_number",
      "requests[2].baremetal.placement",
    ]);
    const { baremetals } = await inventory.listBaremetals({ filter: 'name = "b1"' });
    expect(baremetals).toHaveLength(0);
    const created = await inventory.batchCreateBaremetals({ requests: [{ baremetal: host("b1", 3) }, { baremetal: host("b2", 5) }] });
    expect(created.baremetals.map((b) => b.name)).toEqual(["b1", "b2"]);
  });

  it("searches by status, group, free capacity and custom fields", async () => {
    const { inventory } = t.clients();
    await inventory.createCustomFieldDefinition({
      definition: { name: "team", type: CustomFieldType.STRING, resourceTypes: ["baremetal"] },
    });
    const { baremetal } = await inventory.createBaremetal({
      baremetal: host("db1", 9, { customFields: { team: "db" }, capacity: { cpuCores: 8, memoryMib: 1024n, storageGib: 10n } }),
    });
    const byTeam = await inventory.listBaremetals({ filter: 'custom.team = "db"' });
    expect(byTeam.baremetals.map((b) => b.id)).toEqual([baremetal!.id]);
    const big = await inventory.listBaremetals({ filter: `group_id = "${groupId}" AND status = ACTIVE AND free_cpu >= 16` });
    expect(big.baremetals.every((b) => b.free!.cpuCores >= 16)).toBe(true);
    expect(big.baremetals.map((b) => b.name)).not.toContain("db1");
    expect(await failure(inventory.createBaremetal({ baremetal: host("bad", 9, { customFields: { team: 7 } }) }))).toMatchObject({
      reason: "INVALID_CUSTOM_FIELD",
    });
    const group = await inventory.getBaremetalGroup({ id: groupId });
    expect(group.group?.hostCount).toBeGreaterThanOrEqual(4);
  });

  it("moves a host, freeing its old units in the same transaction", async () => {
    const { inventory } = t.clients();
    const { baremetals } = await inventory.listBaremetals({ filter: 'name = "b2"' });
    const moved = await inventory.updateBaremetal({
      baremetal: { id: baremetals[0]!.id, placement: { rackId, firstPosition: 6, heightUnits: 1 } },
      updateMask: { paths: ["placement"] },
    });
    expect(moved.baremetal?.placement?.firstPosition).toBe(6);
    const elevation = await inventory.getRackElevation({ rackId });
    const at = (p: number) => elevation.units.find((unit) => unit.position === p)!;
    expect(at(5).status).toBe(RackUnitStatus.FREE);
    expect(at(6).occupant?.id).toBe(baremetals[0]!.id);
  });
});

describe("effective capacity", () => {
  it("is what the domain's formula says, for any capacity, reserve and allocation ratios", async () => {
    // The server computes it in SQL (app/hosts/effective-capacity.ts); the placement and quota
    // property tests reason with the domain's effectiveCapacity. They must agree.
    const { inventory } = t.clients();
    const { rack } = await inventory.createRack({ rack: { name: "formula", roomId, heightUnits: 42 } });
    let n = 0;
    const ratio = (max: number) => fc.double({ min: 0.05, max, noNaN: true, noDefaultInfinity: true });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          cpuCores: fc.integer({ min: 1, max: 4096 }),
          memoryMib: fc.integer({ min: 1, max: 8_388_608 }),
          storageGib: fc.integer({ min: 1, max: 1_000_000 }),
        }),
        fc.record({
          cpuCores: fc.integer({ min: 0, max: 128 }),
          memoryMib: fc.integer({ min: 0, max: 131_072 }),
          storageGib: fc.integer({ min: 0, max: 2000 }),
        }),
        fc.tuple(ratio(64), ratio(16), ratio(16)),
        async (capacity, reserved, [cpuRatio, memoryRatio, storageRatio]) => {
          n++;
          const { group } = await inventory.createBaremetalGroup({
            group: {
              name: `formula-${n}`,
              scheduling: {
                cpuAllocationRatio: cpuRatio,
                memoryAllocationRatio: memoryRatio,
                storageAllocationRatio: storageRatio,
                reservedPerHost: {
                  cpuCores: reserved.cpuCores,
                  memoryMib: BigInt(reserved.memoryMib),
                  storageGib: BigInt(reserved.storageGib),
                },
              },
            },
          });
          const { baremetals } = await inventory.batchCreateBaremetals({
            requests: [
              {
                baremetal: {
                  name: `formula-h${n}`,
                  serialNumber: `FORMULA-${n}`,
                  capacity: { cpuCores: capacity.cpuCores, memoryMib: BigInt(capacity.memoryMib), storageGib: BigInt(capacity.storageGib) },
                  groupId: group!.id,
                  placement: { rackId: rack!.id, firstPosition: n, heightUnits: 1 },
                },
              },
            ],
          });
          const expected = effectiveCapacity(capacity, {
            reservedPerHost: reserved,
            cpuAllocationRatio: cpuRatio,
            memoryAllocationRatio: memoryRatio,
            storageAllocationRatio: storageRatio,
          });
          const effective = baremetals[0]!.effective!;
          expect({
            cpuCores: effective.cpuCores,
            memoryMib: Number(effective.memoryMib),
            storageGib: Number(effective.storageGib),
          }).toEqual(expected);
        },
      ),
      { numRuns: 40 },
    );
  });
});
