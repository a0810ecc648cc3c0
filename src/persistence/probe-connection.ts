// The readiness probe's own connection to the primary, outside the pool. Asking through the pool
// measured the pool, not the database: when thousands of agents reconnected at once the probe queued
// behind their checkouts, missed its 2 s, and the replica said "database unreachable" and
// NOT_SERVING while PostgreSQL answered everything in milliseconds — on every replica at once, which
// left a load balancer nowhere to send anything. Whether the pool is making progress is judged from
// its own counts instead (server/database-health.ts).
import type pg from "pg";
import { boundEnd, connectingWithin, destroySocket, keepAlive, timedQuery } from "./pool-guard.js";

export class ProbeConnection {
  #client: pg.Client | undefined;
  #closed = false;

  /** `config` is the pool's: the same server, credentials, TLS and application_name. */
  constructor(private readonly config: pg.ClientConfig) {}

  /**
   * Resolves when the server answers within `timeoutMs` (to connect, when there is no connection
   * yet, and again to answer) and takes writes. Otherwise throws, and the connection is dropped so
   * that the next ask opens a new one: after a failover the way to the database may lead elsewhere.
   */
  async askPrimary(timeoutMs: number): Promise<void> {
    if (this.#closed) throw new Error("the probe connection is closed");
    try {
      const client = this.#client ?? (await this.#open(timeoutMs));
      const { rows } = await client.query<{ standby: boolean }>(timedQuery("select pg_is_in_recovery() as standby", timeoutMs));
      if (rows[0]?.standby) throw new Error("the database is a read-only standby, not a primary");
    } catch (error) {
      // At once: a polite close to a server that stopped answering would wait for nothing.
      const client = this.#client;
      this.#client = undefined;
      if (client) destroySocket(client);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #open(timeoutMs: number): Promise<pg.Client> {
    const Client = connectingWithin(timeoutMs);
    const client = new Client(Object.defineProperties({ ...keepAlive }, Object.getOwnPropertyDescriptors(this.config)));
    boundEnd(client, timeoutMs);
    // A connection that breaks while idle emits 'error'; unheard, that would end the process.
    client.on("error", () => {
      if (this.#client === client) this.#client = undefined;
    });
    client.on("end", () => {
      if (this.#client === client) this.#client = undefined;
    });
    this.#client = client;
    await client.connect();
    return client;
  }
}
