/**
 * IPv4 arithmetic for validation and planning, on top of ipaddr.js (parsing, CIDR matching,
 * network and broadcast addresses). Pure functions.
 */
import ipaddr from 'ipaddr.js';
import { quote } from './limits.js';
import type { ProblemCode } from '../problems.js';

export interface Cidr {
  /** The address as written, e.g. `10.191.181.52`. */
  address: string;
  prefix: number;
  /** The network address, e.g. `10.191.176.0`. */
  networkAddress: string;
  broadcastAddress: string;
  /** `networkAddress/prefix`. */
  network: string;
}

/** True for a strict dotted-quad IPv4 address (no leading zeros, no shorthand). */
export function isIPv4(value: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(value);
}

/** True for an IPv4 or IPv6 address. */
export function isIP(value: string): boolean {
  return isIPv4(value) || (value.includes(':') && ipaddr.IPv6.isValid(value));
}

/**
 * Parses `a.b.c.d/n`. Returns a reason string instead when the text is not that form, so the
 * caller can put it in a message.
 */
export function parseCidr(value: string): Cidr | string {
  const c = readCidr(value);
  return 'reason' in c ? c.reason : c;
}

/** Like parseCidr, with the problem code of the reason (for validation). */
export function readCidr(value: string): Cidr | { code: ProblemCode; reason: string } {
  const m = /^([^/]+)\/(\d{1,2})$/u.exec(value);
  if (!m) return { code: 'not-cidr', reason: `${quote(value)} is not an IPv4 address with a prefix length (like 10.191.181.52/20)` };
  const [, address, prefixText] = m as unknown as [string, string, string];
  if (!isIPv4(address)) return { code: 'not-ipv4', reason: `${quote(address)} is not an IPv4 address` };
  const prefix = Number(prefixText);
  if (prefix > 32) return { code: 'prefix-too-long', reason: `prefix length /${prefix} is larger than 32` };
  const text = `${address}/${prefix}`;
  const networkAddress = ipaddr.IPv4.networkAddressFromCIDR(text).toString();
  return {
    address,
    prefix,
    networkAddress,
    broadcastAddress: ipaddr.IPv4.broadcastAddressFromCIDR(text).toString(),
    network: `${networkAddress}/${prefix}`,
  };
}

/** Whether IPv4 `address` lies inside `cidr` (any `a.b.c.d/n`). */
export function contains(cidr: Cidr, address: string): boolean {
  if (!isIPv4(address)) return false;
  return ipaddr.IPv4.parse(address).match(ipaddr.IPv4.parse(cidr.networkAddress), cidr.prefix);
}

/** Whether two networks share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b.networkAddress) || contains(b, a.networkAddress);
}

/** ipaddr.js's range name for an address: `private`, `unicast`, `loopback`, `multicast`, … */
export function rangeOf(address: string): string {
  return ipaddr.IPv4.parse(address).range();
}

/** An IPv4 address as an unsigned 32-bit number. */
export function toUint(address: string): number {
  const [a, b, c, d] = ipaddr.IPv4.parse(address).octets as [number, number, number, number];
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

/** The first and last address of a network, as numbers. */
export function span(c: Cidr): { start: number; end: number } {
  const start = toUint(c.networkAddress);
  return { start, end: start + 2 ** (32 - c.prefix) - 1 };
}

/**
 * Every overlap between networks, found in O(n log n): CIDR networks either nest or are apart, so
 * after sorting by first address (the larger network first when two start together) the networks
 * that hold the current one form a stack (each holds the one above it; at most 33 deep per list,
 * one per prefix length, since a list holds no network twice). `items` carries any tag;
 * `report(inner, outer)` is called once for every overlapping pair that `accept` allows, the
 * held network first: O(n log n) for the sort, O(n × depth) for the sweep.
 */
export function overlapsSorted<T extends { cidr: Cidr }>(
  items: readonly T[],
  report: (inner: T, outer: T) => void,
  accept: (inner: T, outer: T) => boolean = () => true,
): void {
  const sorted = items.map((item) => ({ item, ...span(item.cidr) })).sort((x, y) => x.start - y.start || y.end - x.end);
  const stack: typeof sorted = [];
  for (const cur of sorted) {
    while (stack.length && stack.at(-1)!.end < cur.start) stack.pop();
    for (let k = stack.length - 1; k >= 0; k--) if (accept(cur.item, stack[k]!.item)) report(cur.item, stack[k]!.item);
    stack.push(cur);
  }
}
