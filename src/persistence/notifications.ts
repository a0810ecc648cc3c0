// Cross-replica wake-ups over PostgreSQL LISTEN/NOTIFY. A change that others must react to (an
// operation moved, a job became ready) is announced with pg_notify inside its own transaction, so the
// notice is delivered exactly when the change is visible — on every replica. Each process keeps one
// dedicated connection that listens and fans notices out to in-process subscribers.
import type { EntityManager } from "@mikro-orm/postgresql";
import pg from "pg";
import { connectionSettings } from "./connection-settings.js";
import { boundEnd, keepAlive, poolTimeouts } from "./pool-guard.js";

export type Channel = "rackplane_operation" | "rackplane_job" | "rackplane_token";
const channels: readonly Channel[] = ["rackplane_operation", "rackplane_job", "rackplane_token"];
type Subscriber = (payload: string) => void;

/** Announces `payload` on `channel` when the surrounding transaction commits. */
export async function notify(em: EntityManager, channel: Channel, payload: string): Promise<void> {
  await em.execute("select pg_notify(?, ?)", [channel, payload]);
}

export class Notifications {
  private client: pg.Client | undefined;
  private readonly subscribers = new Map<Channel, Set<Subscriber>>();
  /** Called after a lost listening connection is back: notices sent meanwhile were lost. */
  private readonly reconnected = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  async start(): Promise<void> {
    // Bounded like the pool's connections (pool-guard.ts): opening it and each LISTEN. The listener
    // is idle whenever nothing changes, so a server that vanished silently is found by keep-alive.
    const timeouts = poolTimeouts(connectionSettings(this.databaseUrl));
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      connectionTimeoutMillis: timeouts.connectMs,
      query_timeout: timeouts.connectMs,
      ...keepAlive,
    });
    boundEnd(client, timeouts.connectMs);
    client.on("notification", (message) => {
      for (const subscriber of this.subscribers.get(message.channel as Channel) ?? []) subscriber(message.payload ?? "");
    });
    client.on("error", (error) => {
      this.onError(error);
      this.reconnect();
    });
    try {
      await client.connect();
      for (const channel of channels) await client.query(`LISTEN ${channel}`);
    } catch (error) {
      // A half-open listener must not linger: the caller retries with a new one.
      await client.end().catch(() => {});
      throw error;
    }
    this.client = client;
  }

  /** Calls `listener` each time the listening connection is re-established after a loss, until the
   * returned function is called: whoever caches what notices invalidate must forget it then. */
  onReconnect(listener: () => void): () => void {
    this.reconnected.add(listener);
    return () => this.reconnected.delete(listener);
  }

  /** Calls `subscriber` with every payload on `channel` until the returned function is called. */
  subscribe(channel: Channel, subscriber: Subscriber): () => void {
    let set = this.subscribers.get(channel);
    if (!set) {
      set = new Set();
      this.subscribers.set(channel, set);
    }
    set.add(subscriber);
    return () => set.delete(subscriber);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => {});
  }

  /** A lost listening connection is re-established; subscribers then re-read what they follow (a
   * notice sent while disconnected is lost, which is why every waiter also has a timeout). */
  private reconnect(): void {
    if (this.closed) return;
    const old = this.client;
    this.client = undefined;
    void old?.end().catch(() => {});
    setTimeout(() => {
      if (!this.closed)
        this.start().then(
          () => {
            for (const listener of this.reconnected) listener();
          },
          (error: unknown) => {
            this.onError(error);
            this.reconnect();
          },
        );
    }, 1000);
  }
}
