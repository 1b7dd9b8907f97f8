/**
 * Addresses, routes and rules from iproute2: `ip -j …` (JSON, preferred) or the text of `ip r`,
 * `ip rule` and `ip addr` (older iproute2 without -j, and the seed's `ip r`). Pure.
 * Only IPv4 is kept: the appliance's scheme is IPv4.
 */
import type { Interface, Route, Rule } from '../types.js';

const ROUTE_TYPES = new Set(['unicast', 'local', 'broadcast', 'multicast', 'throw', 'unreachable', 'prohibit', 'blackhole', 'nat', 'anycast']);

function withPrefix(dst: string): string {
  if (dst === 'default' || dst.includes('/')) return dst;
  return `${dst}/32`;
}

/** Parses `ip -4 route show table all` as JSON or text. Throws on JSON that is not a route list. */
export function parseRoutes(text: string): Route[] {
  const t = text.trim();
  if (t.startsWith('[')) return parseRoutesJson(t);
  return t
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .flatMap((l) => {
      const r = parseRouteLine(l);
      return r ? [r] : [];
    });
}

function parseRoutesJson(text: string): Route[] {
  const data = JSON.parse(text) as unknown;
  if (!Array.isArray(data)) throw new Error('ip -j route: not a JSON array');
  return data.flatMap((raw): Route[] => {
    const r = raw as Record<string, unknown>;
    if (typeof r.dst !== 'string') return [];
    if (r.dst.includes(':')) return [];
    return [
      {
        type: typeof r.type === 'string' ? r.type : 'unicast',
        dst: withPrefix(r.dst),
        table: typeof r.table === 'string' ? r.table : 'main',
        ...(typeof r.gateway === 'string' && { gateway: r.gateway }),
        ...(typeof r.dev === 'string' && { dev: r.dev }),
        ...(typeof r.protocol === 'string' && { protocol: r.protocol }),
        ...(typeof r.scope === 'string' && { scope: r.scope }),
        ...(typeof r.prefsrc === 'string' && { prefsrc: r.prefsrc }),
        ...(typeof r.metric === 'number' && { metric: r.metric }),
      },
    ];
  });
}

/** One line of `ip route` text, e.g. `default via 10.191.191.254 dev management proto static`. */
export function parseRouteLine(line: string): Route | undefined {
  const w = line.split(/\s+/u);
  let i = 0;
  let type = 'unicast';
  if (ROUTE_TYPES.has(w[0]!)) {
    type = w[0]!;
    i = 1;
  }
  const dst = w[i];
  if (!dst || (dst !== 'default' && !/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/u.test(dst))) return undefined;
  const r: Route = { type, dst: withPrefix(dst), table: 'main' };
  for (i += 1; i < w.length; i++) {
    const k = w[i]!;
    const v = w[i + 1];
    switch (k) {
      case 'via':
        if (v) r.gateway = v.replace(/^inet /u, '');
        i++;
        break;
      case 'dev':
        if (v) r.dev = v;
        i++;
        break;
      case 'table':
        if (v) r.table = v;
        i++;
        break;
      case 'proto':
        if (v) r.protocol = v;
        i++;
        break;
      case 'scope':
        if (v) r.scope = v;
        i++;
        break;
      case 'src':
        if (v) r.prefsrc = v;
        i++;
        break;
      case 'metric':
        if (v) r.metric = Number(v);
        i++;
        break;
      default:
        break;
    }
  }
  // `ip r` (no table argument) lists main only and prints no table; `table all` prints it.
  return r;
}

function prefixed(addr: unknown, len: unknown): string {
  if (typeof addr !== 'string' || addr === 'all') return 'all';
  if (addr.includes('/')) return addr;
  return `${addr}/${typeof len === 'number' ? len : 32}`;
}

/** Parses `ip -4 rule` as JSON or text. */
export function parseRules(text: string): Rule[] {
  const t = text.trim();
  if (t.startsWith('[')) {
    const data = JSON.parse(t) as unknown;
    if (!Array.isArray(data)) throw new Error('ip -j rule: not a JSON array');
    return data.map((raw) => {
      const r = raw as Record<string, unknown>;
      const table = typeof r.table === 'string' ? r.table : undefined;
      const action = table !== undefined ? 'lookup' : typeof r.action === 'string' ? r.action : r.goto !== undefined ? 'goto' : 'nop';
      return {
        priority: Number(r.priority),
        from: prefixed(r.src, r.srclen),
        to: prefixed(r.dst, r.dstlen),
        action,
        ...(table !== undefined && { table }),
        ...(typeof r.suppress_prefixlen === 'number' && { suppressPrefixLength: r.suppress_prefixlen }),
        ...(typeof r.iif === 'string' && { iif: r.iif }),
        ...(typeof r.oif === 'string' && { oif: r.oif }),
        ...(typeof r.fwmark === 'string' && { fwmark: r.fwmark }),
        ...('not' in r && { not: true }),
      };
    });
  }
  return t
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .flatMap((l): Rule[] => {
      const m = /^(\d+):\s+(.*)$/u.exec(l);
      if (!m) return [];
      const w = m[2]!.split(/\s+/u);
      const r: Rule = { priority: Number(m[1]), from: 'all', to: 'all', action: 'nop' };
      for (let i = 0; i < w.length; i++) {
        const k = w[i]!;
        const v = w[i + 1];
        switch (k) {
          case 'not':
            r.not = true;
            break;
          case 'from':
            r.from = v === 'all' || !v ? 'all' : withPrefix(v);
            i++;
            break;
          case 'to':
            r.to = v === 'all' || !v ? 'all' : withPrefix(v);
            i++;
            break;
          case 'lookup':
          case 'table':
            r.action = 'lookup';
            if (v) r.table = v;
            i++;
            break;
          case 'suppress_prefixlength':
            r.suppressPrefixLength = Number(v);
            i++;
            break;
          case 'iif':
            if (v) r.iif = v;
            i++;
            break;
          case 'oif':
            if (v) r.oif = v;
            i++;
            break;
          case 'fwmark':
            if (v) r.fwmark = v;
            i++;
            break;
          case 'goto':
            r.action = 'goto';
            i++;
            break;
          case 'blackhole':
          case 'unreachable':
          case 'prohibit':
            r.action = k;
            break;
          default:
            break;
        }
      }
      return [r];
    });
}

/** Parses `ip -j addr` or the text of `ip addr`. */
export function parseAddrs(text: string): Interface[] {
  const t = text.trim();
  if (t.startsWith('[')) {
    const data = JSON.parse(t) as unknown;
    if (!Array.isArray(data)) throw new Error('ip -j addr: not a JSON array');
    return data.flatMap((raw): Interface[] => {
      const l = raw as Record<string, unknown>;
      if (typeof l.ifname !== 'string') return [];
      const flags = Array.isArray(l.flags) ? (l.flags as string[]) : [];
      const info = Array.isArray(l.addr_info) ? (l.addr_info as Record<string, unknown>[]) : [];
      return [
        {
          name: l.ifname,
          up: flags.includes('UP'),
          ...(typeof l.operstate === 'string' && { operstate: l.operstate }),
          ...(typeof l.address === 'string' && { mac: l.address }),
          ipv4: info.filter((a) => a.family === 'inet' && typeof a.local === 'string').map((a) => `${a.local as string}/${Number(a.prefixlen)}`),
        },
      ];
    });
  }
  const out: Interface[] = [];
  let cur: Interface | undefined;
  for (const line of t.split('\n')) {
    const head = /^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>(.*)$/u.exec(line);
    if (head) {
      const flags = head[2]!.split(',');
      const state = /\bstate (\S+)/u.exec(head[3]!);
      cur = { name: head[1]!, up: flags.includes('UP'), ...(state && { operstate: state[1]! }), ipv4: [] };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const mac = /^\s+link\/\S+ ([0-9a-f:]{17})/u.exec(line);
    if (mac) cur.mac = mac[1]!;
    const inet = /^\s+inet (\d+\.\d+\.\d+\.\d+\/\d+)/u.exec(line);
    if (inet) cur.ipv4.push(inet[1]!);
  }
  return out;
}

/** `200 workload` lines (rt_tables and rt_tables.d) → name → number; comments and junk skipped. */
export function parseRtTables(text: string): Map<string, string> {
  const names = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+([A-Za-z0-9_.-]+)\s*(?:#.*)?$/u.exec(line);
    if (m && !names.has(m[2]!)) names.set(m[2]!, m[1]!);
  }
  return names;
}

/** The kernel's own tables keep their names (main, local, default); others become numbers. */
const BUILTIN_TABLES = new Set(['main', 'local', 'default', 'unspec']);

/** A table as the checks compare it: `200` whether ip printed `200` or a name from rt_tables. */
export function tableNumber(table: string, names: Map<string, string>): string {
  return BUILTIN_TABLES.has(table) ? table : (names.get(table) ?? table);
}
