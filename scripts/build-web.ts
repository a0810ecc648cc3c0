// `npm run build` (and so `npm start`): builds the console into dist/web when its inputs changed, and
// prints the first load's compressed JavaScript against its 300 KB budget (failing over it). Nothing
// changed since the last build: a quick look at modification times, no vite run.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "vite";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "dist", "web");
const stampFile = join(out, ".inputs");
const budgetBytes = 300 * 1024;

/** Newest modification time and file count of the sources: the build's fingerprint. */
function fingerprint(): string {
  let newest = 0;
  let count = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        count++;
        newest = Math.max(newest, statSync(path).mtimeMs);
      }
    }
  };
  walk(join(root, "web"));
  walk(join(root, "gen", "es"));
  newest = Math.max(newest, statSync(join(root, "package-lock.json")).mtimeMs);
  return `${newest} ${count}`;
}

/** Gzipped bytes of the scripts index.html loads at once (entry and module preloads). */
function firstLoadBytes(dir: string): { files: string[]; bytes: number } {
  const html = readFileSync(join(dir, "index.html"), "utf8");
  const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((match) => match[1]!);
  const bytes = files.reduce((sum, file) => sum + gzipSync(readFileSync(join(dir, file)), { level: 9 }).length, 0);
  return { files, bytes };
}

/** The figure against its budget; `--report` prints it for the last build without building. */
function report(): boolean {
  const { files, bytes } = firstLoadBytes(out);
  const kb = (bytes / 1024).toFixed(1);
  console.log(`console built into dist/web: first load ${kb} KB of compressed JavaScript (${files.length} files, budget 300 KB)`);
  if (bytes <= budgetBytes) return true;
  console.error(`the console's first load is over its budget: ${kb} KB > 300 KB`);
  return false;
}

if (process.argv.includes("--report")) process.exit(report() ? 0 : 1);
const inputs = fingerprint();
const force = process.argv.includes("--force");
if (!force && existsSync(stampFile) && readFileSync(stampFile, "utf8") === inputs) {
  process.exit(0);
}
// Always the production build of React, even when started from a test runner (NODE_ENV=test).
process.env.NODE_ENV = "production";
await build({ configFile: join(root, "web", "vite.config.ts"), mode: "production" });
if (!report()) process.exit(1);
writeFileSync(stampFile, inputs);
