// Display helpers shared by the pages: enum names without their prefix, sizes, times.
import type { Timestamp } from "@bufbuild/protobuf/wkt";

/** `BAREMETAL_STATUS_ACTIVE` → `ACTIVE`, from the generated enum object. */
export function enumName(values: Record<number | string, string | number>, value: number, prefix: string): string {
  const name = values[value];
  return typeof name === "string" ? name.replace(prefix, "") : String(value);
}

export function mib(value: bigint | number): string {
  const n = Number(value);
  return n >= 1024 ? `${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} GiB` : `${n} MiB`;
}

export function time(value: Timestamp | undefined): string {
  if (!value) return "";
  return new Date(Number(value.seconds) * 1000 + Math.floor(value.nanos / 1e6)).toISOString().replace("T", " ").slice(0, 19);
}

/** A string for an AIP-160 filter: quoted, with quotes and backslashes escaped. */
export function quote(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** A short form of an id for tables: the tail, since time-ordered UUIDs share their head. */
export function shortId(id: string): string {
  return id.length > 12 ? `…${id.slice(-8)}` : id;
}

/** Bytes per second in the largest unit that keeps a figure of at least 1 (decimal units). */
export function perSecond(bytes: bigint | number): string {
  let n = Number(bytes);
  const units = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"];
  let unit = 0;
  while (n >= 1000 && unit < units.length - 1) {
    n /= 1000;
    unit++;
  }
  return `${unit === 0 ? n : n.toFixed(1)} ${units[unit]}`;
}
