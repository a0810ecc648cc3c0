// The generated Connect clients over one connect-node transport (Connect protocol: JSON-free binary
// over HTTP/1.1 in clear text, HTTP/2 over TLS with an optional CA file), with the bearer token.
import { readFileSync } from "node:fs";
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { effectiveContext, type GlobalOptions } from "./config.js";

export interface Connection {
  readonly server: string;
  client<S extends DescService>(service: S): Client<S>;
}

export function connect(options: GlobalOptions): Connection {
  const context = effectiveContext(options);
  const tls = context.server.startsWith("https://");
  const transport: Transport = createConnectTransport({
    baseUrl: context.server,
    httpVersion: tls ? "2" : "1.1",
    useBinaryFormat: true,
    ...(tls && context.caFile ? { nodeOptions: { ca: readFileSync(context.caFile) } } : {}),
    interceptors: [
      (next) => (request) => {
        if (context.token) request.header.set("authorization", `Bearer ${context.token}`);
        return next(request);
      },
    ],
  });
  const clients = new Map<DescService, unknown>();
  return {
    server: context.server,
    client<S extends DescService>(service: S): Client<S> {
      let client = clients.get(service) as Client<S> | undefined;
      if (!client) {
        client = createClient(service, transport);
        clients.set(service, client);
      }
      return client;
    },
  };
}
