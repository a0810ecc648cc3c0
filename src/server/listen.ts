// One port for every protocol. In clear text a connection that opens with the HTTP/2 preface goes to
// an HTTP/2 server (gRPC, and Connect / gRPC-Web over h2c), anything else to an HTTP/1.1 server
// (Connect JSON, gRPC-Web, /metrics); Node's own `allowHTTP1` fallback works only with TLS, hence
// the sniffing. Over TLS, ALPN says which: "h2" goes to the HTTP/2 server, "http/1.1" or no ALPN at
// all to the HTTP/1.1 one. Both share one connect handler either way.
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { log } from "../log.js";

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** A certificate chain and its private key, PEM. */
export interface CertificatePair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface Listener {
  readonly port: number;
  readonly host: string;
  readonly tls: boolean;
  /** Serves new TLS connections with this pair (established ones keep theirs). Throws, changing
   * nothing, when the pair is unusable (a key that does not match the certificate). */
  setCertificate(pair: CertificatePair): void;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then drops the rest. */
  close(graceMs: number, inFlight: () => number): Promise<void>;
}

export async function listen(host: string, port: number, handler: RequestHandler, certificate?: CertificatePair): Promise<Listener> {
  const h1 = http.createServer(handler as http.RequestListener);
  h1.keepAliveTimeout = 65_000;
  const h2 = http2.createServer({}, handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const sockets = new Set<net.Socket>();

  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };

  let server: net.Server;
  let secure: tls.Server | undefined;
  if (certificate) {
    secure = tls.createServer({ ...certificate, ALPNProtocols: ["h2", "http/1.1"] }, (socket) => {
      track(socket);
      if (socket.alpnProtocol === "h2") h2.emit("connection", socket);
      else h1.emit("connection", socket);
    });
    // A client that speaks clear text, or distrusts the certificate, fails its handshake: its
    // problem, worth a debug line and nothing more.
    secure.on("tlsClientError", (error) => log("debug", "TLS handshake failed", { error: error.message }));
    server = secure;
  } else {
    server = net.createServer((socket) => {
      track(socket);
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
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as net.AddressInfo;

  return {
    port: address.port,
    host,
    tls: secure !== undefined,
    setCertificate(pair) {
      if (!secure) throw new Error("this listener serves clear text");
      // Built once on its own first: it throws for unreadable PEM or a key that does not belong to
      // the certificate, before the serving context is touched.
      tls.createSecureContext(pair);
      secure.setSecureContext(pair);
    },
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
