// One rack: its elevation, ASN and load (CPU / memory / storage allocated of capacity), and who
// maintains it.
import { useQuery } from "@connectrpc/connect-query";
import { InventoryService } from "../../../gen/es/rackplane/v1/inventory_pb.js";
import { RackElevation } from "../components/rack-elevation";
import { ResourceMaintainers } from "../components/resource-maintainers";
import { UsageBar } from "../components/usage-bar";
import { ErrorNotice } from "../errors";

export function RackPage({ id }: { id: string }) {
  const elevation = useQuery(InventoryService.method.getRackElevation, { rackId: id });
  if (elevation.error) return <ErrorNotice error={elevation.error} />;
  const data = elevation.data;
  if (!data) return <p aria-busy="true">Loading…</p>;
  const load = data.load;
  return (
    <>
      <h1>Rack {data.rack?.name}</h1>
      <div className="rack-layout">
        <RackElevation elevation={data} />
        <section aria-label="Rack summary">
          <dl>
            <dt>ASN</dt>
            <dd>{data.rack?.asn ? `AS${data.rack.asn}` : "none"}</dd>
            <dt>Units</dt>
            <dd>
              {load?.unitsOccupied ?? 0} occupied · {load?.unitsReserved ?? 0} reserved · {load?.unitsFaulty ?? 0} faulty ·{" "}
              {load?.unitsFree ?? 0} free
            </dd>
            <dt>Hosts</dt>
            <dd>{load?.hostCount ?? 0}</dd>
          </dl>
          {load && (
            <>
              <UsageBar label="CPU cores" used={load.cpuCoresAllocated} limit={load.cpuCoresCapacity} />
              <UsageBar label="Memory MiB" used={load.memoryMibAllocated} limit={load.memoryMibCapacity} />
              <UsageBar label="Storage GiB" used={load.storageGibAllocated} limit={load.storageGibCapacity} />
            </>
          )}
        </section>
      </div>
      <ResourceMaintainers type="rack" id={id} />
    </>
  );
}
