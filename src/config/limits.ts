/**
 * The input limits, in one place. A real OVF environment is a few kilobytes with about twenty
 * properties; every limit here is far above what a working appliance needs and far below what
 * could slow the agent down or flood a terminal or the journal. docs/architecture.md lists them.
 */
import { BAND_SIZE } from '../appliance/network-scheme.js';
import { problem, type Problem } from '../problems.js';

/** The OVF environment document, in bytes (whatever its transport). */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;

/** `<Property>` elements in the document (the appliance declares 21). */
export const MAX_PROPERTIES = 256;

/** `<Adapter>` elements in the document (the appliance has 2 or 3 NICs). */
export const MAX_ADAPTERS = 16;

/**
 * Characters of any property value (the descriptor's MaxLen(65535) of the PEM properties; a list
 * of 1000 ranges is about 20,000). Each property's own rule is stricter where it has one.
 */
export const MAX_VALUE = 65535;

/**
 * Items of the list properties. Service ranges and additional workload networks get one policy
 * routing rule each, in a band of rule priorities that holds 1000 (src/appliance/network-scheme.ts).
 */
export const MAX_SERVICE_RANGES = BAND_SIZE;
export const MAX_ADDITIONAL_NETWORKS = BAND_SIZE;
export const MAX_NTP_SERVERS = 16;
export const MAX_NAMESERVERS = 3;
/**
 * `network.static_routes`: one [Route] section each (two when the gateway is on workload or
 * frontend: the NIC's table and the main table). Far above a site's few isolated networks.
 */
export const MAX_STATIC_ROUTES = 100;
/** Characters of one `CIDR via GATEWAY` entry (`255.255.255.255/32 via 255.255.255.255` is 38). */
export const MAX_STATIC_ROUTE_ENTRY = 64;
/** `network.search_domains`: glibc's classic resolver limit (MAXDNSRCH), which older clients still have. */
export const MAX_SEARCH_DOMAINS = 6;
/** Keys of appliance.ssh_authorized_keys (an RSA 4096 key line is about 740 characters). */
export const MAX_AUTHORIZED_KEYS = 64;

/** Problems reported for one property; the rest are counted in one more line. */
export const MAX_PROBLEMS_PER_PROPERTY = 10;

/** Unknown property keys named one by one; more are counted in one warning. */
export const MAX_UNKNOWN_NAMED = 5;

/**
 * At most MAX_PROBLEMS_PER_PROPERTY problems per property, in their order, and one more line
 * counting the rest: 8,000 overlapping ranges make 11 lines, not 8,000.
 */
export function capProblems(problems: Problem[]): Problem[] {
  const count = new Map<string, number>();
  const out: Problem[] = [];
  for (const p of problems) {
    const n = (count.get(p.at) ?? 0) + 1;
    count.set(p.at, n);
    if (n <= MAX_PROBLEMS_PER_PROPERTY) out.push(p);
  }
  for (const [at, n] of count) {
    if (n > MAX_PROBLEMS_PER_PROPERTY) out.push(problem(at, 'more-problems', `… and ${n - MAX_PROBLEMS_PER_PROPERTY} more problems like these`));
  }
  return out;
}

/** Characters of an input value echoed in a message. */
export const MAX_ECHO = 64;

/**
 * `value` quoted for a message (JSON string syntax, so controls show as escapes), cut to
 * MAX_ECHO characters with the full length said: a 50 MB host name echoes 64 characters, not 50 MB.
 */
export function quote(value: string, max = MAX_ECHO): string {
  if (value.length <= max) return JSON.stringify(value);
  let cut = value.slice(0, max);
  if (/[\uD800-\uDBFF]$/u.test(cut)) cut = cut.slice(0, -1); // never split a surrogate pair
  return `${JSON.stringify(cut)}… (${value.length} characters)`;
}

/** Like quote(), without the outer quotes (controls still escaped): for keys echoed inline. */
export function clip(value: string, max = MAX_ECHO): string {
  return quote(value, max).replace(/^"(.*)"(….*)?$/su, '$1$2');
}
