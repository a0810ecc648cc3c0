// VMs: list, create (specification, image, host group, optional name), and a VM's detail with its
// actions, the live progress of its operation and its scheduling record.
import { skipToken, useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { ComputeService, VirtualMachineState } from "../../../gen/es/rackplane/v1/compute_pb.js";
import { TenantService } from "../../../gen/es/rackplane/v1/tenant_pb.js";
import { PagerControls, usePager } from "../components/pager";
import { Field } from "../components/field";
import { OperationProgress } from "../components/operation-progress";
import { ResourceMaintainers } from "../components/resource-maintainers";
import { ErrorNotice } from "../errors";
import { enumName, shortId, time } from "../format";
import { isPlatformAdmin, useCaller } from "../identity";
import { useOperation } from "../operation";
import { Link, navigate } from "../router";

const stateName = (state: VirtualMachineState) => enumName(VirtualMachineState, state, "VIRTUAL_MACHINE_STATE_");

export function Vms() {
  const pager = usePager();
  const vms = useQuery(ComputeService.method.listVirtualMachines, { pageSize: 50, pageToken: pager.pageToken });
  return (
    <>
      <h1>Virtual machines</h1>
      <CreateVm />
      <ErrorNotice error={vms.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Virtual machines, page {pager.page}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">vCPUs</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {vms.data?.virtualMachines.map((vm) => (
              <tr key={vm.id}>
                <td>
                  <Link to={`/vms/${vm.id}`}>{vm.name}</Link>
                </td>
                <td>{stateName(vm.state)}</td>
                <td>{vm.resources?.cpuCores}</td>
                <td>{time(vm.createTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <PagerControls pager={pager} nextPageToken={vms.data?.nextPageToken} />
    </>
  );
}

function CreateVm() {
  const caller = useCaller();
  const admin = isPlatformAdmin(caller);
  const [tenantId, setTenantId] = useState(caller.tenantId);
  const [groupId, setGroupId] = useState("");
  const [specificationId, setSpecificationId] = useState("");
  const [imageId, setImageId] = useState("");
  const [name, setName] = useState("");
  const tenants = useQuery(TenantService.method.listTenants, admin ? { pageSize: 200 } : skipToken);
  const usage = useQuery(TenantService.method.getTenantUsage, tenantId ? { tenantId } : skipToken);
  const specifications = useQuery(ComputeService.method.listVirtualMachineSpecifications, { pageSize: 200 });
  const images = useQuery(ComputeService.method.listImages, { pageSize: 200 });
  // What the naming rule gives next (a read: it draws no number), shown while no name is typed.
  const preview = useQuery(ComputeService.method.previewVirtualMachineName, tenantId && name === "" ? { tenantId } : skipToken);
  const create = useMutation(ComputeService.method.createVirtualMachine, {
    onSuccess: (response) => navigate(`/vms/${response.virtualMachine?.id}?operation=${response.operation?.id ?? ""}`),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ tenantId, target: { case: "groupId", value: groupId }, specificationId, imageId, name });
  };
  return (
    <details className="card" open>
      <summary>Create a virtual machine</summary>
      <form className="form-grid" onSubmit={submit} aria-label="Create a virtual machine">
        {admin && (
          <Field label="Tenant">
            {(id) => (
              <select id={id} value={tenantId} onChange={(e) => setTenantId(e.target.value)} required>
                <option value="">choose…</option>
                {tenants.data?.tenants.map((t) => (
                  <option key={t.id} value={t.id}>
                    {t.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
        <Field label="Host group">
          {(id) => (
            <select id={id} value={groupId} onChange={(e) => setGroupId(e.target.value)} required>
              <option value="">choose…</option>
              {usage.data?.groups.map((g) => (
                <option key={g.groupId} value={g.groupId}>
                  {g.groupName}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Specification">
          {(id) => (
            <select id={id} value={specificationId} onChange={(e) => setSpecificationId(e.target.value)} required>
              <option value="">choose…</option>
              {specifications.data?.specifications.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Image">
          {(id) => (
            <select id={id} value={imageId} onChange={(e) => setImageId(e.target.value)} required>
              <option value="">choose…</option>
              {images.data?.images.map((i) => (
                <option key={i.id} value={i.id}>
                  {i.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <label>
          Name (empty: the tenant's naming rule)
          <input
            value={name}
            onChange={(e) => setName(e.target.value)}
            pattern="[a-z0-9]([a-z0-9\-]*[a-z0-9])?"
            placeholder={preview.data?.name}
            aria-describedby="vm-name-preview"
          />
        </label>
        <p id="vm-name-preview" className="hint" data-testid="name-preview" aria-live="polite">
          {name === "" && preview.data ? `Next by the rule ${preview.data.template}: ${preview.data.name}` : ""}
        </p>
        <button type="submit" disabled={create.isPending}>
          Create
        </button>
        <ErrorNotice error={create.error ?? usage.error} />
      </form>
    </details>
  );
}

export function VmDetail({ id, operationId }: { id: string; operationId: string }) {
  const queries = useQueryClient();
  const [watching, setWatching] = useState(operationId);
  const vm = useQuery(ComputeService.method.getVirtualMachine, { id });
  const records = useQuery(ComputeService.method.listSchedulingRecords, { pageSize: 1, filter: `virtual_machine_id = "${id}"` });
  const active = watching || vm.data?.virtualMachine?.activeOperationId || "";
  const { operation, error: watchError } = useOperation(active, () => void queries.invalidateQueries());
  const follow = { onSuccess: (response: { operation?: { id: string } }) => setWatching(response.operation?.id ?? "") };
  const start = useMutation(ComputeService.method.startVirtualMachine, follow);
  const stop = useMutation(ComputeService.method.stopVirtualMachine, follow);
  const reboot = useMutation(ComputeService.method.rebootVirtualMachine, follow);
  const remove = useMutation(ComputeService.method.deleteVirtualMachine, follow);
  if (vm.error) return <ErrorNotice error={vm.error} />;
  const v = vm.data?.virtualMachine;
  if (!v) return <p aria-busy="true">Loading…</p>;
  const record = records.data?.schedulingRecords[0];
  return (
    <>
      <h1>VM {v.name}</h1>
      <dl>
        <dt>State</dt>
        <dd data-testid="vm-state">{stateName(v.state)}</dd>
        <dt>Tenant</dt>
        <dd>{vm.data?.tenant?.name}</dd>
        <dt>Host</dt>
        <dd>{v.baremetalId ? <Link to={`/hosts/${v.baremetalId}`}>{vm.data?.host?.baremetal?.name || v.baremetalId}</Link> : "none"}</dd>
        <dt>Addresses</dt>
        <dd>{v.ipAddresses.join(", ") || "none"}</dd>
      </dl>
      <fieldset className="actions">
        <legend className="visually-hidden">VM actions</legend>
        <button type="button" onClick={() => start.mutate({ id })}>
          Start
        </button>
        <button type="button" onClick={() => stop.mutate({ id })}>
          Stop
        </button>
        <button type="button" onClick={() => stop.mutate({ id, force: true })}>
          Force stop
        </button>
        <button type="button" onClick={() => reboot.mutate({ id })}>
          Reboot
        </button>
        <button type="button" className="danger" onClick={() => window.confirm(`Delete ${v.name}?`) && remove.mutate({ id })}>
          Delete
        </button>
      </fieldset>
      <ErrorNotice error={start.error ?? stop.error ?? reboot.error ?? remove.error ?? watchError} />
      <OperationProgress operation={operation} />
      <h2>Scheduling record</h2>
      <ErrorNotice error={records.error} />
      {record ? (
        <div>
          <p>
            Chose{" "}
            {record.chosenBaremetalId ? (
              <Link to={`/hosts/${record.chosenBaremetalId}`}>
                {record.chosenBaremetalId === v.baremetalId
                  ? vm.data?.host?.baremetal?.name || shortId(v.baremetalId)
                  : shortId(record.chosenBaremetalId)}
              </Link>
            ) : (
              "none"
            )}{" "}
            by {record.policy}: {record.reason}
          </p>
          <div className="table-wrap">
            <table>
              <caption>Candidates considered</caption>
              <thead>
                <tr>
                  <th scope="col">Host</th>
                  <th scope="col">Free vCPUs</th>
                  <th scope="col">Score</th>
                </tr>
              </thead>
              <tbody>
                {record.candidates.map((c) => (
                  <tr key={c.baremetalId}>
                    <td>{shortId(c.baremetalId)}</td>
                    <td>{c.free?.cpuCores}</td>
                    <td>{c.score.toFixed(3)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ) : (
        <p>none</p>
      )}
      <ResourceMaintainers type="virtual_machine" id={id} />
    </>
  );
}
