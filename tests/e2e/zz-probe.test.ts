import { afterAll, beforeAll, it } from "vitest";
import { ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, BadRequestSchema } from "../../gen/es/google/rpc/error_details_pb.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";

let t: TestServer;
beforeAll(async () => { t = await startTestServer(); });
afterAll(() => t.close());

async function show(label: string, p: Promise<unknown>) {
  try { const r = await p; console.log(label, "OK", JSON.stringify(r, (_k, v) => typeof v === "bigint" ? String(v) : v).slice(0, 300)); }
  catch (e) {
    const ce = ConnectError.from(e);
    console.log(label, ce.code, ce.rawMessage, JSON.stringify(ce.findDetails(ErrorInfoSchema)), JSON.stringify(ce.findDetails(BadRequestSchema)));
  }
}
it("probe", async () => {
  const { inventory, identity, audit } = t.clients();
  const r = await inventory.createRegion({ region: { name: "r1" } });
  await show("create rack missing", inventory.createRack({ rack: {} }));
  await show("create rack none", inventory.createRack({}));
  await show("rack h61", inventory.createRack({ rack: { name: "a", roomId: r.region!.id, heightUnits: 61 } }));
  await show("rack asn", inventory.createRack({ rack: { name: "a", roomId: r.region!.id, heightUnits: 4, asn: 23456, network: { subnets: ["10.0.0.0/33"], managementVlan: 4095 } } }));
  await show("update no mask", inventory.updateRegion({ region: { id: r.region!.id } }));
  await show("update empty mask", inventory.updateRegion({ region: { id: r.region!.id }, updateMask: { paths: [] } }));
  await show("update bad path", inventory.updateRegion({ region: { id: r.region!.id }, updateMask: { paths: ["foo"] } }));
  await show("list neg", inventory.listRegions({ pageSize: -1 }));
  await show("list bad filter", inventory.listRegions({ filter: "foo = 1" }));
  await show("list bad token", inventory.listRegions({ pageToken: "garbage" }));
  await show("get bad id", inventory.getRegion({ id: "x" }));
  await show("get unknown", inventory.getRegion({ id: "00000000-0000-4000-8000-000000000000" }));
  await show("create token role 0", identity.createToken({ principal: "x" }));
  await show("caller", identity.getCallerIdentity({}));
  await show("list audit", audit.listAuditEvents({ pageSize: 2 }));
  await show("list audit filter", audit.listAuditEvents({ filter: "time >= \"2020-01-01T00:00:00Z\"" }));
  for (const [m, b] of [["InventoryService/CreateRack", '{"rack":{"heightUnits":"tall"}}'], ["InventoryService/CreateRack", "{not json"], ["InventoryService/GetRack", '{"id": 5}'], ["InventoryService/GetRack", '{"unknownField": 5}'], ["InventoryService/GetRack", '[]']] as const) {
    const res = await t.json(m, b);
    console.log("json", b, res.status, JSON.stringify(res.body));
  }
  console.log("json no token", JSON.stringify(await t.json("InventoryService/ListRegions", {}, null)));
  console.log("json garbage", JSON.stringify(await t.json("InventoryService/ListRegions", {}, "garbage")));
  console.log(JSON.stringify((await audit.listAuditEvents({})).auditEvents.map(e => [e.method, e.result, e.reason, e.principal, e.resourceType, e.resourceId])));
  const tok = await t.token(Role.TENANT_MEMBER, "m", "00000000-0000-4000-8000-000000000001");
  await show("member list audit", t.clients(tok).audit.listAuditEvents({}));
  await show("member create region", t.clients(tok).inventory.createRegion({ region: { name: "zz" } }));
});
