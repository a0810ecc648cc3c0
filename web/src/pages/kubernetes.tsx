// Kubernetes clusters: a list with the server's filters; create from a template or custom; a
// cluster's detail from one GetKubernetesCluster call (pools, nodes with their hosts and states),
// its status marks (platform admins), pool scaling, upgrade, kubeconfig download and delete, with the live
// progress of the cluster's operation as on a VM's page; its agent's health report and each pool's
// autoscaler decisions.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { skipToken, useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { ComputeService, VirtualMachineState } from "../../../gen/es/rackplane/v1/compute_pb.js";
import {
  type CreateKubernetesClusterRequestSchema,
  type KubernetesCluster,
  KubernetesClusterStatus,
  KubernetesNodeRole,
  KubernetesService,
  type NodePool,
} from "../../../gen/es/rackplane/v1/kubernetes_pb.js";
import { TenantService } from "../../../gen/es/rackplane/v1/tenant_pb.js";
import { ClusterHealth, ScalingEvents } from "../components/cluster-health";
import { Field } from "../components/field";
import { OperationProgress } from "../components/operation-progress";
import { PagerControls, usePager } from "../components/pager";
import { ResourceMaintainers } from "../components/resource-maintainers";
import { ErrorNotice } from "../errors";
import { enumName, quote, time } from "../format";
import { isPlatformAdmin, useCaller } from "../identity";
import { useOperation } from "../operation";
import { Link, navigate } from "../router";

const statusName = (status: KubernetesClusterStatus) => enumName(KubernetesClusterStatus, status, "KUBERNETES_CLUSTER_STATUS_");
const statuses = ["PROVISIONING", "ACTIVE", "UPDATING", "MAINTENANCE", "OFFLINE", "ERROR", "DELETING", "DELETED"];
/** The marks a platform admin may set (agents set ERROR themselves). */
const marks = ["MAINTENANCE", "OFFLINE", "ACTIVE"];

export interface ClusterFilter {
  status: string;
  tenantId: string;
  version: string;
  name: string;
}

/** The AIP-160 filter the form stands for; the name matches as a case-insensitive substring. */
export function clusterFilter(filter: ClusterFilter): string {
  const parts: string[] = [];
  if (filter.status) parts.push(`status = KUBERNETES_CLUSTER_STATUS_${filter.status}`);
  if (filter.tenantId) parts.push(`tenant_id = ${quote(filter.tenantId)}`);
  if (filter.version.trim()) parts.push(`version = ${quote(filter.version.trim())}`);
  if (filter.name.trim()) parts.push(`name : ${quote(filter.name.trim())}`);
  return parts.join(" AND ");
}

const poolSummary = (pools: readonly NodePool[]) => pools.map((p) => `${p.name} × ${p.nodeCount}`).join(", ") || "none";

export function Clusters() {
  const caller = useCaller();
  const admin = isPlatformAdmin(caller);
  const [form, setForm] = useState<ClusterFilter>({ status: "", tenantId: "", version: "", name: "" });
  const [filter, setFilter] = useState("");
  const pager = usePager();
  const tenants = useQuery(TenantService.method.listTenants, admin ? { pageSize: 200 } : skipToken);
  const clusters = useQuery(KubernetesService.method.listKubernetesClusters, { pageSize: 50, pageToken: pager.pageToken, filter });
  const tenantName = new Map<string, string>(tenants.data?.tenants.map((t) => [t.id, t.name]));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setFilter(clusterFilter(form));
    pager.reset();
  };
  return (
    <>
      <h1>Kubernetes clusters</h1>
      <CreateCluster />
      <form className="filters" onSubmit={submit} aria-label="Cluster filters">
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
        {admin && (
          <Field label="Tenant">
            {(id) => (
              <select id={id} value={form.tenantId} onChange={(e) => setForm({ ...form, tenantId: e.target.value })}>
                <option value="">any</option>
                {tenants.data?.tenants.map((t) => (
                  <option key={t.id} value={t.id}>
                    {t.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
        <label>
          Version
          <input value={form.version} placeholder="1.31.4" onChange={(e) => setForm({ ...form, version: e.target.value })} />
        </label>
        <label>
          Name contains
          <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        </label>
        <button type="submit">Apply</button>
      </form>
      <ErrorNotice error={clusters.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Kubernetes clusters, page {pager.page}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              {admin && <th scope="col">Tenant</th>}
              <th scope="col">Version</th>
              <th scope="col">Status</th>
              <th scope="col">Node pools</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {clusters.data?.clusters.map((c) => (
              <tr key={c.id}>
                <td>
                  <Link to={`/kubernetes/${c.id}`}>{c.name}</Link>
                </td>
                {admin && <td>{tenantName.get(c.tenantId) ?? ""}</td>}
                <td>{c.version}</td>
                <td>{statusName(c.status)}</td>
                <td>{poolSummary(c.nodePools)}</td>
                <td>{time(c.createTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <PagerControls pager={pager} nextPageToken={clusters.data?.nextPageToken} />
    </>
  );
}

export interface ClusterForm {
  tenantId: string;
  name: string;
  templateId: string;
  version: string;
  controlPlaneCount: string;
  groupId: string;
  specificationId: string;
  imageId: string;
  poolName: string;
  poolNodeCount: string;
}

/**
 * The create request the form stands for. Zero values mean "the template's" to the server, so with
 * a template every empty field is left out; without one the form requires what the server does
 * (version, the control plane, one pool's group, specification and image, shared here by both).
 */
export function createClusterRequest(form: ClusterForm): MessageInitShape<typeof CreateKubernetesClusterRequestSchema> {
  const placement = { groupId: form.groupId, specificationId: form.specificationId, imageId: form.imageId };
  const pools = form.poolName ? [{ name: form.poolName, nodeCount: Number(form.poolNodeCount || 0), ...placement }] : [];
  return {
    templateId: form.templateId,
    cluster: {
      name: form.name,
      tenantId: form.tenantId,
      version: form.version,
      controlPlane: { count: Number(form.controlPlaneCount || 0), ...placement },
      nodePools: pools,
    },
  };
}

function CreateCluster() {
  const caller = useCaller();
  const admin = isPlatformAdmin(caller);
  const [form, setForm] = useState<ClusterForm>({
    tenantId: caller.tenantId,
    name: "",
    templateId: "",
    version: "",
    controlPlaneCount: "3",
    groupId: "",
    specificationId: "",
    imageId: "",
    poolName: "workers",
    poolNodeCount: "3",
  });
  const set = (field: keyof ClusterForm) => (event: { target: { value: string } }) => setForm({ ...form, [field]: event.target.value });
  const custom = form.templateId === "";
  const tenants = useQuery(TenantService.method.listTenants, admin ? { pageSize: 200 } : skipToken);
  const usage = useQuery(TenantService.method.getTenantUsage, form.tenantId ? { tenantId: form.tenantId } : skipToken);
  const templates = useQuery(KubernetesService.method.listKubernetesClusterTemplates, { pageSize: 200 });
  const versions = useQuery(KubernetesService.method.listKubernetesVersions, {
    pageSize: 200,
    filter: "status = KUBERNETES_VERSION_STATUS_SUPPORTED",
  });
  const specifications = useQuery(ComputeService.method.listVirtualMachineSpecifications, { pageSize: 200 });
  const images = useQuery(ComputeService.method.listImages, { pageSize: 200 });
  const create = useMutation(KubernetesService.method.createKubernetesCluster, {
    onSuccess: (response) => navigate(`/kubernetes/${response.cluster?.id}?operation=${response.operation?.id ?? ""}`),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate(createClusterRequest(form));
  };
  const fromTemplate = custom ? "choose…" : "the template's";
  const templateTenants = (tenantId: string) => tenantId === "" || tenantId === form.tenantId;
  return (
    <details className="card">
      <summary>Create a cluster</summary>
      <form className="form-grid" onSubmit={submit} aria-label="Create a cluster">
        {admin && (
          <Field label="Tenant">
            {(id) => (
              <select id={id} value={form.tenantId} onChange={set("tenantId")} required>
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
        <label>
          Cluster name
          <input value={form.name} onChange={set("name")} required maxLength={30} pattern="[a-z0-9]([a-z0-9\-]*[a-z0-9])?" />
        </label>
        <Field label="Template">
          {(id) => (
            <select id={id} value={form.templateId} onChange={set("templateId")}>
              <option value="">none (custom)</option>
              {templates.data?.templates
                .filter((t) => templateTenants(t.tenantId))
                .map((t) => (
                  <option key={t.id} value={t.id}>
                    {t.name} ({t.version})
                  </option>
                ))}
            </select>
          )}
        </Field>
        <Field label="Kubernetes version">
          {(id) => (
            <select id={id} value={form.version} onChange={set("version")} required={custom}>
              <option value="">{fromTemplate}</option>
              {versions.data?.versions.map((v) => (
                <option key={v.id}>{v.version}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Control-plane nodes">
          {(id) => (
            <select id={id} value={form.controlPlaneCount} onChange={set("controlPlaneCount")} required={custom}>
              {!custom && <option value="">the template's</option>}
              <option>1</option>
              <option>3</option>
              <option>5</option>
            </select>
          )}
        </Field>
        <Field label="Host group">
          {(id) => (
            <select id={id} value={form.groupId} onChange={set("groupId")} required={custom}>
              <option value="">{fromTemplate}</option>
              {usage.data?.groups.map((g) => (
                <option key={g.groupId} value={g.groupId}>
                  {g.groupName}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Node specification">
          {(id) => (
            <select id={id} value={form.specificationId} onChange={set("specificationId")} required={custom}>
              <option value="">{fromTemplate}</option>
              {specifications.data?.specifications.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Node image">
          {(id) => (
            <select id={id} value={form.imageId} onChange={set("imageId")} required={custom}>
              <option value="">{fromTemplate}</option>
              {images.data?.images.map((i) => (
                <option key={i.id} value={i.id}>
                  {i.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <label>
          Worker pool name {custom ? "" : "(empty: the template's pools)"}
          <input value={form.poolName} onChange={set("poolName")} maxLength={20} pattern="[a-z0-9]([a-z0-9\-]*[a-z0-9])?" />
        </label>
        <label>
          Worker nodes
          <input type="number" min={0} max={1000} value={form.poolNodeCount} onChange={set("poolNodeCount")} />
        </label>
        <button type="submit" disabled={create.isPending}>
          Create cluster
        </button>
        <ErrorNotice error={create.error ?? usage.error} />
      </form>
    </details>
  );
}

/** Saves text as a file through a temporary object URL: the kubeconfig never leaves the browser otherwise. */
function download(fileName: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/yaml" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}

export function ClusterDetail({ id, operationId }: { id: string; operationId: string }) {
  const caller = useCaller();
  const queries = useQueryClient();
  const [watching, setWatching] = useState(operationId);
  const cluster = useQuery(KubernetesService.method.getKubernetesCluster, { id });
  const active = watching || cluster.data?.cluster?.activeOperationId || "";
  const { operation, error: watchError } = useOperation(active, () => void queries.invalidateQueries());
  // Nodes change state as the operation goes: read the cluster again at each step it reports.
  const step = operation ? `${operation.state}:${operation.progressPercent}` : "";
  const { refetch } = cluster;
  useEffect(() => {
    if (step) void refetch();
  }, [step, refetch]);
  const follow = { onSuccess: (response: { operation?: { id: string } }) => response.operation && setWatching(response.operation.id) };
  const remove = useMutation(KubernetesService.method.deleteKubernetesCluster, follow);
  const kubeconfig = useMutation(KubernetesService.method.issueKubeconfig, {
    onSuccess: (response) => download(`${cluster.data?.cluster?.name ?? "cluster"}.kubeconfig`, response.kubeconfig),
  });
  if (cluster.error) return <ErrorNotice error={cluster.error} />;
  const c = cluster.data?.cluster;
  if (!c) return <p aria-busy="true">Loading…</p>;
  const poolName = new Map(c.nodePools.map((p) => [p.id, p.name]));
  return (
    <>
      <h1>Cluster {c.name}</h1>
      <dl>
        <dt>Status</dt>
        <dd>
          <span data-testid="cluster-status">{statusName(c.status)}</span> {c.statusReason}
        </dd>
        <dt>Tenant</dt>
        <dd>{cluster.data?.tenant?.name}</dd>
        <dt>Version</dt>
        <dd>{c.version}</dd>
        <dt>API endpoint</dt>
        <dd>{c.endpoint || "not yet"}</dd>
        <dt>Control plane</dt>
        <dd>{c.controlPlane?.count} nodes</dd>
      </dl>
      <fieldset className="actions">
        <legend className="visually-hidden">Cluster actions</legend>
        <button type="button" onClick={() => kubeconfig.mutate({ clusterId: id })} disabled={kubeconfig.isPending}>
          Download kubeconfig
        </button>
        <button
          type="button"
          className="danger"
          onClick={() => window.confirm(`Delete cluster ${c.name} and all its nodes?`) && remove.mutate({ id, etag: c.etag })}
        >
          Delete cluster
        </button>
      </fieldset>
      {kubeconfig.data && (
        <p className="hint">
          Kubeconfig saved; its certificate ({kubeconfig.data.serialNumber}) expires {time(kubeconfig.data.expireTime)} UTC.
        </p>
      )}
      <ErrorNotice error={kubeconfig.error ?? remove.error ?? watchError} />
      <OperationProgress operation={operation} />
      <UpgradeCluster cluster={c} onOperation={setWatching} />
      {isPlatformAdmin(caller) && <StatusMark cluster={c} />}
      <ClusterHealth health={c.health} pools={c.nodePools} />
      <h2>Node pools</h2>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Node pools</caption>
          <thead>
            <tr>
              <th scope="col">Pool</th>
              <th scope="col">Nodes</th>
              <th scope="col">Autoscaling</th>
              <th scope="col">Scale</th>
            </tr>
          </thead>
          <tbody>
            {c.nodePools.map((pool) => (
              <tr key={pool.id}>
                <td>{pool.name}</td>
                <td>{pool.nodeCount}</td>
                <td>{pool.autoscaling ? `${pool.autoscaling.minNodeCount}–${pool.autoscaling.maxNodeCount}` : "off"}</td>
                <td>
                  <ScalePool pool={pool} onOperation={setWatching} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {c.nodePools.length > 0 && (
        <section aria-labelledby="scaling-events">
          <h2 id="scaling-events">Scaling events</h2>
          {c.nodePools.map((pool) => (
            <ScalingEvents key={pool.id} pool={pool} />
          ))}
        </section>
      )}
      <h2>Nodes</h2>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Nodes</caption>
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">Role</th>
              <th scope="col">Pool</th>
              <th scope="col">Host</th>
              <th scope="col">State</th>
              <th scope="col">Kubelet</th>
            </tr>
          </thead>
          <tbody>
            {cluster.data?.nodes.map((node) => (
              <tr key={node.virtualMachineId}>
                <td>
                  <Link to={`/vms/${node.virtualMachineId}`}>{node.name}</Link>
                </td>
                <td>{enumName(KubernetesNodeRole, node.role, "KUBERNETES_NODE_ROLE_")}</td>
                <td>{poolName.get(node.nodePoolId) ?? ""}</td>
                <td>{node.baremetal?.id ? <Link to={`/hosts/${node.baremetal.id}`}>{node.baremetal.name}</Link> : "none"}</td>
                <td>{enumName(VirtualMachineState, node.state, "VIRTUAL_MACHINE_STATE_")}</td>
                <td>{node.version}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ResourceMaintainers type="k8s_cluster" id={id} />
    </>
  );
}

function ScalePool({ pool, onOperation }: { pool: NodePool; onOperation: (id: string) => void }) {
  const [count, setCount] = useState(String(pool.nodeCount));
  const scale = useMutation(KubernetesService.method.updateNodePool, {
    onSuccess: (response) => response.operation && onOperation(response.operation.id),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    scale.mutate({ nodePool: { id: pool.id, etag: pool.etag, nodeCount: Number(count) }, updateMask: { paths: ["node_count"] } });
  };
  return (
    <form className="inline" onSubmit={submit} aria-label={`Scale ${pool.name}`}>
      <label>
        <span className="visually-hidden">Nodes in {pool.name}</span>
        <input type="number" min={0} max={1000} value={count} onChange={(e) => setCount(e.target.value)} required />
      </label>
      <button type="submit" disabled={scale.isPending}>
        Scale
      </button>
      <ErrorNotice error={scale.error} />
    </form>
  );
}

/** MAJOR.MINOR.PATCH compared as numbers: is `a` newer than `b`? */
export function newerVersion(a: string, b: string): boolean {
  const [x, y] = [a, b].map((v) => v.split(".").map(Number));
  for (let i = 0; i < 3; i++) if (x![i] !== y![i]) return (x![i] ?? 0) > (y![i] ?? 0);
  return false;
}

function UpgradeCluster({ cluster, onOperation }: { cluster: KubernetesCluster; onOperation: (id: string) => void }) {
  const [version, setVersion] = useState("");
  const versions = useQuery(KubernetesService.method.listKubernetesVersions, {
    pageSize: 200,
    filter: "status != KUBERNETES_VERSION_STATUS_UNSUPPORTED",
  });
  const upgrade = useMutation(KubernetesService.method.upgradeKubernetesCluster, {
    onSuccess: (response) => response.operation && onOperation(response.operation.id),
  });
  const newer = versions.data?.versions.filter((v) => newerVersion(v.version, cluster.version)) ?? [];
  const submit = (event: FormEvent) => {
    event.preventDefault();
    upgrade.mutate({ id: cluster.id, version, etag: cluster.etag });
  };
  return (
    <form className="inline card" onSubmit={submit} aria-label="Upgrade the cluster">
      <Field label="Upgrade to">
        {(id) => (
          <select id={id} value={version} onChange={(e) => setVersion(e.target.value)} required>
            <option value="">{newer.length ? "choose…" : "no newer version"}</option>
            {newer.map((v) => (
              <option key={v.id}>{v.version}</option>
            ))}
          </select>
        )}
      </Field>
      <button type="submit" disabled={upgrade.isPending || newer.length === 0}>
        Upgrade
      </button>
      <ErrorNotice error={upgrade.error ?? versions.error} />
    </form>
  );
}

function StatusMark({ cluster }: { cluster: KubernetesCluster }) {
  const queries = useQueryClient();
  const [status, setStatus] = useState("MAINTENANCE");
  const [reason, setReason] = useState("");
  const mark = useMutation(KubernetesService.method.setKubernetesClusterStatus, { onSuccess: () => void queries.invalidateQueries() });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const value = KubernetesClusterStatus[status as keyof typeof KubernetesClusterStatus];
    mark.mutate({ id: cluster.id, status: value, reason, etag: cluster.etag });
  };
  return (
    <form className="inline card" onSubmit={submit} aria-label="Mark the cluster's status">
      <Field label="Mark as">
        {(id) => (
          <select id={id} value={status} onChange={(e) => setStatus(e.target.value)}>
            {marks.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        )}
      </Field>
      <label>
        Reason
        <input value={reason} onChange={(e) => setReason(e.target.value)} required={status !== "ACTIVE"} maxLength={1024} />
      </label>
      <button type="submit" disabled={mark.isPending}>
        Mark
      </button>
      <ErrorNotice error={mark.error} />
    </form>
  );
}
