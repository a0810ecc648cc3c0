// IP address ranges in CIDR notation (IPv4 and IPv6), for a cluster's pod and service networks.
// Strict: the address must be the network's first one (no host bits set), as kube-apiserver and
// kube-controller-manager want it.

export interface Cidr {
  readonly family: 4 | 6;
  /** The network address as an integer of 32 or 128 bits. */
  readonly network: bigint;
  readonly prefixLength: number;
}

/** Parses "10.244.0.0/16" or "fd00:10:244::/56"; undefined when it is not a strict CIDR. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0 || text.indexOf("/", slash + 1) >= 0) return undefined;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
  const prefixLength = Number(prefixText);
  const family = address.includes(":") ? 6 : 4;
  const value = family === 4 ? parseIpv4(address) : parseIpv6(address);
  const bits = family === 4 ? 32 : 128;
  if (value === undefined || prefixLength > bits) return undefined;
  if ((value & hostMask(bits, prefixLength)) !== 0n) return undefined;
  return { family, network: value, prefixLength };
}

/** Whether two ranges share an address (ranges of different families never do). */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  // Two aligned ranges overlap exactly when the shorter prefix contains the other's network.
  const shorter = Math.min(a.prefixLength, b.prefixLength);
  const bits = a.family === 4 ? 32 : 128;
  const mask = ~hostMask(bits, shorter) & allOnes(bits);
  return (a.network & mask) === (b.network & mask);
}

/** How many addresses a range holds. */
export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt((cidr.family === 4 ? 32 : 128) - cidr.prefixLength);
}

export function formatCidr(cidr: Cidr): string {
  return `${cidr.family === 4 ? formatIpv4(cidr.network) : formatIpv6(cidr.network)}/${cidr.prefixLength}`;
}

function allOnes(bits: number): bigint {
  return (1n << BigInt(bits)) - 1n;
}

function hostMask(bits: number, prefixLength: number): bigint {
  return allOnes(bits - prefixLength);
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

/** Hex groups with at most one "::"; embedded IPv4 and zone ids are not accepted (nobody writes a
 * cluster range that way). */
function parseIpv6(text: string): bigint | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): string[] => (half === "" ? [] : half.split(":"));
  const head = groupsOf(halves[0] ?? "");
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? "") : [];
  const given = head.length + tail.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return undefined;
  const groups = [...head, ...Array<string>(8 - given).fill("0"), ...tail];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(Number.parseInt(group, 16));
  }
  return value;
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join(".");
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
function formatIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(16 * (7 - i))) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
