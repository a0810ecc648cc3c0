// A simulated hypervisor on the agent SDK: the reference agent, for development, demos and load
// tests of the control plane without any real virtualisation. VMs live in memory (a restart forgets
// them, as a real agent restarted on a wiped host would); each job takes a configurable time, fails
// now and then if asked to, and reports progress half-way.
//
// It behaves as a real agent must: every kind is idempotent by VM id (a create of a VM that exists
// answers the same facts, a stop of a stopped VM succeeds, a delete of an unknown VM succeeds),
// failures are transient unless retrying cannot help, and a lost lease stops the work at once.
import { createHash } from "node:crypto";
import {
  Agent,
  JobError,
  type AgentOptions,
  type ClusterHealthReport,
  type Job,
  type JobContext,
  type JobHandler,
  type JobKind,
  type JobResult,
  type LogFn,
  type StopOptions,
} from "../agent-sdk/index.js";
import { Health, HealthReasonKind, type ObservationReport, PowerState } from "../../gen/grpc-js/rackplane/v1/observation.js";

export interface SimulatedVm {
  state: "RUNNING" | "STOPPED";
  readonly hypervisorId: string;
  readonly ip: string;
}

export interface SimulatorOptions {
  readonly servers: readonly string[];
  readonly token: string;
  readonly agentId: string;
  /** Mean duration of a job, ms; each job takes 50 % to 150 % of it (default 200). */
  readonly latencyMs?: number;
  /** Share of jobs failing with a transient error, 0 to 1 (default 0). */
  readonly failureRate?: number;
  /** Jobs at once (default 8). */
  readonly concurrency?: number;
  /** Host groups served; none means all. */
  readonly groupIds?: readonly string[];
  readonly log?: LogFn;
  /** Randomness for jitter and failures (default Math.random), so tests can pin it. */
  readonly random?: () => number;
  /** Report observations of its hosts and VMs, and the health of the clusters it bootstrapped,
   * this often, ms; unset or 0: never. */
  readonly observeIntervalMs?: number;
  /** The hosts it runs on, reported with plausible use. */
  readonly hostIds?: readonly string[];
  /** Hosts to report as failing: CRITICAL, with a failed disk. */
  readonly failingHostIds?: readonly string[];
  /** The first VM it creates powers off by itself this long after it was created, ms, without any
   * job: the record still says RUNNING, observations say OFF (drift). */
  readonly selfPowerOffAfterMs?: number;
  /** Passed through to the SDK (backoff, timeouts…). */
  readonly sdk?: Partial<Pick<AgentOptions, "backoff" | "callTimeoutMs" | "minRenewIntervalMs" | "credentials">>;
}

/** The simulated host: VMs by id, and the work each job kind does to them. */
export class SimulatedHypervisor {
  readonly vms = new Map<string, SimulatedVm>();
  private readonly ipsInUse = new Map<string, string>();
  private created = 0;
  private readonly latencyMs: number;
  private readonly failureRate: number;
  private readonly random: () => number;

  private readonly selfPowerOffAfterMs: number | undefined;

  constructor(options: { latencyMs?: number; failureRate?: number; random?: () => number; selfPowerOffAfterMs?: number } = {}) {
    this.selfPowerOffAfterMs = options.selfPowerOffAfterMs;
    this.latencyMs = Math.max(0, options.latencyMs ?? 200);
    this.failureRate = Math.min(1, Math.max(0, options.failureRate ?? 0));
    this.random = options.random ?? Math.random;
  }

  readonly handlers: Record<JobKind, JobHandler> = {
    CREATE_VIRTUAL_MACHINE: (job, context) =>
      this.work(job, context, "creating", (id) => {
        const existing = this.vms.get(id);
        if (existing) return this.factsOf(existing, "already created");
        const vm: SimulatedVm = { state: "RUNNING", hypervisorId: `sim-${++this.created}`, ip: this.allocateIp(id) };
        this.vms.set(id, vm);
        if (this.created === 1 && this.selfPowerOffAfterMs !== undefined) {
          setTimeout(() => {
            vm.state = "STOPPED";
          }, this.selfPowerOffAfterMs).unref();
        }
        return this.factsOf(vm, "created");
      }),
    START_VIRTUAL_MACHINE: (job, context) =>
      this.work(job, context, "starting", (id) => {
        const vm = this.require(id);
        vm.state = "RUNNING";
        return this.factsOf(vm, "running");
      }),
    STOP_VIRTUAL_MACHINE: (job, context) =>
      this.work(job, context, job.payload.force === true ? "powering off" : "shutting down", (id) => {
        const vm = this.require(id);
        vm.state = "STOPPED";
        return { message: "stopped" };
      }),
    REBOOT_VIRTUAL_MACHINE: (job, context) =>
      this.work(job, context, "rebooting", (id) => {
        const vm = this.require(id);
        if (vm.state !== "RUNNING") throw new JobError(`VM ${id} is not running`, { agentCode: "SIM_VM_NOT_RUNNING", permanent: true });
        return this.factsOf(vm, "rebooted");
      }),
    DELETE_VIRTUAL_MACHINE: (job, context) =>
      this.work(job, context, "deleting", (id) => {
        const vm = this.vms.get(id);
        if (!vm) return { message: "already gone" }; // deleting what is not there is done already
        this.vms.delete(id);
        this.ipsInUse.delete(vm.ip);
        return { message: job.payload.keepDataDisk === true ? "deleted; data disk kept" : "deleted" };
      }),
    // A cluster's bootstrap: kubeadm init on the control plane with the CA it was handed, then the
    // joins, the CNI and the storage classes — here, an endpoint on an address of its own.
    CREATE_KUBERNETES_CLUSTER: (job, context) =>
      this.work(job, context, "bootstrapping", (id) => {
        this.joinNodes(id, job.payload.nodes, job.payload.nodePools);
        if (typeof job.payload.caKeyPem !== "string" || typeof job.payload.caCertificatePem !== "string") {
          throw new JobError(`cluster ${id}: the job carries no CA to bootstrap with`, { agentCode: "SIM_NO_CA", permanent: true });
        }
        const endpoint = this.clusters.get(id) ?? `https://${this.allocateIp(id)}:6443`;
        this.clusters.set(id, endpoint);
        return { message: "bootstrapped", facts: { endpoint } };
      }),
    DELETE_KUBERNETES_CLUSTER: (job, context) =>
      this.work(job, context, "tearing down", (id) => {
        const endpoint = this.clusters.get(id);
        if (!endpoint) return { message: "already gone" };
        this.clusters.delete(id);
        this.clusterNodes.delete(id);
        this.ipsInUse.delete(new URL(endpoint).hostname);
        return { message: "torn down" };
      }),
    // A pool's nodes join the cluster (kubeadm join with the pool's labels and taints), once every
    // node VM is built; a scale joins the added nodes or drains the removed ones; a pool's deletion
    // drains its nodes. Here, a message.
    CREATE_NODE_POOL: (job, context) => this.work(job, context, "joining the pool's nodes", () => this.poolChange(job, "joined")),
    SCALE_NODE_POOL: (job, context) => this.work(job, context, "scaling the pool", () => this.poolChange(job, "scaled")),
    DELETE_NODE_POOL: (job, context) => this.work(job, context, "draining the pool", () => this.poolChange(job, "drained")),
    // A rolling upgrade's batch: join the surge nodes on the new version, drain the nodes they
    // replace, drain, upgrade in place and uncordon the others; then remove the replaced nodes
    // (their VMs already deleted); the upgrade's closing job upgrades what belongs to the whole cluster.
    UPGRADE_KUBERNETES_CLUSTER: (job, context) =>
      this.work(job, context, "finishing the upgrade", () => ({ message: `cluster add-ons on ${String(job.payload.version)}` })),
    UPGRADE_KUBERNETES_NODES: (job, context) =>
      this.work(job, context, "upgrading nodes", () => ({
        message: `${countOf(job.payload.joinNodes)} joined, ${countOf(job.payload.replacedNodes)} drained, ${countOf(job.payload.upgradedNodes)} upgraded in place to ${String(job.payload.version)}`,
      })),
    REMOVE_KUBERNETES_NODES: (job, context) =>
      this.work(job, context, "removing nodes", () => ({ message: `${countOf(job.payload.removedNodes)} node(s) removed` })),
    // A plugin's manifests or chart applied to the cluster, moved to another version, or removed —
    // here, the version it runs, kept in memory by installed plugin.
    INSTALL_KUBERNETES_PLUGIN: (job, context) => this.work(job, context, "installing the plugin", () => this.plugin(job, "installed")),
    UPGRADE_KUBERNETES_PLUGIN: (job, context) => this.work(job, context, "upgrading the plugin", () => this.plugin(job, "upgraded")),
    UNINSTALL_KUBERNETES_PLUGIN: (job, context) =>
      this.work(job, context, "uninstalling the plugin", () => this.plugin(job, "uninstalled")),
    // The mesh's control plane admits or releases a cluster (Cilium Cluster Mesh, Istio
    // multi-cluster) — here, a message.
    BIND_SERVICE_MESH: (job, context) =>
      this.work(job, context, "joining the mesh", () => ({
        message: `${String(job.payload.name ?? "")} joined ${String(job.payload.mesh ?? "")}`,
      })),
    UNBIND_SERVICE_MESH: (job, context) =>
      this.work(job, context, "leaving the mesh", () => ({
        message: `${String(job.payload.name ?? "")} left ${String(job.payload.mesh ?? "")}`,
      })),
  };

  /** The nodes of each cluster bootstrapped here: node VM id → its pool's id ("" for the control
   * plane), kept from the cluster's and its pools' jobs, for the health it reports. */
  readonly clusterNodes = new Map<string, Map<string, string>>();

  private joinNodes(clusterId: string, nodes: unknown, pools: unknown, poolId?: string): void {
    const poolIds = new Map(
      (Array.isArray(pools) ? pools : []).map((pool: { id?: unknown; name?: unknown }) => [String(pool.name), String(pool.id ?? "")]),
    );
    const known = this.clusterNodes.get(clusterId) ?? new Map<string, string>();
    for (const node of Array.isArray(nodes) ? nodes : []) {
      const { virtualMachineId, nodePool, role } = node as { virtualMachineId?: unknown; nodePool?: unknown; role?: unknown };
      known.set(String(virtualMachineId), role === "CONTROL_PLANE" ? "" : (poolId ?? poolIds.get(String(nodePool)) ?? ""));
    }
    this.clusterNodes.set(clusterId, known);
  }

  /** A pool's nodes joined, scaled (joined or drained) or drained with the pool: the cluster's
   * nodes follow. */
  private poolChange(job: Job, done: string): JobResult {
    const clusterId = String(job.payload.clusterId ?? "");
    const poolId = String(job.payload.nodePoolId ?? "");
    this.joinNodes(clusterId, job.payload.nodes, [], poolId);
    const known = this.clusterNodes.get(clusterId)!;
    for (const node of Array.isArray(job.payload.removedNodes) ? job.payload.removedNodes : []) {
      known.delete(String((node as { virtualMachineId?: unknown }).virtualMachineId));
    }
    if (job.kind === "DELETE_NODE_POOL") for (const [vm, pool] of known) if (pool === poolId) known.delete(vm);
    return { message: `pool ${String(job.payload.nodePool ?? "")} ${done}` };
  }

  /** What each cluster bootstrapped here looks like now: its nodes ready, a plausible number of
   * pods running on them, nothing pending, ingress traffic; every pool without unschedulable pods
   * or empty nodes (tests send their own reports for the autoscaler). */
  clusterHealth(): { clusterId: string; health: ClusterHealthReport }[] {
    const observeTime = new Date();
    const between = (low: number, high: number) => Math.round(low + (high - low) * this.random());
    return [...this.clusterNodes].map(([clusterId, nodes]) => {
      const pools = new Set([...nodes.values()].filter((pool) => pool !== ""));
      return {
        clusterId,
        health: {
          observeTime,
          readyNodeCount: nodes.size,
          notReadyNodeCount: 0,
          runningPodCount: nodes.size * between(8, 20),
          pendingPodCount: 0,
          failedPodCount: 0,
          traffic: {
            requestsPerSecond: between(10, 500),
            ingressBytesPerSecond: between(1e5, 1e7),
            egressBytesPerSecond: between(1e5, 5e7),
          },
          nodePools: [...pools].map((nodePoolId) => ({ nodePoolId, unschedulablePodCount: 0, emptyNodes: [] })),
        },
      };
    });
  }

  /** Installed plugins by their record's id: the version each runs. */
  readonly plugins = new Map<string, string>();

  private plugin(job: Job, done: "installed" | "upgraded" | "uninstalled"): JobResult {
    const id = String(job.payload.clusterPluginId ?? "");
    if (done === "uninstalled") this.plugins.delete(id);
    else this.plugins.set(id, String(job.payload.version ?? ""));
    return { message: `${String(job.payload.plugin ?? "")} ${String(job.payload.version ?? "")} ${done}` };
  }

  /** What its hosts and VMs look like now: plausible, varying use; a failing host CRITICAL. */
  observe(hostIds: readonly string[], failingHostIds: readonly string[]): ObservationReport[] {
    const observeTime = new Date();
    const between = (low: number, high: number) => low + (high - low) * this.random();
    const hosts = hostIds.map((id): ObservationReport => {
      const failing = failingHostIds.includes(id);
      return {
        baremetalId: id,
        observeTime,
        powerState: PowerState.POWER_STATE_ON,
        health: failing ? Health.HEALTH_CRITICAL : Health.HEALTH_OK,
        reasons: failing ? [{ kind: HealthReasonKind.HEALTH_REASON_KIND_DISK_FAILED, message: "sdb: I/O errors (simulated)" }] : [],
        cpuPercent: Math.round(between(10, 70) * 10) / 10,
        memoryUsedMib: Math.round(between(8_192, 49_152)),
        storageUsedGib: Math.round(between(100, 800)),
      };
    });
    const vms = [...this.vms].map(
      ([id, vm]): ObservationReport => ({
        virtualMachineId: id,
        observeTime,
        powerState: vm.state === "RUNNING" ? PowerState.POWER_STATE_ON : PowerState.POWER_STATE_OFF,
        health: Health.HEALTH_UNSPECIFIED,
        reasons: [],
        cpuPercent: vm.state === "RUNNING" ? Math.round(between(5, 60) * 10) / 10 : 0,
        memoryUsedMib: vm.state === "RUNNING" ? Math.round(between(256, 2_048)) : 0,
        storageUsedGib: Math.round(between(1, 20)),
      }),
    );
    return [...hosts, ...vms];
  }
  /** Clusters bootstrapped here, by id: their endpoints. */
  readonly clusters = new Map<string, string>();

  /** Waits half the job's time, reports 50 %, waits the rest, maybe fails, then applies `effect`.
   * A failure changes nothing: the state moves only when the job succeeds. */
  private async work(job: Job, context: JobContext, doing: string, effect: (vmId: string) => JobResult): Promise<JobResult> {
    const vmId = String(job.payload.virtualMachineId ?? job.payload.clusterId ?? job.resourceId);
    // A forced power-off is quick; everything else takes the configured time, ±50 %.
    const total = this.latencyMs * (0.5 + this.random()) * (job.kind === "STOP_VIRTUAL_MACHINE" && job.payload.force === true ? 0.25 : 1);
    await delay(total / 2, context.signal);
    await context.progress(50, `${doing} ${String(job.payload.name ?? vmId)}`);
    await delay(total / 2, context.signal);
    if (this.random() < this.failureRate) {
      throw new JobError(`simulated transient failure while ${doing}`, { agentCode: "SIM_TRANSIENT" });
    }
    return effect(vmId);
  }

  private require(id: string): SimulatedVm {
    const vm = this.vms.get(id);
    // A real hypervisor would answer "no such domain": retrying cannot make the VM appear.
    if (!vm) throw new JobError(`no VM ${id} on this simulated host`, { agentCode: "SIM_VM_NOT_FOUND", permanent: true });
    return vm;
  }

  private factsOf(vm: SimulatedVm, message: string): JobResult {
    return { message, facts: { hypervisorId: vm.hypervisorId, ipAddresses: [vm.ip] } };
  }

  /** 10.x.y.z from the VM id's hash, so the same VM gets the same address every time; on a clash
   * with another VM here, the next free address. */
  private allocateIp(vmId: string): string {
    const digest = createHash("sha256").update(vmId).digest();
    let n = digest.readUIntBE(0, 3); // 24 bits: the host part of 10.0.0.0/8
    for (;;) {
      const z = n & 0xff;
      const ip = `10.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${z}`;
      // Skip .0 and .255 (network and broadcast in every /24 a real deployment would carve out).
      if (z !== 0 && z !== 255 && !this.ipsInUse.has(ip)) {
        this.ipsInUse.set(ip, vmId);
        return ip;
      }
      n = (n + 1) & 0xffffff;
    }
  }
}

/** A simulated agent that also reports what it observes every `observeIntervalMs`, while running. */
class SimulatedAgent extends Agent {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    agentOptions: AgentOptions,
    private readonly hypervisor: SimulatedHypervisor,
    private readonly options: SimulatorOptions,
  ) {
    super(agentOptions);
  }

  override start(): void {
    super.start();
    const interval = this.options.observeIntervalMs ?? 0;
    if (interval > 0) this.timer = setInterval(() => void this.reportObserved(), interval);
  }

  override stop(options?: StopOptions): Promise<void> {
    clearInterval(this.timer);
    return super.stop(options);
  }

  private async reportObserved(): Promise<void> {
    for (const { clusterId, health } of this.hypervisor.clusterHealth()) {
      // A cluster deleted or out of scope meanwhile is refused; the next round reports the rest.
      await this.reportKubernetesClusterHealth(clusterId, health).catch((error: unknown) =>
        this.options.log?.("warn", "reporting cluster health failed", { clusterId, error: String(error) }),
      );
    }
    const observations = this.hypervisor.observe(this.options.hostIds ?? [], this.options.failingHostIds ?? []);
    if (observations.length === 0) return;
    try {
      await this.reportObservations(observations);
    } catch (error) {
      // The next round reports the state again: nothing to retry.
      this.options.log?.("warn", "reporting observations failed", { error: String(error) });
    }
  }
}

/** A simulated agent, ready to start(). */
export function createSimulatedAgent(options: SimulatorOptions): Agent {
  const hypervisor = new SimulatedHypervisor(options);
  return new SimulatedAgent(
    {
      ...options.sdk,
      servers: options.servers,
      token: options.token,
      agentId: options.agentId,
      scope: { jobKinds: Object.keys(hypervisor.handlers), groupIds: options.groupIds ?? [] },
      maxConcurrentJobs: options.concurrency ?? 8,
      handlers: hypervisor.handlers,
      description: "rackplane simulated hypervisor",
      ...(options.log ? { log: options.log } : {}),
    },
    hypervisor,
    options,
  );
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const abort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    }, ms);
    signal.addEventListener("abort", abort, { once: true });
  });
}

function countOf(list: unknown): number {
  return Array.isArray(list) ? list.length : 0;
}
