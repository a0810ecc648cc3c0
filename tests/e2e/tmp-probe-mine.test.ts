import { it } from "vitest";
import { startTestServer } from "../support/server.js";
it("probe", async () => {
  const t = await startTestServer();
  const url = `${t.url}/rackplane.v1.InventoryService/DeleteRack?encoding=json&message=${encodeURIComponent(JSON.stringify({ id: "01a217a8-3910-79c0-8083-cbf7de70a706" }))}`;
  const r = await fetch(url, { headers: { authorization: `Bearer ${t.adminToken}` } });
  console.log("STATUS", r.status, r.headers.get("allow"), await r.text());
  await t.close();
});
