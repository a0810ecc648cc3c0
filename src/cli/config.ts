// rackctl's configuration, like kubectl's: named contexts (server, token file or token, CA file) in
// $RACKPLANE_CONFIG, else $XDG_CONFIG_HOME/rackplane/config.yaml, else ~/.config/rackplane/config.yaml
// (written 0600). Flags beat the environment (RACKPLANE_SERVER, RACKPLANE_TOKEN), which beats the file.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { UsageError } from "./errors.js";

export interface Context {
  server: string;
  /** A file holding the bearer token (read at each call, so a rotated file just works). */
  tokenFile?: string;
  token?: string;
  /** PEM CA bundle to trust for an https server. */
  caFile?: string;
}

export interface ConfigFile {
  currentContext?: string;
  contexts: Record<string, Context>;
}

export function configPath(): string {
  if (process.env.RACKPLANE_CONFIG) return process.env.RACKPLANE_CONFIG;
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "rackplane", "config.yaml");
}

export function readConfig(): ConfigFile {
  let text: string;
  try {
    text = readFileSync(configPath(), "utf8");
  } catch {
    return { contexts: {} };
  }
  const parsed = (parse(text) ?? {}) as Partial<ConfigFile>;
  return { currentContext: parsed.currentContext, contexts: parsed.contexts ?? {} };
}

export function writeConfig(config: ConfigFile): void {
  const path = configPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, stringify(config), { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Adds or replaces a context and makes it current; relative file paths are stored absolute. */
export function saveContext(name: string, context: Context): string {
  const config = readConfig();
  const stored: Context = { server: context.server.replace(/\/+$/, "") };
  if (context.tokenFile) stored.tokenFile = resolve(context.tokenFile);
  if (context.token) stored.token = context.token;
  if (context.caFile) stored.caFile = resolve(context.caFile);
  config.contexts[name] = stored;
  config.currentContext = name;
  writeConfig(config);
  return configPath();
}

export interface GlobalOptions {
  context?: string;
  server?: string;
  token?: string;
  tokenFile?: string;
  caFile?: string;
}

/** The server and token to use: flags, then environment, then the chosen context. */
export function effectiveContext(options: GlobalOptions): { server: string; token: string; caFile?: string } {
  const config = readConfig();
  const name = options.context ?? config.currentContext;
  const context = name ? config.contexts[name] : undefined;
  if (options.context && !context) throw new UsageError(`no context "${options.context}" in ${configPath()}`);
  const server = options.server ?? process.env.RACKPLANE_SERVER ?? context?.server;
  if (!server) throw new UsageError("no server: run `rackctl login --server URL --token-file FILE` or set RACKPLANE_SERVER");
  const tokenFile = options.tokenFile ?? (options.token || process.env.RACKPLANE_TOKEN ? undefined : context?.tokenFile);
  let token = options.token ?? process.env.RACKPLANE_TOKEN ?? context?.token ?? "";
  if (tokenFile) token = readFileSync(tokenFile, "utf8").trim();
  const caFile = options.caFile ?? context?.caFile;
  return { server: server.replace(/\/+$/, ""), token, ...(caFile ? { caFile } : {}) };
}
