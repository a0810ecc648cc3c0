// Cross-origin calls from browsers on other origins (RACKPLANE_CORS_ORIGINS), off by default: the
// console itself is served on the API's origin and needs none. Allowed origins get Connect's
// recommended headers (Connect, gRPC-Web) plus Authorization for the bearer token; any other origin
// gets no CORS headers, so the browser refuses the response, and its preflight answers 403.
import { cors } from "@connectrpc/connect";
import type { HttpRequest, HttpResponse } from "./console.js";
import type { RequestHandler } from "./listen.js";

const allowHeaders = [...cors.allowedHeaders, "Authorization"].join(", ");
const allowMethods = cors.allowedMethods.join(", ");
const exposeHeaders = cors.exposedHeaders.join(", ");

/** Parses the comma list of RACKPLANE_CORS_ORIGINS; each must be an origin (scheme://host[:port]). */
export function parseCorsOrigins(value: string | undefined): string[] {
  if (!value?.trim()) return [];
  return value.split(",").map((entry) => {
    const origin = entry.trim();
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new Error(`bad origin in RACKPLANE_CORS_ORIGINS: ${origin}`);
    }
    if (parsed.origin !== origin) throw new Error(`bad origin in RACKPLANE_CORS_ORIGINS: ${origin} (want ${parsed.origin})`);
    return origin;
  });
}

/** Wraps `handler` with CORS for `origins`; the handler itself when there are none. */
export function withCors(origins: readonly string[], handler: RequestHandler): RequestHandler {
  if (origins.length === 0) return handler;
  const allowed = new Set(origins);
  return (request, response) => {
    const req: HttpRequest = request;
    const res = response as unknown as HttpResponse;
    const origin = req.headers.origin;
    if (typeof origin !== "string") return handler(request, response);
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (!allowed.has(origin)) {
      if (preflight) {
        res.writeHead(403, { "content-type": "text/plain", vary: "Origin" });
        res.end("origin not allowed\n");
        return;
      }
      return handler(request, response);
    }
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("vary", "Origin");
    if (preflight) {
      res.writeHead(204, {
        "access-control-allow-methods": allowMethods,
        "access-control-allow-headers": allowHeaders,
        "access-control-max-age": "7200",
      });
      res.end();
      return;
    }
    res.setHeader("access-control-expose-headers", exposeHeaders);
    return handler(request, response);
  };
}
