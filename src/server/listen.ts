// One cleartext port for every protocol: a connection that opens with the HTTP/2 preface goes to
// an HTTP/2 server (gRPC, and Connect / gRPC-Web over h2c), anything else to an HTTP/1.1 server
// (Connect JSON, gRPC-Web, /metrics). Both share one connect handler. Node's own
// `allowHTTP1` fallback works only with TLS, hence the sniffing.
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface Listener {
  readonly port: number;
  readonly host: string;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then drops the rest. */
  close(graceMs: number, inFlight: () => number): Promise<void>;
}

export async function listen(host: string, port: number, handler: RequestHandler): Promise<Listener> {
  const h1 = http.createServer(handler as http.RequestListener);
  h1.keepAliveTimeout = 65_000;
  const h2 = http2.createServer({}, handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const sockets = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("data", (chunk) => {
      socket.pause();
      socket.unshift(chunk);
      // No HTTP/1.1 method starts with "PRI": three bytes tell the protocols apart.
      if (chunk.subarray(0, 3).toString("latin1") === "PRI") {
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as net.AddressInfo;

  return {
    port: address.port,
    host,
    async close(graceMs, inFlight) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      h1.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (inFlight() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
