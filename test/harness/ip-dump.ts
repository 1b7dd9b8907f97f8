/** The kernel state of a namespace as `ip -j` gives it, and formatting like `ip route` / `ip rule` print it. */

export interface IpRoute {
  type?: string; // absent for unicast
  dst: string; // "default" or "a.b.c.d[/n]"
  gateway?: string;
  dev?: string;
  table?: string; // absent for the main table
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  flags?: string[];
  [k: string]: unknown;
}

export interface IpRule {
  priority: number;
  src?: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  iif?: string;
  oif?: string;
  table?: string;
  action?: string;
  suppress_prefixlen?: number;
  protocol?: string;
  [k: string]: unknown;
}

export interface IpAddrInfo {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope?: string;
  label?: string;
  [k: string]: unknown;
}

export interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  operstate?: string;
  link_type?: string;
  address?: string;
  addr_info?: IpAddrInfo[];
  linkinfo?: { info_kind?: string };
  [k: string]: unknown;
}

/** Kernel state of a namespace, as returned by {@link TestBed.dump}. */
export interface NetDump {
  /** `ip -j -4 route show table all` */
  routes: IpRoute[];
  /** `ip -j -4 rule` */
  rules: IpRule[];
  /** `ip -j addr` */
  addrs: IpLink[];
}

/**
 * Formats one route like `ip route` prints it, e.g.
 * `10.191.176.0/20 dev management scope link src 10.191.181.52`.
 * `proto` is left out unless `withProto`; `table` is printed for every table but main
 * (as `ip route show table all` does).
 */
export function routeLine(r: IpRoute, opts: { withProto?: boolean } = {}): string {
  const parts: string[] = [];
  if (r.type && r.type !== 'unicast') parts.push(r.type);
  parts.push(r.dst);
  if (r.gateway) parts.push('via', r.gateway);
  if (r.dev) parts.push('dev', r.dev);
  if (r.table && r.table !== 'main') parts.push('table', r.table);
  if (opts.withProto && r.protocol) parts.push('proto', r.protocol);
  if (r.scope && r.scope !== 'global') parts.push('scope', r.scope);
  if (r.prefsrc) parts.push('src', r.prefsrc);
  if (r.metric !== undefined && r.metric !== 0) parts.push('metric', String(r.metric));
  return parts.join(' ');
}

/** Formats one rule like `ip rule` prints it, e.g. `100: from 192.168.1.2 lookup 2`. */
export function ruleLine(r: IpRule): string {
  const parts: string[] = [`${r.priority}:`];
  const pfx = (a: string, len: number | undefined) => (len !== undefined && len !== 32 ? `${a}/${len}` : a);
  parts.push('from', r.src === undefined ? 'all' : pfx(r.src, r.srclen));
  if (r.dst !== undefined) parts.push('to', pfx(r.dst, r.dstlen));
  if (r.iif) parts.push('iif', r.iif);
  if (r.oif) parts.push('oif', r.oif);
  if (r.table) parts.push('lookup', r.table);
  else if (r.action) parts.push(r.action);
  return parts.join(' ');
}

/** Routes of one table, formatted with {@link routeLine}. `table` is "main", "local" or a number. */
export function tableLines(dump: NetDump, table: string, opts: { withProto?: boolean } = {}): string[] {
  return dump.routes.filter((r) => (r.table ?? 'main') === table).map((r) => routeLine(r, opts));
}
