// The web console's built files (vite's output) served on the API's own port. Paths that name an RPC
// never reach here with a file: they belong to the router. Any other GET that is not a file answers
// index.html, so a deep link (/racks/42) opens the single-page console. See docs/console.md.
import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, normalize, sep } from "node:path";
import { gzipSync } from "node:zlib";

/** What serving needs of a request and a response, over HTTP/1.1 and HTTP/2 alike. */
export interface HttpRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: Record<string, string | string[] | undefined>;
}
export interface HttpResponse {
  setHeader(name: string, value: string): unknown;
  writeHead(status: number, headers?: Record<string, string>): unknown;
  end(body?: Uint8Array | string): unknown;
}

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};

interface StaticFile {
  readonly body: Buffer;
  readonly gzip: Buffer | undefined;
  readonly type: string;
  readonly immutable: boolean;
}

/** An RPC path (`/package.Service/Method`): never answered with the console. */
const rpcPath = /^\/[a-zA-Z_][\w]*(\.[a-zA-Z_]\w*)+\//;

export class ConsoleFiles {
  /** Files read once: the build does not change under a running server. */
  private readonly cache = new Map<string, StaticFile | null>();

  constructor(private readonly root: string) {}

  /** Whether a built console is there at all. */
  get built(): boolean {
    return existsSync(join(this.root, "index.html"));
  }

  /** Answers a GET or HEAD with a file or index.html; false when the request is not the console's. */
  serve(req: HttpRequest, res: HttpResponse): boolean {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const path = decodeURIComponentSafe((req.url ?? "/").split("?")[0]!);
    if (path === undefined || rpcPath.test(path) || path === "/metrics") return false;
    const file = (path !== "/" && this.file(path)) || this.file("/index.html");
    if (!file) return false;
    const gzip = file.gzip && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    const headers: Record<string, string> = {
      "content-type": file.type,
      "content-length": String(gzip ? file.gzip!.length : file.body.length),
      // Hashed names change with their content: keep them forever. index.html names the current
      // ones, so it is checked on every load.
      "cache-control": file.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      "x-content-type-options": "nosniff",
      vary: "accept-encoding",
    };
    if (gzip) headers["content-encoding"] = "gzip";
    res.writeHead(200, headers);
    if (req.method === "HEAD") res.end();
    else res.end(gzip ? file.gzip : file.body);
    return true;
  }

  private file(path: string): StaticFile | null {
    const cached = this.cache.get(path);
    if (cached !== undefined) return cached;
    const full = normalize(join(this.root, path));
    let file: StaticFile | null = null;
    // normalize() resolves "..": anything that leaves the root is not a file of the console.
    if (full.startsWith(this.root + sep) && existsSync(full) && statSync(full).isFile()) {
      const body = readFileSync(full);
      const type = contentTypes[extname(full)] ?? "application/octet-stream";
      const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 1024;
      file = { body, type, gzip: compressible ? gzipSync(body) : undefined, immutable: path.startsWith("/assets/") };
    }
    // Misses are cached too, bounded: deep links repeat, and junk paths should not grow the map.
    if (file || this.cache.size < 1000) this.cache.set(path, file);
    return file;
  }
}

function decodeURIComponentSafe(path: string): string | undefined {
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}
