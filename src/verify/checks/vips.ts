/**
 * VIPs: the AnyIP route of each service range, where replies from a VIP leave, haproxy's binds
 * (inside a range, and listening), and what else listens on VIP addresses.
 */
import type { NetworkModel } from '../../plan/network.js';
import { NETWORK_PATHS as PATHS } from '../../appliance/paths.js';
import { nicsOf } from '../expected.js';
import { formatEndpoint, isWildcard, listensOn, owners } from '../parse/listeners.js';
import { cidrLookup, describeLookup, inCidr, lookupRoute, prefixLength } from '../routing.js';
import type { CheckResult, HaproxyBind, Listener, Status } from '../types.js';
import type { Check, CheckContext } from './check.js';
import {
  firstHost,
  ipUnknown,
  isLocal,
  listenerUnknown,
  localRoutes,
  managementAddress,
  noProcessNames,
  ownedBy,
  r,
  routeText,
  serviceActive,
  serviceRanges,
} from './helpers.js';

function checkAnyIp(input: CheckContext): CheckResult[] {
  const id = 'anyip';
  const observed = input.observed;
  const ranges = serviceRanges(input);
  if (!ranges.length) return [];
  if (!observed.routes) return [ipUnknown(id, observed)];
  return ranges.map((range) => {
    const exact = localRoutes(observed).find((x) => x.dst === range && (x.dev === 'lo' || !x.dev));
    if (exact) return r(id, 'pass', `local ${range} dev lo table local: the appliance answers for every address in ${range}`, undefined, range);
    const partial = localRoutes(observed).filter((x) => inCidr(x.dst.split('/')[0]!, range) && prefixLength(x.dst) > prefixLength(range));
    return r(
      id,
      'fail',
      `no AnyIP route for ${range} (local ${range} dev lo table local)${partial.length ? `; only ${partial.map(routeText).join(', ')}` : ''}: the appliance does not answer for these VIPs (haproxy's open sockets receive nothing, and it cannot bind new ones)`,
      `networkctl reload (${PATHS.anyip} holds the route); or now: ip route add local ${range} dev lo table local`,
      range,
    );
  });
}

/** An address outside every network the appliance knows, to ask where replies to a remote client go. */
function remoteClient(input: CheckContext): string {
  const cfg = input.expected!.config;
  const known = [
    ...nicsOf(cfg).flatMap((n) => (n.address ? [n.address.network] : [])),
    ...cfg.loadbalance.serviceIpRanges,
    ...cfg.network.additionalWorkloadNetworks,
  ];
  const candidates = ['198.51.100.10', '203.0.113.10', '192.0.2.10', '100.64.0.10', '8.8.8.8'];
  return candidates.find((c) => !known.some((k) => inCidr(c, k))) ?? candidates[0]!;
}

function checkReturnPath(input: CheckContext, model: NetworkModel): CheckResult[] {
  const id = 'vip.return-path';
  const observed = input.observed;
  const cfg = input.expected?.config;
  if (!cfg || !model.vips.length) return [];
  if (!observed.routes || !observed.rules) return [ipUnknown(id, observed)];
  const client = remoteClient(input);
  return model.vips.map((vip) => {
    const src = firstHost(vip.range);
    const nic = nicsOf(cfg).find((n) => n.role === vip.role);
    const l = lookupRoute(observed.routes!, observed.rules!, client, src);
    const ok = l.verdict === 'route' && l.route?.dev === vip.role && (!nic?.gateway || l.route.gateway === nic.gateway);
    const want = `via ${nic?.gateway ?? `the ${vip.role} gateway`} dev ${vip.role}`;
    if (ok) return r(id, 'pass', `replies from ${vip.range} to remote clients leave ${describeLookup(l)}`, undefined, vip.range);
    return r(
      id,
      'fail',
      `replies from ${src} (${vip.range}) to a remote client such as ${client} leave ${describeLookup(l)}, not ${want} (${vip.reason}): clients see answers from the wrong network, or none`,
      `the rule from ${vip.range} into table ${vip.table} or the table's default route is missing: rerun haproxy-appliance provision, then networkctl reload`,
      vip.range,
    );
  });
}

/**
 * The listeners by port and address, so that judging one bind looks at the listeners on its own
 * address and the wildcards on its port, not at every listener: with 10,000 binds and 10,000
 * listeners the scan was 10^8 comparisons (90 s). A bind's listener is only ever one on its exact
 * address or on a wildcard address (`listensOn`), so these candidates hold every match; `near`
 * returns them in the list's order, as a filter over the whole list would.
 */
export class ListenerIndex {
  private readonly exact = new Map<string, { l: Listener; i: number }[]>();
  private readonly wild = new Map<number, { l: Listener; i: number }[]>();
  constructor(private readonly all: readonly Listener[]) {
    all.forEach((l, i) => {
      const key = isWildcard(l) ? l.port : `${l.port} ${l.address}`;
      const map: Map<number | string, { l: Listener; i: number }[]> = isWildcard(l) ? this.wild : this.exact;
      const at = map.get(key);
      if (at) at.push({ l, i });
      else map.set(key, [{ l, i }]);
    });
  }

  /** The listeners on ports `port`–`portEnd` at `address` or a wildcard address that `match` accepts, in list order. */
  near(address: string, port: number, portEnd: number, match: (l: Listener) => boolean): Listener[] {
    // A wide port range: one pass over the list is cheaper than a lookup per port.
    if (portEnd - port > 1024) return this.all.filter((l) => l.port >= port && l.port <= portEnd && match(l));
    const found: { l: Listener; i: number }[] = [];
    for (let p = port; p <= portEnd; p++) {
      for (const e of this.exact.get(`${p} ${address}`) ?? []) if (match(e.l)) found.push(e);
      // A wildcard bind's own address is a wildcard: already among these.
      for (const e of this.wild.get(p) ?? []) if (match(e.l)) found.push(e);
    }
    return found.sort((a, b) => a.i - b.i).map((e) => e.l);
  }
}

function checkBinds(input: CheckContext): CheckResult[] {
  const id = 'vip.bind';
  const { observed } = input;
  const binds = observed.binds;
  if (!binds) {
    return [
      r(
        id,
        'fail',
        `cannot read ${observed.haproxyCfgPath}: ${(observed.sections['haproxy-cfg'] ?? observed.sections['haproxy-cfg-lines'])?.stderr || 'not collected'}`,
        'rerun haproxy-appliance provision (it writes haproxy.cfg)',
      ),
    ];
  }
  const ranges = serviceRanges(input);
  const rangesText = ranges.join(', ') || 'none known';
  const own = new Set((observed.interfaces ?? []).flatMap((i) => i.ipv4.map((a) => a.split('/')[0]!)));
  const haproxyUp = serviceActive(observed, 'haproxy');
  const haproxyProcs = (observed.processes ?? []).filter((p) => p.comm === 'haproxy');
  const started =
    haproxyProcs.length && observed.remoteTime !== undefined ? Math.min(...haproxyProcs.map((p) => observed.remoteTime! - (p.elapsed ?? 0))) : undefined;
  const results: CheckResult[] = [];
  const tcp = binds.filter((b) => b.address !== undefined && b.port !== undefined);
  const index = observed.listeners && new ListenerIndex(observed.listeners);
  const rangeOf = cidrLookup(ranges);
  if (tcp.length === 0) return [r(id, 'pass', `${observed.haproxyCfgPath} has no TCP bind yet (no virtual server was added)`)];
  for (const b of tcp) {
    if (b.disabled) {
      results.push(r(id, 'pass', `${b.text} (${b.section}) is disabled`, undefined, b.text));
      continue;
    }
    const address = b.address!;
    const port = b.port!;
    const ep = formatEndpoint(address, port);
    const where = `${b.section}, haproxy.cfg line ${b.line}`;
    const v6 = address.includes(':');
    const wildcard = address === '0.0.0.0' || address === '::';
    const loopback = address.startsWith('127.') || address === '::1';
    const range = rangeOf(address);
    let rangeProblem: { status: Status; text: string; remedy: string } | undefined;
    if (wildcard) {
      rangeProblem = {
        status: 'warn',
        text: `binds every address, the management address and every VIP included`,
        remedy: 'bind virtual servers to one VIP inside loadbalance.service_ip_range',
      };
    } else if (!loopback && !v6 && range === undefined) {
      rangeProblem = own.has(address)
        ? {
            status: 'warn',
            text: `${address} is the appliance's own address, not a VIP (service ranges: ${rangesText})`,
            remedy: 'virtual servers belong on a VIP inside loadbalance.service_ip_range',
          }
        : {
            status: 'fail',
            text: `${address} is outside the service ranges (${rangesText})`,
            remedy: `move the virtual server to a VIP inside ${rangesText}, or add its network to loadbalance.service_ip_range and rerun haproxy-appliance provision`,
          };
    }
    // Listening?
    let listenText: string;
    let listening: boolean | undefined;
    let listenRemedy: string | undefined;
    if (!observed.listeners) {
      listening = undefined;
      listenText = `cannot tell whether it listens (${observed.listenerProblem ?? 'no listener list'})`;
    } else {
      const hits = index!.near(address, port, b.portEnd ?? port, (l) => (wildcard ? l.address === address || isWildcard(l) : listensOn(l, address)));
      const mine = hits.filter((l) => ownedBy(input, l, 'haproxy') || (l.processes.length === 0 && noProcessNames(observed)));
      if (mine.length) {
        listening = true;
        listenText = 'haproxy listens';
      } else {
        listening = false;
        const other = hits[0];
        let cause: string;
        if (haproxyUp === false) {
          cause = 'haproxy is not running';
          listenRemedy = 'systemctl start haproxy; if it fails: journalctl -u haproxy -e';
        } else if (other) {
          cause = `${formatEndpoint(other.address, other.port)} is held by ${owners(other)}`;
          listenRemedy = `stop ${owners(other)} or move it off port ${port}, then systemctl reload haproxy`;
        } else if (!wildcard && !v6 && !isLocal(observed, address)) {
          cause = `no AnyIP route covers ${address} (service ranges: ${rangesText})`;
          listenRemedy =
            range !== undefined
              ? `the AnyIP route of its range is missing: networkctl reload (${PATHS.anyip}), then systemctl reload haproxy`
              : `use a VIP inside ${rangesText}; haproxy cannot bind an address the appliance does not own`;
        } else if (observed.haproxyCheck && 'ok' in observed.haproxyCheck && !observed.haproxyCheck.ok) {
          cause = 'haproxy.cfg does not pass haproxy -c, so haproxy kept its previous configuration';
          listenRemedy = 'fix haproxy.cfg (see haproxy.config), then systemctl reload haproxy';
        } else if (started !== undefined && observed.haproxyCfgMtime !== undefined && observed.haproxyCfgMtime > started) {
          cause = `haproxy.cfg changed after haproxy started (${new Date(observed.haproxyCfgMtime * 1000).toISOString()}), and haproxy has not loaded it`;
          listenRemedy = 'systemctl reload haproxy';
        } else {
          cause = 'haproxy runs but did not bind it';
          listenRemedy = 'journalctl -u haproxy -e; systemctl reload haproxy';
        }
        listenText = `nothing listens: ${cause}`;
      }
    }
    if (!rangeProblem && listening !== false) {
      const inside = loopback ? 'loopback only' : v6 ? 'IPv6' : `inside ${range ?? 'a service range'}`;
      results.push(
        r(
          id,
          listening === undefined ? 'warn' : 'pass',
          `${ep} (${where}): ${inside}; ${listenText}`,
          listening === undefined ? 'install iproute2 (ss) on the appliance' : undefined,
          ep,
        ),
      );
      continue;
    }
    const status: Status = listening === false || rangeProblem?.status === 'fail' ? 'fail' : 'warn';
    const parts = [listening === false ? listenText : undefined, rangeProblem?.text, listening === true ? 'haproxy listens on it' : undefined];
    results.push(
      r(
        id,
        status,
        `VIP ${ep} is in haproxy.cfg but ${parts.filter(Boolean).join('; ')} (${where})`,
        rangeProblem?.status === 'fail' && haproxyUp !== false ? rangeProblem.remedy : [listenRemedy, rangeProblem?.remedy].filter(Boolean).join('; '),
        ep,
      ),
    );
  }
  return results;
}

function checkExposure(input: CheckContext): CheckResult[] {
  const id = 'vip.exposed';
  const { observed } = input;
  const ranges = serviceRanges(input);
  if (!ranges.length) return [];
  if (!observed.listeners) return [listenerUnknown(id, observed)];
  const binds = (observed.binds ?? []).filter((b) => b.address !== undefined && !b.disabled);
  // The binds by address: one lookup per listener, not a scan of every bind (10,000 of each).
  const bindsAt = new Map<string, HaproxyBind[]>();
  for (const b of binds) {
    const at = bindsAt.get(b.address!);
    if (at) at.push(b);
    else bindsAt.set(b.address!, [b]);
  }
  const rangeOf = cidrLookup(ranges);
  const declared = (l: Listener) => (bindsAt.get(l.address) ?? []).some((b) => b.port !== undefined && l.port >= b.port && l.port <= (b.portEnd ?? b.port));
  const out: CheckResult[] = [];
  for (const l of observed.listeners) {
    const ep = formatEndpoint(l.address, l.port);
    if (l.device === 'lo') continue;
    if (!isWildcard(l) && l.family === 4 && rangeOf(l.address) !== undefined) {
      if (ownedBy(input, l, 'haproxy') && declared(l)) continue;
      const why = ownedBy(input, l, 'haproxy')
        ? 'haproxy listens there but no bind of haproxy.cfg says so (a stale listener of an old configuration)'
        : `${owners(l)} listens on a VIP`;
      out.push(
        r(
          id,
          'fail',
          `${ep}: ${why}`,
          ownedBy(input, l, 'haproxy') ? 'systemctl reload haproxy' : `only haproxy may listen on VIPs: stop ${owners(l)} or bind it to the management address`,
          ep,
        ),
      );
    } else if (isWildcard(l) && l.dualStack !== false) {
      if (ownedBy(input, l, 'haproxy') && declared(l)) continue; // reported by vip.bind
      out.push(
        r(
          id,
          'warn',
          `${owners(l)} listens on every address (${ep}); with AnyIP that includes every VIP in ${ranges.join(', ')}`,
          ownedBy(input, l, 'sshd')
            ? `set ListenAddress ${managementAddress(input) ?? '<management ip>'} in /etc/ssh/sshd_config`
            : `bind ${owners(l)} to the management address`,
          ep,
        ),
      );
    }
  }
  if (out.length === 0) return [r(id, 'pass', `nothing but haproxy's binds listens on ${ranges.join(', ')}`)];
  return out;
}

export const VIP_CHECKS: readonly Check[] = [
  {
    id: 'anyip',
    family: 'vips',
    subject: 'range',
    doc: '`local <range> dev lo table local` for each service range',
    problems: 'fail: missing (the appliance no longer answers for those VIPs)',
    run: (input) => checkAnyIp(input),
  },
  {
    id: 'vip.return-path',
    family: 'vips',
    subject: 'range',
    doc: "replies from the range to a remote client leave by the NIC of the range's network (placement from the model), via its gateway",
    problems: 'fail: "replies from 192.168.0.1 … leave via 10.191.191.254 dev management (table main, rule 32766), not via 192.168.1.1 dev workload"',
    run: (input) => (input.model ? checkReturnPath(input, input.model) : []),
  },
  {
    id: 'vip.bind',
    family: 'vips',
    subject: '`addr:port`',
    doc: 'every `bind` of a frontend/listen section of haproxy.cfg is inside a service range and haproxy listens on it (the binds of a `disabled` section pass)',
    problems:
      'fail: "VIP 192.168.0.3:6443 is in haproxy.cfg but nothing listens: no AnyIP route covers 192.168.0.3 (service ranges: 192.168.0.0/24)"; causes told apart: haproxy not running, no AnyIP route, port held by another process, haproxy.cfg fails `haproxy -c`, haproxy.cfg changed after haproxy started (not reloaded); outside every range → fail; the appliance\'s own address or a wildcard bind → warn',
    run: (input) => checkBinds(input),
  },
  {
    id: 'vip.exposed',
    family: 'vips',
    subject: '`addr:port`',
    doc: "nothing but haproxy's configured binds listens on VIP addresses",
    problems:
      'fail: another process (or a stale haproxy socket) on a VIP; warn: a wildcard listener (`0.0.0.0`, dual-stack `::`), which with AnyIP answers on every VIP too',
    run: (input) => checkExposure(input),
  },
];
