// Structured logs: one JSON object per line on stdout. RACKPLANE_LOG picks the least severe level
// written (debug, info, warn, error, silent); the default is info.
const levels = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = Exclude<keyof typeof levels, "silent">;

const threshold = levels[(process.env.RACKPLANE_LOG ?? "info") as keyof typeof levels] ?? levels.info;

export function log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
  if (levels[level] < threshold) return;
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
}

export function errorFields(error: unknown): Record<string, unknown> {
  return error instanceof Error ? { error: error.message, stack: error.stack } : { error: String(error) };
}
