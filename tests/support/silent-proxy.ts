// A TCP relay in front of PostgreSQL that can go silent: it keeps every socket open but stops
// passing bytes, as a server that died behind a proxy (or a host cut off) looks to a client. No
// error, no close, nothing ever again. Modes:
// - "open": relays everything.
// - "silent": relays nothing, on every connection, old and new.
// - "silent-after-start-up": a new connection completes its start-up (up to the server's first
//   ReadyForQuery), then goes silent; connections opened before keep working.
import { join } from "node:path";
import { createConnection, createServer, type Socket } from "node:net";

export type SilentProxyMode = "open" | "silent" | "silent-after-start-up";

export interface SilentProxy {
  /** `databaseUrl` with its host and port replaced by the relay's. */
  readonly url: string;
  mode: SilentProxyMode;
  /** Connections from clients open through it now. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startSilentProxy(databaseUrl: string): Promise<SilentProxy> {
  const target = new URL(databaseUrl);
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  const proxy: SilentProxy & { url: string } = {
    url: "",
    mode: "open",
    get connections() {
      return clients.size;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = createServer((client) => {
    // The embedded cluster's URL names its unix-domain socket's directory as the host.
    const host = decodeURIComponent(target.hostname);
    const port = Number(target.port || 5432);
    const upstream = host.startsWith("/") ? createConnection(join(host, `.s.PGSQL.${port}`)) : createConnection(port, host);
    sockets.add(client).add(upstream);
    clients.add(client);
    client.on("close", () => clients.delete(client));
    for (const socket of [client, upstream]) {
      socket.on("error", () => undefined);
      socket.on("close", () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    // Each connection remembers whether it was made silent after its start-up.
    const silentFromStart = proxy.mode === "silent-after-start-up";
    let started = false;
    let pending = Buffer.alloc(0);
    const silent = () => proxy.mode === "silent" || (silentFromStart && started);
    client.on("data", (chunk) => {
      if (!silent()) upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (silent()) return;
      if (!silentFromStart) {
        client.write(chunk);
        return;
      }
      // Pass the server's messages up to and including its first ReadyForQuery ('Z'), then nothing.
      pending = Buffer.concat([pending, chunk]);
      let at = 0;
      while (!started && pending.length - at >= 5) {
        const length = pending.readInt32BE(at + 1);
        if (pending.length - at < 1 + length) break;
        if (pending[at] === 0x5a) started = true;
        at += 1 + length;
      }
      client.write(pending.subarray(0, at));
      pending = pending.subarray(at);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(databaseUrl);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as { port: number }).port);
  proxy.url = url.toString();
  return proxy;
}
