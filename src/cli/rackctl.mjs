#!/usr/bin/env node
// The `rackctl` bin. It makes sure the project's own Node (node_modules/.bin/node, Node 24) runs the
// CLI even when started from a shell whose `node` is older, then loads the compiled CLI
// (dist/src/cli/main.js, built by `npm run build`) or, when that is missing or older than the
// sources, the TypeScript through tsx (slower to start, always current).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import module from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  const node = join(root, "node_modules", ".bin", "node");
  if (!existsSync(node)) {
    process.stderr.write(`rackctl needs Node.js 24: run \`npm install\` in ${root} first\n`);
    process.exit(1);
  }
  const child = spawnSync(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(child.status ?? 1);
}

// V8's compile cache (under the system's temporary directory) spares re-parsing the clients and
// libraries on every start: about a third of the start-up time.
module.enableCompileCache?.();
const compiled = join(root, "dist", "src", "cli", "main.js");
const newestSource = (dir) =>
  Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) =>
      entry.isDirectory() ? newestSource(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs,
    ),
  );
if (existsSync(compiled) && statSync(compiled).mtimeMs >= newestSource(here)) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(join(here, "main.ts")).href);
}
