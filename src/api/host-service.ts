// rackplane.v1.InventoryService, the host half: bare-metal hosts, host groups, custom fields.
import type { ServiceImpl } from "@connectrpc/connect";
import type { InventoryService } from "../../gen/es/rackplane/v1/inventory_pb.js";
import type { Database } from "../app/database.js";

export function hostService(db: Database): Partial<ServiceImpl<typeof InventoryService>> {
  void db;
  return {};
}
