// The agent's link to rackplane: one StreamJobs call at a time, reopened forever (until stopped)
// with exponential backoff and full jitter, moving round-robin through the server list so a dead
// replica is left behind; and the unary calls (ReportJob, ReportResourceState), sent to the server
// the stream uses. Replicas share one database, so any of them accepts any report.
import {
  connectivityState,
  credentials as grpcCredentials,
  Metadata,
  type ChannelCredentials,
  type ClientReadableStream,
} from "@grpc/grpc-js";
import {
  AgentServiceClient,
  type AgentJob,
  type ReportJobRequest,
  type ReportJobResponse,
  type ReportResourceStateRequest,
  type ReportResourceStateResponse,
  type StreamJobsRequest,
  type StreamJobsResponse,
} from "../../gen/grpc-js/rackplane/v1/agent.js";
import {
  KubernetesAddonServiceClient,
  type ReportKubernetesClusterHealthRequest,
  type ReportKubernetesClusterHealthResponse,
} from "../../gen/grpc-js/rackplane/v1/kubernetes_addons.js";
import type { ReportObservationsRequest, ReportObservationsResponse } from "../../gen/grpc-js/rackplane/v1/observation.js";
import { fullJitter, sleep, type Backoff } from "./backoff.js";
import { describeError, isTransient } from "./errors.js";
import type { LogFn } from "./types.js";

export interface ConnectionOptions {
  readonly servers: readonly string[];
  readonly token: string;
  readonly credentials: ChannelCredentials;
  readonly backoff: Backoff;
  readonly callTimeoutMs: number;
  readonly request: StreamJobsRequest;
  readonly onJob: (job: AgentJob) => void;
  readonly log: LogFn;
}

export class Connection {
  private readonly clients = new Map<string, AgentServiceClient>();
  /** Clients of KubernetesAddonService, for cluster health reports: on the same servers. */
  private readonly addonClients = new Map<string, KubernetesAddonServiceClient>();
  private readonly stopped = new AbortController();
  private index = 0;
  private closed = false;
  private stream: ClientReadableStream<StreamJobsResponse> | undefined;
  private streamSince = 0;
  private streamReceived = false;
  private loop: Promise<void> | undefined;

  /** How long a silent stream must stand before it counts as connected. */
  private readonly settleMs: number;

  constructor(private readonly options: ConnectionOptions) {
    this.settleMs = Math.min(1_000, options.backoff.capMs);
  }

  /** The server the stream uses, or will try next. */
  get server(): string {
    return this.options.servers[this.index]!;
  }

  /** The stream is open over a ready HTTP/2 connection and was not refused: it delivered something,
   * or has stood for a while (a refusal — bad token, bad scope — ends it within a round trip).
   * Response headers cannot tell: a connect-node server sends them with the first job, and an idle
   * agent may wait hours for that. */
  get connected(): boolean {
    if (!this.stream) return false;
    const ready = this.clients.get(this.server)?.getChannel().getConnectivityState(false) === connectivityState.READY;
    return ready && (this.streamReceived || Date.now() - this.streamSince >= this.settleMs);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Cancels the stream and stops reconnecting. Unary calls keep working until close(). */
  async stop(): Promise<void> {
    this.stopped.abort();
    this.stream?.cancel();
    await this.loop;
  }

  /** Closes the channels: nothing can be sent after this. */
  close(): void {
    this.closed = true;
    for (const client of [...this.clients.values(), ...this.addonClients.values()]) client.close();
    this.clients.clear();
    this.addonClients.clear();
  }

  reportJob(request: ReportJobRequest): Promise<ReportJobResponse> {
    return this.unary((client, metadata, options, done) => client.reportJob(request, metadata, options, done));
  }

  reportResourceState(request: ReportResourceStateRequest): Promise<ReportResourceStateResponse> {
    return this.unary((client, metadata, options, done) => client.reportResourceState(request, metadata, options, done));
  }

  reportObservations(request: ReportObservationsRequest): Promise<ReportObservationsResponse> {
    return this.unary((client, metadata, options, done) => client.reportObservations(request, metadata, options, done));
  }

  reportKubernetesClusterHealth(request: ReportKubernetesClusterHealthRequest): Promise<ReportKubernetesClusterHealthResponse> {
    return new Promise((resolve, reject) => {
      try {
        const deadline = new Date(Date.now() + this.options.callTimeoutMs);
        this.addonClient(this.server).reportKubernetesClusterHealth(request, this.metadata(), { deadline }, (error, response) =>
          error ? reject(error) : resolve(response),
        );
      } catch (thrown) {
        reject(thrown);
      }
    });
  }

  private async run(): Promise<void> {
    const { backoff, servers, log } = this.options;
    let failures = 0;
    while (!this.stopped.signal.aborted) {
      const server = this.server;
      log("debug", "opening job stream", { server });
      const { established, error } = await this.streamOnce(server);
      if (this.stopped.signal.aborted) break;
      // A stream that worked resets the backoff: the next attempt is quick (but still jittered, so
      // a fleet that lost the same replica does not reconnect in one burst).
      if (established) failures = 0;
      const delayMs = fullJitter(failures++, backoff);
      const fields = { server, delayMs, ...(error ? describeError(error) : {}) };
      // Refusals that no retry will fix (UNAUTHENTICATED, INVALID_ARGUMENT…) are still retried —
      // the operator may fix the server side — but logged as errors.
      log(error && !isTransient(error) ? "error" : established ? "info" : "warn", "job stream ended; reconnecting", fields);
      this.index = (this.index + 1) % servers.length;
      await sleep(delayMs, this.stopped.signal);
    }
    log("debug", "job stream stopped", {});
  }

  /** One StreamJobs call, from open to end. `established`: it delivered something, or stayed open on
   * a ready connection for as long as the longest backoff (a server that accepts and then refuses
   * at once must not reset the backoff). */
  private streamOnce(server: string): Promise<{ established: boolean; error?: unknown }> {
    return new Promise((resolve) => {
      let established = false;
      let error: unknown;
      let call: ClientReadableStream<StreamJobsResponse>;
      try {
        call = this.client(server).streamJobs(this.options.request, this.metadata());
      } catch (thrown) {
        resolve({ established: false, error: thrown });
        return;
      }
      this.stream = call;
      this.streamSince = Date.now();
      this.streamReceived = false;
      const stable = setTimeout(() => {
        if (this.connected) established = true;
      }, this.options.backoff.capMs);
      call.on("metadata", () => {
        established = this.streamReceived = true;
      });
      call.on("data", (response: StreamJobsResponse) => {
        established = this.streamReceived = true;
        if (response.job) this.options.onJob(response.job);
      });
      call.on("error", (e) => {
        error = e;
      });
      call.on("status", () => {
        clearTimeout(stable);
        if (this.stream === call) this.stream = undefined;
        resolve({ established, error });
      });
    });
  }

  private unary<Res>(
    invoke: (
      client: AgentServiceClient,
      metadata: Metadata,
      options: { deadline: Date },
      done: (error: Error | null, response: Res) => void,
    ) => unknown,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      try {
        const deadline = new Date(Date.now() + this.options.callTimeoutMs);
        invoke(this.client(this.server), this.metadata(), { deadline }, (error, response) => (error ? reject(error) : resolve(response)));
      } catch (thrown) {
        reject(thrown); // e.g. the channel was closed by stop()
      }
    });
  }

  private client(server: string): AgentServiceClient {
    if (this.closed) throw new Error("connection closed");
    let client = this.clients.get(server);
    if (!client) {
      const { backoff } = this.options;
      client = new AgentServiceClient(server, this.options.credentials, {
        // grpc-js backs off on its own between connection attempts, by default up to 120 s; calls
        // made meanwhile fail at once. Our loop owns reconnecting, so keep its timer inside ours.
        "grpc.initial_reconnect_backoff_ms": backoff.baseMs,
        "grpc.max_reconnect_backoff_ms": backoff.capMs,
        // An idle job stream carries nothing for hours; pings find a dead peer (a half-open TCP
        // connection after a replica's host vanished) instead of waiting forever for jobs.
        "grpc.keepalive_time_ms": 30_000,
        "grpc.keepalive_timeout_ms": 10_000,
        "grpc.keepalive_permit_without_calls": 1,
        "grpc.primary_user_agent": "rackplane-agent-sdk",
      });
      this.clients.set(server, client);
    }
    return client;
  }

  private addonClient(server: string): KubernetesAddonServiceClient {
    if (this.closed) throw new Error("connection closed");
    let client = this.addonClients.get(server);
    if (!client) {
      client = new KubernetesAddonServiceClient(server, this.options.credentials, { "grpc.primary_user_agent": "rackplane-agent-sdk" });
      this.addonClients.set(server, client);
    }
    return client;
  }

  private metadata(): Metadata {
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${this.options.token}`);
    return metadata;
  }
}

export const insecure = (): ChannelCredentials => grpcCredentials.createInsecure();

/** TLS to a rackplane server: trusting `ca` (PEM, e.g. a private CA's certificate), or the system's
 * roots when it is omitted. */
export const tlsCredentials = (ca?: Buffer): ChannelCredentials => grpcCredentials.createSsl(ca ?? null);
