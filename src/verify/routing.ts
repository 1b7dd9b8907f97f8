/**
 * A small model of the kernel's IPv4 policy routing, to say where a packet would go from the
 * collected rules and routes: rules by priority (from/to/not/suppress_prefixlength), then the
 * longest-prefix route of the table. Rules that match on iif/oif/fwmark are left out (the
 * appliance's scheme uses none). Pure.
 */
import ipaddr from 'ipaddr.js';
import type { Route, Rule } from './types.js';

function parse(cidr: string): [ipaddr.IPv4, number] | undefined {
  if (cidr === 'default' || cidr === 'all') return [ipaddr.IPv4.parse('0.0.0.0'), 0];
  try {
    const [a, p] = ipaddr.IPv4.parseCIDR(cidr.includes('/') ? cidr : `${cidr}/32`);
    return [a, p];
  } catch {
    return undefined;
  }
}

/** Whether IPv4 `address` lies in `cidr` (`all`/`default` hold everything). */
export function inCidr(address: string, cidr: string): boolean {
  const c = parse(cidr);
  if (!c || !ipaddr.IPv4.isValidFourPartDecimal(address)) return false;
  return ipaddr.IPv4.parse(address).match(c[0], c[1]);
}

/**
 * A four-part decimal IPv4 address (no leading zeros, each part up to 255: what
 * `ipaddr.IPv4.isValidFourPartDecimal` accepts) as an unsigned 32-bit number; undefined for
 * anything else. A loop over the characters: it runs once per bind and listener.
 */
function ipv4Number(address: string): number | undefined {
  let n = 0;
  let part = -1;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return undefined;
      n = n * 256 + part;
      part = -1;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return undefined; // a leading zero
      part = digits === 0 ? c - 48 : part * 10 + c - 48;
      if (part > 255) return undefined;
      digits++;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return n * 256 + part;
}

/**
 * For many addresses against the same networks (10,000 binds against the service ranges): each
 * network parsed once, each lookup integer arithmetic. Returns the first of `cidrs` that holds
 * the address, as `cidrs.find((c) => inCidr(address, c))` does.
 */
export function cidrLookup(cidrs: readonly string[]): (address: string) => string | undefined {
  const nets = cidrs.flatMap((cidr) => {
    const c = parse(cidr);
    if (!c) return [];
    const bits = c[1];
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return [{ cidr, mask, net: (ipv4Number(c[0].toString())! & mask) >>> 0 }];
  });
  return (address) => {
    const n = ipv4Number(address);
    if (n === undefined) return undefined;
    return nets.find((x) => (n & x.mask) >>> 0 === x.net)?.cidr;
  };
}

export function prefixLength(cidr: string): number {
  return parse(cidr)?.[1] ?? 32;
}

export interface Lookup {
  /** The rule that decided, undefined when no rule matched. */
  rule?: Rule;
  route?: Route;
  /** `blackhole`, `unreachable`, `prohibit` from a rule or a route, or `no route`. */
  verdict: 'route' | 'no route' | 'blackhole' | 'unreachable' | 'prohibit';
}

/** The route a packet to `dst` (from `src`, when given) takes. */
export function lookupRoute(routes: Route[], rules: Rule[], dst: string, src?: string): Lookup {
  const sorted = [...rules].sort((a, b) => a.priority - b.priority);
  for (const rule of sorted) {
    if (rule.iif || rule.oif || rule.fwmark) continue;
    const fromOk = rule.from === 'all' || (src !== undefined && inCidr(src, rule.from));
    const toOk = rule.to === 'all' || inCidr(dst, rule.to);
    let match = fromOk && toOk;
    if (rule.not) match = !match;
    if (!match) continue;
    if (rule.action === 'blackhole' || rule.action === 'unreachable' || rule.action === 'prohibit') return { rule, verdict: rule.action };
    if (rule.action !== 'lookup' || rule.table === undefined) continue;
    const candidates = routes.filter(
      (r) => r.table === rule.table && (r.dst === 'default' || inCidr(dst, r.dst)) && r.type !== 'broadcast' && r.type !== 'multicast',
    );
    if (candidates.length === 0) continue;
    candidates.sort((a, b) => prefixLength(b.dst) - prefixLength(a.dst) || (a.metric ?? 0) - (b.metric ?? 0));
    const best = candidates[0]!;
    if (rule.suppressPrefixLength !== undefined && prefixLength(best.dst) <= rule.suppressPrefixLength) continue;
    if (best.type === 'throw') continue;
    if (best.type === 'blackhole' || best.type === 'unreachable' || best.type === 'prohibit') return { rule, route: best, verdict: best.type };
    return { rule, route: best, verdict: 'route' };
  }
  return { verdict: 'no route' };
}

/** `via 192.168.1.1 dev workload (table 200, rule 1000)` */
export function describeLookup(l: Lookup): string {
  if (l.verdict === 'no route') return 'no route';
  if (l.verdict !== 'route') return `${l.verdict}${l.rule ? ` (rule ${l.rule.priority})` : ''}`;
  const r = l.route!;
  const how = r.type === 'local' ? 'delivered locally' : `${r.gateway ? `via ${r.gateway} ` : ''}dev ${r.dev ?? '?'}`;
  return `${how} (table ${r.table}${l.rule ? `, rule ${l.rule.priority}` : ''})`;
}
