import { create, toBinary, type DescEnum, type DescFile, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import { file_grpc_health_v1_health } from "../../gen/es/grpc/health/v1/health_pb.js";
import * as v1 from "../../gen/es/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/es/grpc/reflection/v1alpha/reflection_pb.js";

/** The request oneof of either protocol version; both have the same shape. */
type MessageRequest = v1.ServerReflectionRequest["messageRequest"] | v1alpha.ServerReflectionRequest["messageRequest"];

/** Init shape of the response oneof, valid for both protocol versions. */
type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/**
 * Everything reflection can be asked about, computed once at registration:
 * descriptors never change at runtime, and a request must not pay for walking
 * every file.
 */
class ReflectionIndex {
  readonly #services: readonly string[];
  readonly #fileByName = new Map<string, DescFile>();
  readonly #fileBySymbol = new Map<string, DescFile>();
  /** extendee type name -> extension number -> declaring file */
  readonly #extensions = new Map<string, Map<number, DescFile>>();
  /** file name -> the file followed by its transitive dependencies, serialized */
  readonly #closure = new Map<string, Uint8Array[]>();
  readonly #messages = new Set<string>();

  constructor(files: readonly DescFile[]) {
    const served = [
      ...files,
      file_grpc_health_v1_health,
      v1.file_grpc_reflection_v1_reflection,
      v1alpha.file_grpc_reflection_v1alpha_reflection,
    ];
    const services = new Set<string>();
    for (const file of served) {
      for (const service of file.services) services.add(service.typeName);
    }
    this.#services = [...services];

    for (const file of served) this.#addFile(file);

    const serialized = new Map<string, Uint8Array>();
    for (const [name, file] of this.#fileByName) {
      serialized.set(name, toBinary(FileDescriptorProtoSchema, file.proto));
    }
    for (const [name, file] of this.#fileByName) {
      // Clients (grpcurl, buf curl) build descriptors locally and fail on any
      // unresolved import, so every answer carries the whole import graph,
      // well-known types and buf/validate included.
      this.#closure.set(
        name,
        dependencyClosure(file).map((f) => serialized.get(f.proto.name)!),
      );
    }
  }

  answer(request: MessageRequest): Answer {
    switch (request.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: this.#services.map((name) => ({ name })) } };
      case "fileByFilename":
        return this.#files(this.#fileByName.get(request.value), `file "${request.value}"`);
      case "fileContainingSymbol":
        return this.#files(this.#fileBySymbol.get(stripDot(request.value)), `symbol "${request.value}"`);
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = request.value;
        return this.#files(
          this.#extensions.get(stripDot(containingType))?.get(extensionNumber),
          `extension ${extensionNumber} of "${containingType}"`,
        );
      }
      case "allExtensionNumbersOfType": {
        const typeName = stripDot(request.value);
        if (!this.#messages.has(typeName)) return notFound(`message type "${request.value}"`);
        const numbers = [...(this.#extensions.get(typeName)?.keys() ?? [])].sort((a, b) => a - b);
        return { case: "allExtensionNumbersResponse", value: { baseTypeName: typeName, extensionNumber: numbers } };
      }
      case undefined:
        // Either nothing was set or the client uses a request kind newer than
        // our copy of reflection.proto; answer instead of breaking the stream.
        return {
          case: "errorResponse",
          value: { errorCode: Code.InvalidArgument, errorMessage: "message_request is not set or not supported" },
        };
    }
  }

  #files(file: DescFile | undefined, what: string): Answer {
    const closure = file && this.#closure.get(file.proto.name);
    if (closure === undefined) return notFound(what);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: closure } };
  }

  #addFile(file: DescFile): void {
    // The same import reached through several paths is the same file; keep the
    // first one seen so lookups stay stable.
    if (this.#fileByName.has(file.proto.name)) return;
    this.#fileByName.set(file.proto.name, file);
    for (const dep of file.dependencies) this.#addFile(dep);

    for (const service of file.services) {
      this.#symbol(service.typeName, file);
      for (const method of service.methods) this.#symbol(`${service.typeName}.${method.name}`, file);
    }
    for (const message of file.messages) this.#addMessage(message, file);
    for (const e of file.enums) this.#addEnum(e, file);
    for (const ext of file.extensions) this.#addExtension(ext.typeName, ext.extendee.typeName, ext.number, file);
  }

  #addMessage(message: DescMessage, file: DescFile): void {
    this.#symbol(message.typeName, file);
    this.#messages.add(message.typeName);
    for (const field of message.fields) this.#symbol(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) this.#symbol(`${message.typeName}.${oneof.name}`, file);
    for (const nested of message.nestedMessages) this.#addMessage(nested, file);
    for (const e of message.nestedEnums) this.#addEnum(e, file);
    for (const ext of message.nestedExtensions) this.#addExtension(ext.typeName, ext.extendee.typeName, ext.number, file);
  }

  #addEnum(e: DescEnum, file: DescFile): void {
    this.#symbol(e.typeName, file);
    // Enum values are scoped as siblings of their enum, not as its children.
    const dot = e.typeName.lastIndexOf(".");
    const scope = dot < 0 ? "" : e.typeName.slice(0, dot + 1);
    for (const value of e.values) this.#symbol(scope + value.name, file);
  }

  #addExtension(typeName: string, extendee: string, number: number, file: DescFile): void {
    this.#symbol(typeName, file);
    let byNumber = this.#extensions.get(extendee);
    if (byNumber === undefined) {
      byNumber = new Map();
      this.#extensions.set(extendee, byNumber);
    }
    if (!byNumber.has(number)) byNumber.set(number, file);
  }

  #symbol(name: string, file: DescFile): void {
    if (!this.#fileBySymbol.has(name)) this.#fileBySymbol.set(name, file);
  }
}

/** The file first, then its imports depth-first, each file once. */
function dependencyClosure(root: DescFile): DescFile[] {
  const seen = new Set<string>();
  const out: DescFile[] = [];
  const visit = (file: DescFile): void => {
    if (seen.has(file.proto.name)) return;
    seen.add(file.proto.name);
    out.push(file);
    for (const dep of file.dependencies) visit(dep);
  };
  visit(root);
  return out;
}

/** Some clients send fully-qualified names with protoc's leading dot. */
function stripDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}

function notFound(what: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}

/**
 * Serves gRPC server reflection for `files`, the health service and
 * reflection itself, over both grpc.reflection.v1 and v1alpha (older grpcurl
 * and grpc_cli only speak v1alpha).
 */
export function registerReflection(router: ConnectRouter, files: readonly DescFile[]): void {
  const index = new ReflectionIndex(files);

  router.service(v1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield create(v1.ServerReflectionResponseSchema, {
          validHost: req.host,
          originalRequest: req,
          messageResponse: index.answer(req.messageRequest),
        });
      }
    },
  });

  router.service(v1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield create(v1alpha.ServerReflectionResponseSchema, {
          validHost: req.host,
          originalRequest: req,
          messageResponse: index.answer(req.messageRequest),
        });
      }
    },
  });
}
