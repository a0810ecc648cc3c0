// Hosts: the server's filters (status, group, free CPU, custom fields or any AIP-160 expression),
// the server's sort (column headers), 50 per page with page tokens; a host's detail with its VMs and maintainers.
import { useQuery } from "@connectrpc/connect-query";
import { type FormEvent, useState } from "react";
import { BaremetalStatus, InventoryService } from "../../../gen/es/rackplane/v1/inventory_pb.js";
import { ComputeService, VirtualMachineState } from "../../../gen/es/rackplane/v1/compute_pb.js";
import { PagerControls, usePager } from "../components/pager";
import { Field } from "../components/field";
import { ResourceMaintainers } from "../components/resource-maintainers";
import { orderBy, type Sort, SortHeader } from "../components/sort-header";
import { ErrorNotice } from "../errors";
import { enumName, mib, quote } from "../format";
import { Link } from "../router";

interface HostFilter {
  status: string;
  groupId: string;
  freeCpu: string;
  expression: string;
}

/** The AIP-160 filter the form stands for. */
export function hostFilter(filter: HostFilter): string {
  const parts: string[] = [];
  if (filter.status) parts.push(`status = ${filter.status}`);
  if (filter.groupId) parts.push(`group_id = ${quote(filter.groupId)}`);
  if (filter.freeCpu) parts.push(`free_cpu >= ${Number(filter.freeCpu)}`);
  if (filter.expression.trim()) parts.push(`(${filter.expression.trim()})`);
  return parts.join(" AND ");
}

const statuses = ["ACTIVE", "MAINTENANCE", "OFFLINE", "DECOMMISSIONED"];

export function Hosts() {
  const [form, setForm] = useState<HostFilter>({ status: "", groupId: "", freeCpu: "", expression: "" });
  const [filter, setFilter] = useState("");
  const [sort, setSort] = useState<Sort | undefined>();
  const pager = usePager();
  const groups = useQuery(InventoryService.method.listBaremetalGroups, { pageSize: 200 });
  const hosts = useQuery(InventoryService.method.listBaremetals, {
    pageSize: 50,
    pageToken: pager.pageToken,
    filter,
    orderBy: orderBy(sort),
  });
  const groupName = new Map<string, string>(groups.data?.groups.map((g) => [g.id, g.name]));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setFilter(hostFilter(form));
    pager.reset();
  };
  const sortBy = (next: Sort) => {
    setSort(next);
    pager.reset();
  };
  return (
    <>
      <h1>Hosts</h1>
      <form className="filters" onSubmit={submit} aria-label="Host filters">
        <Field label="Status">
          {(id) => (
            <select id={id} value={form.status} onChange={(e) => setForm({ ...form, status: e.target.value })}>
              <option value="">any</option>
              {statuses.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Group">
          {(id) => (
            <select id={id} value={form.groupId} onChange={(e) => setForm({ ...form, groupId: e.target.value })}>
              <option value="">any</option>
              {groups.data?.groups.map((g) => (
                <option key={g.id} value={g.id}>
                  {g.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <label>
          Free CPU at least
          <input type="number" min={0} value={form.freeCpu} onChange={(e) => setForm({ ...form, freeCpu: e.target.value })} />
        </label>
        <label>
          Filter (e.g. custom.team = "db")
          <input value={form.expression} onChange={(e) => setForm({ ...form, expression: e.target.value })} />
        </label>
        <button type="submit">Apply</button>
      </form>
      <ErrorNotice error={hosts.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Hosts, page {pager.page}</caption>
          <thead>
            <tr>
              <SortHeader field="name" sort={sort} onSort={sortBy}>
                Name
              </SortHeader>
              <SortHeader field="status" sort={sort} onSort={sortBy}>
                Status
              </SortHeader>
              <th scope="col">Group</th>
              <SortHeader field="free_cpu" sort={sort} onSort={sortBy}>
                CPU free / capacity
              </SortHeader>
              <SortHeader field="free_memory_mib" sort={sort} onSort={sortBy}>
                Memory free
              </SortHeader>
              <SortHeader field="free_storage_gib" sort={sort} onSort={sortBy}>
                Storage free
              </SortHeader>
            </tr>
          </thead>
          <tbody>
            {hosts.data?.baremetals.map((h) => (
              <tr key={h.id}>
                <td>
                  <Link to={`/hosts/${h.id}`}>{h.name}</Link>
                </td>
                <td>{enumName(BaremetalStatus, h.status, "BAREMETAL_STATUS_")}</td>
                <td>{groupName.get(h.groupId) ?? ""}</td>
                <td>
                  {h.free?.cpuCores ?? 0} / {h.capacity?.cpuCores ?? 0}
                </td>
                <td>{mib(h.free?.memoryMib ?? 0n)}</td>
                <td>{String(h.free?.storageGib ?? 0n)} GiB</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <PagerControls pager={pager} nextPageToken={hosts.data?.nextPageToken} />
    </>
  );
}

export function HostDetail({ id }: { id: string }) {
  const host = useQuery(InventoryService.method.getBaremetal, { id });
  const vms = useQuery(ComputeService.method.listVirtualMachines, { pageSize: 200, filter: `baremetal_id = ${quote(id)}` });
  if (host.error) return <ErrorNotice error={host.error} />;
  const h = host.data?.baremetal;
  if (!h) return <p aria-busy="true">Loading…</p>;
  return (
    <>
      <h1>Host {h.name}</h1>
      <dl>
        <dt>Status</dt>
        <dd>
          {enumName(BaremetalStatus, h.status, "BAREMETAL_STATUS_")} {h.statusReason}
        </dd>
        <dt>Serial</dt>
        <dd>{h.serialNumber}</dd>
        <dt>Rack</dt>
        <dd>{h.placement?.rackId ? <Link to={`/racks/${h.placement.rackId}`}>U{h.placement.firstPosition}</Link> : "not racked"}</dd>
        <dt>Capacity</dt>
        <dd>
          {h.capacity?.cpuCores} cores · {mib(h.capacity?.memoryMib ?? 0n)} · {String(h.capacity?.storageGib ?? 0n)} GiB
        </dd>
        <dt>Allocated</dt>
        <dd>
          {h.allocated?.cpuCores} cores · {mib(h.allocated?.memoryMib ?? 0n)} · {String(h.allocated?.storageGib ?? 0n)} GiB
        </dd>
      </dl>
      <h2>Virtual machines</h2>
      <ErrorNotice error={vms.error} />
      <ul>
        {vms.data?.virtualMachines.map((vm) => (
          <li key={vm.id}>
            <Link to={`/vms/${vm.id}`}>{vm.name}</Link> {enumName(VirtualMachineState, vm.state, "VIRTUAL_MACHINE_STATE_")}
          </li>
        ))}
        {vms.data?.virtualMachines.length === 0 && <li>none</li>}
      </ul>
      <ResourceMaintainers type="baremetal" id={id} />
    </>
  );
}
