// Regions → datacenters → rooms → racks, one column each; the choice lives in the query string so a
// link or the back button brings it back.
import { skipToken, useQuery } from "@connectrpc/connect-query";
import { InventoryService } from "../../../gen/es/rackplane/v1/inventory_pb.js";
import { ErrorNotice } from "../errors";
import { quote } from "../format";
import { Link, useLocation } from "../router";

export function Inventory() {
  const { query } = useLocation();
  const region = query.get("region") ?? "";
  const datacenter = query.get("datacenter") ?? "";
  const room = query.get("room") ?? "";
  const regions = useQuery(InventoryService.method.listRegions, { pageSize: 200 });
  const datacenters = useQuery(
    InventoryService.method.listDatacenters,
    region ? { pageSize: 200, filter: `region_id = ${quote(region)}` } : skipToken,
  );
  const rooms = useQuery(
    InventoryService.method.listRooms,
    datacenter ? { pageSize: 200, filter: `datacenter_id = ${quote(datacenter)}` } : skipToken,
  );
  const racks = useQuery(InventoryService.method.listRacks, room ? { pageSize: 200, filter: `room_id = ${quote(room)}` } : skipToken);
  const link = (params: Record<string, string>) => `/inventory?${new URLSearchParams(params)}`;
  return (
    <>
      <h1>Inventory</h1>
      <ErrorNotice error={regions.error ?? datacenters.error ?? rooms.error ?? racks.error} />
      <div className="columns">
        <Column title="Regions">
          {regions.data?.regions.map((r) => (
            <li key={r.id} aria-current={r.id === region ? "true" : undefined}>
              <Link to={link({ region: r.id })}>{r.name}</Link>
            </li>
          ))}
        </Column>
        {region && (
          <Column title="Datacenters">
            {datacenters.data?.datacenters.map((d) => (
              <li key={d.id} aria-current={d.id === datacenter ? "true" : undefined}>
                <Link to={link({ region, datacenter: d.id })}>{d.name}</Link>
              </li>
            ))}
          </Column>
        )}
        {datacenter && (
          <Column title="Rooms">
            {rooms.data?.rooms.map((r) => (
              <li key={r.id} aria-current={r.id === room ? "true" : undefined}>
                <Link to={link({ region, datacenter, room: r.id })}>{r.name}</Link>
              </li>
            ))}
          </Column>
        )}
        {room && (
          <Column title="Racks">
            {racks.data?.racks.map((r) => (
              <li key={r.id}>
                <Link to={`/racks/${r.id}`}>{r.name}</Link> <span className="muted">AS{r.asn || "—"}</span>
              </li>
            ))}
          </Column>
        )}
      </div>
    </>
  );
}

function Column({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <section className="column" aria-label={title}>
      <h2>{title}</h2>
      <ul>{children}</ul>
    </section>
  );
}
