import { execFile } from "node:child_process";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, createFileRegistry, fromBinary, type DescFile } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "../../gen/es/grpc/health/v1/health_pb.js";
import * as v1 from "../../gen/es/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/es/grpc/reflection/v1alpha/reflection_pb.js";
import { file_rackplane_v1_audit } from "../../gen/es/rackplane/v1/audit_pb.js";
import { file_rackplane_v1_identity } from "../../gen/es/rackplane/v1/identity_pb.js";
import { file_rackplane_v1_inventory } from "../../gen/es/rackplane/v1/inventory_pb.js";
import { HealthStatus, registerHealth, ServingStatus } from "../../src/server/health.js";
import { registerReflection } from "../../src/server/reflection.js";

const exec = promisify(execFile);
const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const FILES: readonly DescFile[] = [file_rackplane_v1_inventory, file_rackplane_v1_identity, file_rackplane_v1_audit];
const INVENTORY = "rackplane.v1.InventoryService";

interface Running {
  baseUrl: string;
  transport: Transport;
  close(): Promise<void>;
}

async function start(status: HealthStatus): Promise<Running> {
  const server = http2.createServer(
    connectNodeAdapter({
      routes(router) {
        registerHealth(router, status);
        registerReflection(router, FILES);
      },
    }),
  );
  // Client sessions (ours and buf curl's) would keep server.close() waiting.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    // connect-node 2.x gRPC transports are always HTTP/2 (no httpVersion option).
    transport: createGrpcTransport({ baseUrl }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const s of sessions) s.destroy();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

async function bufCurl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return exec(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { timeout: 30_000 });
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Rebuilds a registry from reflection output alone, as a stock client would. */
function registryFrom(protos: FileDescriptorProto[]) {
  const byName = new Map(protos.map((p) => [p.name, p]));
  const root = protos[0];
  if (root === undefined) throw new Error("no descriptors");
  return createFileRegistry(root, (name) => byName.get(name));
}

describe("health and reflection over real HTTP/2", () => {
  const status = new HealthStatus([
    ["", ServingStatus.SERVING],
    [INVENTORY, ServingStatus.SERVING],
  ]);
  let srv: Running;

  beforeAll(async () => {
    srv = await start(status);
  });
  afterAll(async () => {
    status.shutdown();
    await srv.close();
  });

  describe("Health via connect-node gRPC client", () => {
    it("Check reports known services and NOT_FOUND for unknown ones", async () => {
      const client = createClient(Health, srv.transport);
      expect((await client.check({})).status).toBe(ServingStatus.SERVING);
      expect((await client.check({ service: INVENTORY })).status).toBe(ServingStatus.SERVING);
      const err = await client.check({ service: "nope.v1.Nope" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.NotFound);
    });

    it("List returns a snapshot of all statuses", async () => {
      const client = createClient(Health, srv.transport);
      const res = await client.list({});
      expect(Object.fromEntries(Object.entries(res.statuses).map(([k, v]) => [k, v.status]))).toEqual({
        "": ServingStatus.SERVING,
        [INVENTORY]: ServingStatus.SERVING,
      });
    });

    it("Watch on an unknown service sends SERVICE_UNKNOWN, stays open, and ends on client abort", async () => {
      const client = createClient(Health, srv.transport);
      const abort = new AbortController();
      const it = client.watch({ service: "late.v1.Late" }, { signal: abort.signal })[Symbol.asyncIterator]();
      expect((await it.next()).value?.status).toBe(ServingStatus.SERVICE_UNKNOWN);
      expect(status.watcherCount).toBe(1);

      status.set("late.v1.Late", ServingStatus.NOT_SERVING);
      expect((await it.next()).value?.status).toBe(ServingStatus.NOT_SERVING);

      abort.abort();
      await expect(it.next()).rejects.toMatchObject({ code: Code.Canceled });
      // The server must notice the cancellation and drop the subscription.
      await waitFor(() => status.watcherCount === 0, "server-side watcher cleanup");
    });
  });

  describe("reflection", () => {
    it("buf curl lists methods with no local proto files (v1 reflection)", async () => {
      const { stdout, stderr } = await bufCurl("-v", "--list-methods", srv.baseUrl);
      expect(stderr).toContain("POST /grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
      const methods = stdout.trim().split("\n");
      expect(methods).toContain(`${INVENTORY}/GetRack`);
      expect(methods).toContain("rackplane.v1.IdentityService/CreateToken");
      expect(methods).toContain("rackplane.v1.AuditService/ListAuditEvents");
      expect(methods).toContain("grpc.health.v1.Health/Watch");
      expect(methods).toContain("grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
    });

    it("buf curl lists methods over v1alpha reflection too", async () => {
      const { stdout } = await bufCurl("--reflect-protocol", "grpc-v1alpha", "--list-methods", srv.baseUrl);
      expect(stdout.trim().split("\n")).toContain(`${INVENTORY}/GetRack`);
    });

    it("buf curl calls Health/Check resolved via reflection", async () => {
      const { stdout } = await bufCurl("-d", "{}", `${srv.baseUrl}/grpc.health.v1.Health/Check`);
      expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
    });

    it("buf curl resolves a rackplane request schema including buf.validate options", async () => {
      // The method is not served here; reaching the server at all proves the
      // descriptor graph (validate.proto, descriptor.proto, WKTs) resolved.
      const stderr = await bufCurl("-d", '{"id":"r-1"}', `${srv.baseUrl}/${INVENTORY}/GetRack`).then(
        () => "unexpected success",
        // buf curl prints the gRPC error as JSON on stderr and exits non-zero.
        (e: { stderr?: string }) => e.stderr ?? "",
      );
      expect(JSON.parse(stderr)).toMatchObject({ code: "unimplemented" });
    });

    it("v1alpha: list_services and file_containing_symbol return self-contained descriptors", async () => {
      const client = createClient(v1alpha.ServerReflection, srv.transport);
      async function* requests() {
        yield create(v1alpha.ServerReflectionRequestSchema, {
          host: "test",
          messageRequest: { case: "listServices", value: "" },
        });
        yield create(v1alpha.ServerReflectionRequestSchema, {
          messageRequest: { case: "fileContainingSymbol", value: INVENTORY },
        });
        yield create(v1alpha.ServerReflectionRequestSchema, {
          messageRequest: { case: "fileContainingSymbol", value: "rackplane.v1.NoSuchThing" },
        });
      }
      const responses: v1alpha.ServerReflectionResponse[] = [];
      for await (const res of client.serverReflectionInfo(requests())) responses.push(res);
      expect(responses).toHaveLength(3);
      const [list, files, missing] = responses;

      expect(list?.validHost).toBe("test");
      expect(list?.messageResponse.case).toBe("listServicesResponse");
      const names = list?.messageResponse.case === "listServicesResponse" ? list.messageResponse.value.service.map((s) => s.name) : [];
      expect(names).toEqual(
        expect.arrayContaining([
          INVENTORY,
          "rackplane.v1.IdentityService",
          "rackplane.v1.AuditService",
          "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection",
        ]),
      );

      expect(files?.messageResponse.case).toBe("fileDescriptorResponse");
      const protos =
        files?.messageResponse.case === "fileDescriptorResponse"
          ? files.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b))
          : [];
      expect(protos[0]?.name).toBe("rackplane/v1/inventory.proto");
      expect(protos.map((p) => p.name)).toEqual(
        expect.arrayContaining([
          "buf/validate/validate.proto",
          "google/protobuf/descriptor.proto",
          "google/protobuf/duration.proto",
          "google/protobuf/field_mask.proto",
          "google/protobuf/timestamp.proto",
        ]),
      );
      const reg = registryFrom(protos);
      expect(reg.getService(INVENTORY)?.methods.map((m) => m.name)).toContain("GetRack");
      expect(reg.getExtension("buf.validate.field")?.extendee.typeName).toBe("google.protobuf.FieldOptions");

      expect(missing?.messageResponse).toEqual({
        case: "errorResponse",
        value: expect.objectContaining({ errorCode: 5 }),
      });
    });

    it("v1: file_by_filename, extensions, nested symbols and NOT_FOUND errors", async () => {
      const client = createClient(v1.ServerReflection, srv.transport);
      const ask = async (messageRequest: v1.ServerReflectionRequest["messageRequest"]) => {
        async function* one() {
          yield create(v1.ServerReflectionRequestSchema, { messageRequest });
        }
        const out: v1.ServerReflectionResponse[] = [];
        for await (const res of client.serverReflectionInfo(one())) out.push(res);
        expect(out).toHaveLength(1);
        return out[0]!.messageResponse;
      };
      const firstFile = (r: v1.ServerReflectionResponse["messageResponse"]) =>
        r.case === "fileDescriptorResponse" ? fromBinary(FileDescriptorProtoSchema, r.value.fileDescriptorProto[0]!).name : r.case;

      expect(firstFile(await ask({ case: "fileByFilename", value: "rackplane/v1/audit.proto" }))).toBe("rackplane/v1/audit.proto");
      expect(firstFile(await ask({ case: "fileContainingSymbol", value: `${INVENTORY}.GetRack` }))).toBe("rackplane/v1/inventory.proto");
      expect(firstFile(await ask({ case: "fileContainingSymbol", value: "rackplane.v1.Rack" }))).toBe("rackplane/v1/inventory.proto");
      expect(firstFile(await ask({ case: "fileContainingSymbol", value: "rackplane.v1.RackStatus" }))).toBe("rackplane/v1/inventory.proto");
      expect(firstFile(await ask({ case: "fileContainingSymbol", value: "google.protobuf.Timestamp" }))).toBe(
        "google/protobuf/timestamp.proto",
      );
      expect(firstFile(await ask({ case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckResponse.ServingStatus" }))).toBe(
        "grpc/health/v1/health.proto",
      );
      expect(firstFile(await ask({ case: "fileContainingSymbol", value: "buf.validate.field" }))).toBe("buf/validate/validate.proto");
      expect(
        firstFile(
          await ask({
            case: "fileContainingExtension",
            value: create(v1.ExtensionRequestSchema, { containingType: "google.protobuf.FieldOptions", extensionNumber: 1159 }),
          }),
        ),
      ).toBe("buf/validate/validate.proto");

      const numbers = await ask({ case: "allExtensionNumbersOfType", value: "google.protobuf.FieldOptions" });
      expect(numbers.case).toBe("allExtensionNumbersResponse");
      expect(numbers.case === "allExtensionNumbersResponse" ? numbers.value.extensionNumber : []).toContain(1159);

      for (const bad of [
        { case: "fileByFilename", value: "nope.proto" },
        { case: "allExtensionNumbersOfType", value: "nope.Nope" },
        {
          case: "fileContainingExtension",
          value: create(v1.ExtensionRequestSchema, { containingType: "google.protobuf.FieldOptions", extensionNumber: 1 }),
        },
      ] as const) {
        const res = await ask(bad);
        expect(res.case).toBe("errorResponse");
        expect(res.case === "errorResponse" ? res.value.errorCode : undefined).toBe(5);
      }
    });
  });
});

describe("HealthStatus.shutdown over a Watch stream", () => {
  const status = new HealthStatus();
  let srv: Running;

  beforeAll(async () => {
    srv = await start(status);
  });
  afterAll(async () => {
    await srv.close();
  });

  it("sends the current status, every change, then NOT_SERVING and ends on shutdown", async () => {
    const client = createClient(Health, srv.transport);
    const it = client.watch({ service: "" })[Symbol.asyncIterator]();
    expect((await it.next()).value?.status).toBe(ServingStatus.SERVING);

    status.set("", ServingStatus.NOT_SERVING);
    expect((await it.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    status.set("", ServingStatus.NOT_SERVING); // no change, no message
    status.set("", ServingStatus.SERVING);
    expect((await it.next()).value?.status).toBe(ServingStatus.SERVING);

    status.shutdown();
    expect((await it.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    expect((await it.next()).done).toBe(true);
    expect(status.watcherCount).toBe(0);

    // Late "healthy" reports must not resurrect a draining server.
    status.set("", ServingStatus.SERVING);
    expect((await client.check({})).status).toBe(ServingStatus.NOT_SERVING);
  });
});
