// rackplane servers as separate processes (`src/main.ts`), for tests that need several replicas
// over one database or must kill one.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly dataDir: string;
  output(): string;
  /** The first-start admin token, if this process created it. */
  adminToken(): string | undefined;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startServerProcess(
  databaseUrl: string,
  env: Record<string, string> = {},
  listen = "127.0.0.1:0",
): Promise<ServerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), "rackplane-replica-"));
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "--listen", listen, "--data-dir", dataDir], {
    env: { ...process.env, DATABASE_URL: databaseUrl, RACKPLANE_LOG: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  for (let waited = 0; !/"rackplane is ready"/.test(output); waited += 50) {
    if (waited > 60_000 || child.exitCode !== null) throw new Error(`server did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const url = /"message":"rackplane is ready","url":"([^"]+)"/.exec(output)![1]!;
  return {
    child,
    url,
    dataDir,
    output: () => output,
    adminToken() {
      try {
        return readFileSync(join(dataDir, "admin.token"), "utf8").trim();
      } catch {
        return undefined;
      }
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null) child.kill(signal);
      const code = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
