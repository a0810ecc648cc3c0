// Copies the third-party .proto contracts rackplane builds against out of the npm packages that
// ship them, so `buf` sees ordinary sources under third_party/ (the Buf Schema Registry is not
// reachable from our machines). buf/validate/validate.proto has no package shipping its source:
// scripts/vendor-protovalidate.ts rebuilds it from @bufbuild/protovalidate's embedded descriptor.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");

/** [source under node_modules, destination under third_party] */
const files: ReadonlyArray<readonly [string, string]> = [
  ["google-proto-files/google/rpc/error_details.proto", "google/rpc/error_details.proto"],
  ["grpc-health-check/proto/health/v1/health.proto", "grpc/health/v1/health.proto"],
  ["@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto", "grpc/reflection/v1/reflection.proto"],
  ["@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto", "grpc/reflection/v1alpha/reflection.proto"],
];

for (const [from, to] of files) {
  const target = join(root, "third_party", to);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(modules, from), target);
}
