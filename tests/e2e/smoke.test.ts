import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

describe("smoke", () => {
  it("creates and reads a region over gRPC and JSON", async () => {
    const { inventory } = t.clients();
    const { region } = await inventory.createRegion({ region: { name: "eu-west" } });
    expect(region?.etag).toBe('"1"');
    const got = await t.json("InventoryService/GetRegion", { id: region!.id });
    expect(got.status).toBe(200);
    expect(got.body.region.name).toBe("eu-west");
  });
});
