// rackctl's output: aligned tables, JSON / YAML of the protobuf JSON form, names, and the progress
// and usage bars. Shared by every command; knows no resource.

/** A table column: a header and how to read the cell from a row. */
export interface Column<T> {
  readonly header: string;
  readonly cell: (row: T) => string;
}

/** Left-aligned columns separated by three spaces, like kubectl; an empty list prints a notice. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((column) => column.cell(row)));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => line[i]!.length)));
  const render = (line: readonly string[]) =>
    line
      .map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("   ")
      .trimEnd();
  return `${[render(columns.map((column) => column.header)), ...cells.map(render)].join("\n")}\n`;
}

/** `label: value` lines with aligned values, for describe. */
export function fields(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([label]) => label.length)) + 1;
  return `${pairs.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`).join("\n")}\n`;
}

/** A bar of `width` cells for used / limit, and the figures beside it. */
export function usageBar(used: bigint, limit: bigint, width = 30): string {
  const share = limit > 0n ? Number((used * 1000n) / limit) / 1000 : used > 0n ? 1 : 0;
  const full = Math.min(width, Math.round(share * width));
  return `[${"#".repeat(full)}${".".repeat(width - full)}] ${used}/${limit} (${Math.round(share * 100)}%)`;
}

/**
 * A progress line on stderr: redrawn in place on a terminal, one line per 10 % step otherwise (so
 * logs and tests read it without control characters).
 */
export class ProgressBar {
  private lastStep = -1;
  private readonly tty = process.stderr.isTTY === true;
  constructor(private readonly label: string) {}

  update(done: number, total: number, note = ""): void {
    const share = total > 0 ? Math.min(1, done / total) : 0;
    const text = `${this.label} [${"#".repeat(Math.round(share * 30)).padEnd(30, ".")}] ${Math.round(share * 100)}%${note ? ` ${note}` : ""}`;
    if (this.tty) {
      process.stderr.write(`\r${text}\x1b[K`);
      return;
    }
    const step = Math.floor(share * 10);
    if (step !== this.lastStep) {
      this.lastStep = step;
      process.stderr.write(`${text}\n`);
    }
  }

  end(): void {
    if (this.tty) process.stderr.write("\n");
  }
}

/** The part of a UUID before its first dash, for compact tables. */
export function shortId(id: string): string {
  return id.split("-")[0] ?? id;
}
