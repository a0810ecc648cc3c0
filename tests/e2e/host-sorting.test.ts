// ListBaremetals' AIP-132 order_by through a real server: paging two at a time through a sorted list
// with ties returns every host once, in (field, id) order either way, also under a filter; an
// unknown field or a token from another order is refused.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Baremetal } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { failure } from "../support/failure.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
let hosts: Baremetal[] = [];
// Ties on purpose: three 16s, three 32s, two 64s.
const cores = [32, 16, 64, 16, 32, 8, 64, 32, 16];

beforeAll(async () => {
  t = await startTestServer();
  const { inventory } = t.clients();
  const { region } = await inventory.createRegion({ region: { name: "r" } });
  const { datacenter } = await inventory.createDatacenter({ datacenter: { name: "dc", regionId: region!.id } });
  const { room } = await inventory.createRoom({ room: { name: "room", datacenterId: datacenter!.id } });
  const rackId = (await inventory.createRack({ rack: { name: "rack", roomId: room!.id, heightUnits: 42 } })).rack!.id;
  const groupId = (await inventory.createBaremetalGroup({ group: { name: "compute" } })).group!.id;
  for (const [i, cpuCores] of cores.entries()) {
    // Names run against creation order, so name order is not id order.
    const { baremetal } = await inventory.createBaremetal({
      baremetal: {
        name: `h${String(cores.length - i).padStart(2, "0")}`,
        serialNumber: `SN-${i}`,
        capacity: { cpuCores, memoryMib: 65536n, storageGib: 1000n },
        placement: { rackId, firstPosition: i + 1, heightUnits: 1 },
        groupId,
      },
    });
    hosts.push(baremetal!);
  }
  hosts = (await inventory.listBaremetals({ pageSize: 100 })).baremetals;
});
afterAll(() => t.close());

/** Every page of a list, two hosts a page. */
async function pages(orderBy: string, filter = ""): Promise<Baremetal[][]> {
  const { inventory } = t.clients();
  const all: Baremetal[][] = [];
  let pageToken = "";
  do {
    const page = await inventory.listBaremetals({ pageSize: 2, pageToken, orderBy, filter });
    all.push(page.baremetals);
    pageToken = page.nextPageToken;
  } while (pageToken !== "" && all.length < 20);
  return all;
}

const byFreeCpuThenId = (a: Baremetal, b: Baremetal) => a.free!.cpuCores - b.free!.cpuCores || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

describe("ListBaremetals order_by", () => {
  it("pages through ties on free_cpu, ascending and descending, every host once in (free_cpu, id) order", async () => {
    const ascending = [...hosts].sort(byFreeCpuThenId).map((h) => h.id);
    const up = await pages("free_cpu");
    expect(up).toHaveLength(5);
    expect(up.flat().map((h) => h.id)).toEqual(ascending);
    const down = await pages("  free_cpu   desc ");
    expect(down.flat().map((h) => h.id)).toEqual([...ascending].reverse());
    // The ties really are split across pages, so the id part of the key is what carries them.
    expect(up[1]!.map((h) => h.free!.cpuCores)).toEqual([16, 16]);
    expect(up[2]!.map((h) => h.free!.cpuCores)).toEqual([32, 32]);
  });

  it("sorts by name and by create time, and within a filter", async () => {
    const names = (await pages("name")).flat().map((h) => h.name);
    expect(names).toEqual([...names].sort());
    expect(names).toHaveLength(cores.length);
    expect((await pages("create_time desc")).flat().map((h) => h.id)).toEqual(hosts.map((h) => h.id).reverse());
    const big = (await pages("free_cpu desc", "free_cpu >= 32")).flat();
    const expected = hosts
      .filter((h) => h.free!.cpuCores >= 32)
      .sort(byFreeCpuThenId)
      .reverse();
    expect(expected.length).toBeGreaterThan(2);
    expect(big.map((h) => h.id)).toEqual(expected.map((h) => h.id));
  });

  it("refuses an unknown field, a second field or a bad direction with INVALID_ORDER_BY on order_by", async () => {
    const { inventory } = t.clients();
    for (const orderBy of ["serial_number", "name, free_cpu", "free_cpu sideways", "free_cpu desc asc"]) {
      const refused = await failure(inventory.listBaremetals({ orderBy }));
      expect(refused).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_ORDER_BY", fields: ["order_by"] });
      expect(refused.metadata.sortable_fields).toBe("name, status, free_cpu, free_memory_mib, free_storage_gib, create_time");
    }
  });

  it("honours a page token only under the order it was issued for", async () => {
    const { inventory } = t.clients();
    const first = await inventory.listBaremetals({ pageSize: 2, orderBy: "free_cpu desc" });
    expect(first.nextPageToken).not.toBe("");
    for (const orderBy of ["free_cpu", "", "name desc"]) {
      expect(await failure(inventory.listBaremetals({ pageSize: 2, orderBy, pageToken: first.nextPageToken }))).toMatchObject({
        code: Code.InvalidArgument,
        reason: "INVALID_PAGE_TOKEN",
      });
    }
    // The same order written another way is the same order.
    const next = await inventory.listBaremetals({ pageSize: 2, orderBy: "free_cpu  desc", pageToken: first.nextPageToken });
    expect(next.baremetals).toHaveLength(2);
  });
});
