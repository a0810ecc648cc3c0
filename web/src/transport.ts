// Connect (JSON over HTTP) to the server that served the console: same origin, no CORS.
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";

export function consoleTransport(token: string, baseUrl: string = window.location.origin): Transport {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createConnectTransport({ baseUrl, interceptors: [bearer] });
}
