// The real rackctl bin, run in its own process as a user runs it, for the CLI's end-to-end tests;
// and their golden files.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";

export interface RackctlRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A runner of `rackctl` whose configuration lives in `dir` (config.yaml), with extra environment
 * variables per call. */
export function rackctlIn(dir: string): (args: string[], env?: Record<string, string>) => Promise<RackctlRun> {
  return (args, env = {}) =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        ["src/cli/rackctl.mjs", ...args],
        { env: { ...process.env, RACKPLANE_CONFIG: join(dir, "config.yaml"), ...env }, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
}

/** Compares with tests/cli/golden/<name>; RACKCTL_UPDATE_GOLDEN=1 rewrites the file. */
export function golden(name: string, text: string): void {
  const path = join("tests/cli/golden", name);
  if (process.env.RACKCTL_UPDATE_GOLDEN === "1") writeFileSync(path, text);
  expect(text).toBe(readFileSync(path, "utf8"));
}
