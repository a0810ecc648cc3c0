// Tenants and their usage per host group as quota bars; platform admins edit a quota (sending the
// etag they read, so a concurrent change answers ABORTED) and disable or enable the tenant.
import { skipToken, useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { type GroupUsage, TenantService } from "../../../gen/es/rackplane/v1/tenant_pb.js";
import { UsageBar } from "../components/usage-bar";
import { ErrorNotice } from "../errors";
import { isPlatformAdmin, useCaller } from "../identity";
import { Link } from "../router";

export function Tenants() {
  const tenants = useQuery(TenantService.method.listTenants, { pageSize: 200 });
  return (
    <>
      <h1>Tenants</h1>
      <ErrorNotice error={tenants.error} />
      <ul className="list">
        {tenants.data?.tenants.map((t) => (
          <li key={t.id}>
            <Link to={`/tenants/${t.id}`}>{t.name}</Link> {t.disabled && <span className="badge">disabled</span>}
          </li>
        ))}
      </ul>
    </>
  );
}

export function TenantDetail({ id }: { id: string }) {
  const caller = useCaller();
  const admin = isPlatformAdmin(caller);
  const queries = useQueryClient();
  const tenant = useQuery(TenantService.method.getTenant, { id });
  const usage = useQuery(TenantService.method.getTenantUsage, { tenantId: id });
  const refresh = () => queries.invalidateQueries();
  const disable = useMutation(TenantService.method.disableTenant, { onSuccess: refresh });
  const enable = useMutation(TenantService.method.enableTenant, { onSuccess: refresh });
  const [reason, setReason] = useState("");
  if (tenant.error) return <ErrorNotice error={tenant.error} />;
  const t = tenant.data?.tenant;
  if (!t) return <p aria-busy="true">Loading…</p>;
  return (
    <>
      <h1>Tenant {t.name}</h1>
      <p>
        {t.disabled ? `Disabled: ${t.disabledReason}` : "Enabled"} · {t.description}
      </p>
      {admin && (
        <form
          className="inline"
          onSubmit={(event) => {
            event.preventDefault();
            if (t.disabled) enable.mutate({ id, reason });
            else disable.mutate({ id, reason });
          }}
        >
          <label>
            Reason
            <input value={reason} onChange={(e) => setReason(e.target.value)} required={!t.disabled} />
          </label>
          <button type="submit">{t.disabled ? "Enable tenant" : "Disable tenant"}</button>
          <ErrorNotice error={disable.error ?? enable.error} />
        </form>
      )}
      <h2>Usage per host group</h2>
      <ErrorNotice error={usage.error} />
      {usage.data?.groups.map((group) => (
        <section key={group.groupId} className="card" aria-label={`Group ${group.groupName}`}>
          <h3>{group.groupName}</h3>
          <UsageBar label="vCPUs" used={group.cpu?.used ?? 0n} limit={group.cpu?.limit ?? 0n} />
          <UsageBar label="Memory MiB" used={group.memoryMib?.used ?? 0n} limit={group.memoryMib?.limit ?? 0n} />
          <UsageBar label="Storage GiB" used={group.storageGib?.used ?? 0n} limit={group.storageGib?.limit ?? 0n} />
          {admin && group.quotaId && <QuotaEditor group={group} onSaved={refresh} />}
        </section>
      ))}
    </>
  );
}

function QuotaEditor({ group, onSaved }: { group: GroupUsage; onSaved: () => void }) {
  const quota = useQuery(TenantService.method.getBaremetalGroupTenantQuota, group.quotaId ? { id: group.quotaId } : skipToken);
  const update = useMutation(TenantService.method.updateBaremetalGroupTenantQuota, { onSuccess: onSaved });
  const [cpu, setCpu] = useState("");
  const [memory, setMemory] = useState("");
  const [storage, setStorage] = useState("");
  const q = quota.data?.quota;
  if (!q) return <ErrorNotice error={quota.error} />;
  const absolute = (value: string) => ({ kind: { case: "absolute" as const, value: BigInt(value) } });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const paths: string[] = [];
    if (cpu) paths.push("cpu");
    if (memory) paths.push("memory_mib");
    if (storage) paths.push("storage_gib");
    if (paths.length === 0) return;
    update.mutate({
      quota: {
        id: q.id,
        etag: q.etag,
        ...(cpu ? { cpu: absolute(cpu) } : {}),
        ...(memory ? { memoryMib: absolute(memory) } : {}),
        ...(storage ? { storageGib: absolute(storage) } : {}),
      },
      updateMask: { paths },
    });
  };
  const name = group.groupName;
  return (
    <form className="inline" onSubmit={submit} aria-label={`Edit quota in ${name}`}>
      <label>
        vCPU limit
        <input type="number" min={0} value={cpu} placeholder={String(group.cpu?.limit ?? "")} onChange={(e) => setCpu(e.target.value)} />
      </label>
      <label>
        Memory MiB limit
        <input
          type="number"
          min={0}
          value={memory}
          placeholder={String(group.memoryMib?.limit ?? "")}
          onChange={(e) => setMemory(e.target.value)}
        />
      </label>
      <label>
        Storage GiB limit
        <input
          type="number"
          min={0}
          value={storage}
          placeholder={String(group.storageGib?.limit ?? "")}
          onChange={(e) => setStorage(e.target.value)}
        />
      </label>
      <button type="submit">Save quota</button>
      <ErrorNotice error={update.error} />
    </form>
  );
}
