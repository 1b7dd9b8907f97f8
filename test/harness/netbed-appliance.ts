/**
 * Shared pieces of the network integration tests (test/integration/network/): run the REAL
 * CLI (`dist/bin.js provision --root`) to get the appliance's units, build the appliance's
 * surroundings out of network namespaces with the test bed of test/harness/netns.ts, run a
 * real DHCP server (dnsmasq) in a namespace, and read the resulting kernel state in a
 * form that is easy to compare.
 *
 * Topology (every namespace belongs to one bed; nothing touches the host; the appliance's NICs
 * carry the seed's MACs and start with kernel names eth0, eth1, ...):
 *
 *   wclient 10.99.0.2/24 ─ [10.99.0.1 wrouter 192.168.1.1/16] ─── workload   ┐
 *   backend 10.50.0.10/16 ─ [10.50.0.1 wrouter]  (optional)                   │
 *   fclient 10.98.0.2/24 ─ [10.98.0.1 frouter 172.16.10.1/24] ── frontend    ├─ appliance
 *                          [mgw 10.191.191.254/20] ──────────── management   ┘
 *
 * The routers forward and use strict reverse-path filtering (rp_filter=1); they do not route
 * between each other, and the management gateway neither forwards nor knows any client
 * subnet. A reply that leaves the appliance by the wrong NIC is therefore dropped, and a
 * connection whose reply takes the wrong NIC fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, type Run } from './cli.js';
import { running, sleep, terminate } from './process.js';
import { isFileEntry, walkTree } from './tree.js';
import { ovfEnv, SEED_MACS, type Adapter } from './ovf.js';
import { routeLine, ruleLine, type IpRule, type NetDump, type NetworkdSnapshot, type TestBed } from './netns.js';
import { addApplianceNics, SEED_NICS, type Role } from './seed-topology.js';

export type { Role } from './seed-topology.js';
export { SEED_MAIN_TABLE } from './seed-topology.js';
export const ADAPTERS_3: Adapter[] = [{ mac: SEED_MACS.management }, { mac: SEED_MACS.workload }, { mac: SEED_MACS.frontend }];
export const ADAPTERS_2: Adapter[] = ADAPTERS_3.slice(0, 2);
export const NO_FRONTEND = { 'network.frontend_ip': '', 'network.frontend_gateway': '' };

export const CLIENT = { workload: '10.99.0.2', frontend: '10.98.0.2' } as const;
export const BACKEND = '10.50.0.10';

// ---------------------------------------------------------------------------------------------
// The real CLI
// ---------------------------------------------------------------------------------------------

/** A sandbox root written by the real CLI. */
export class ProvisionedRoot {
  readonly dir: string;
  readonly root: string;
  readonly envFile: string;
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'hpa-netbed-'));
    this.root = join(this.dir, 'root');
    this.envFile = join(this.dir, 'ovf-env.xml');
    mkdirSync(this.root, { recursive: true });
  }
  /** Directory of the networkd units the CLI wrote. */
  get unitDir(): string {
    return join(this.root, 'etc/systemd/network');
  }
  /** Writes the OVF environment (an existing file's path, or properties + adapters). */
  setEnv(env: string | { properties: Record<string, string>; adapters: Adapter[] }): void {
    writeFileSync(this.envFile, typeof env === 'string' ? readFileSync(env, 'utf8') : ovfEnv(env.properties, env.adapters));
  }
  /** `node dist/bin.js provision --root ROOT --ovf-env ENV [...extra]`; throws unless exit 0. */
  provision(extra: string[] = []): Run {
    const r = cli(['provision', '--root', this.root, '--ovf-env', this.envFile, ...extra]);
    if (r.code !== 0) throw new Error(`provision exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  }
  /** Every file under the root: content, mode, mtime and inode (a rewrite changes the latter). */
  snapshot(): Map<string, { content: string; mode: number; mtimeMs: number; ino: number }> {
    const out = new Map<string, { content: string; mode: number; mtimeMs: number; ino: number }>();
    for (const e of walkTree(this.root).filter(isFileEntry)) {
      const st = statSync(e.path);
      out.set(e.rel, { content: readFileSync(e.path, 'utf8'), mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, ino: st.ino });
    }
    return out;
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Topology
// ---------------------------------------------------------------------------------------------

export interface TopologyOptions {
  /** NICs of the appliance, in the order they are created (eth0, eth1, ... get this order). */
  nics: Role[];
  /** Extra routes on the workload router / frontend router, e.g. '10.200.0.0/24 via 172.16.10.2'. */
  wrouterRoutes?: string[];
  frouterRoutes?: string[];
  /** A backend host 10.50.0.10/16 behind the workload router (for additional workload networks). */
  backend?: boolean;
}

/**
 * Builds the appliance namespace (NICs with the seed's MACs, kernel names eth0.., down) and
 * its surroundings. Returns the kernel name each NIC got; renaming them (bed.applyLinkFiles,
 * udev's job) and running networkd is left to the caller.
 */
export async function buildTopology(bed: TestBed, opts: TopologyOptions): Promise<Record<Role, string | undefined>> {
  await bed.addNamespace('appliance');
  const kernelNames: Record<Role, string | undefined> = { management: undefined, workload: undefined, frontend: undefined };
  const routers: Array<{ ns: string; dev: string; cidr: string; cl: string; clCidr: string; client: string; clientCidr: string; routes: string[] }> = [];
  if (opts.nics.includes('management')) await bed.addNamespace('mgw');
  if (opts.nics.includes('workload')) {
    await bed.addNamespace('wrouter');
    await bed.addNamespace('wclient');
    routers.push({
      ns: 'wrouter',
      dev: 'wr-wl',
      cidr: SEED_NICS.workload.gwCidr,
      cl: 'wr-cl',
      clCidr: '10.99.0.1/24',
      client: 'wclient',
      clientCidr: `${CLIENT.workload}/24`,
      routes: opts.wrouterRoutes ?? [],
    });
  }
  if (opts.nics.includes('frontend')) {
    await bed.addNamespace('frouter');
    await bed.addNamespace('fclient');
    routers.push({
      ns: 'frouter',
      dev: 'fr-fe',
      cidr: SEED_NICS.frontend.gwCidr,
      cl: 'fr-cl',
      clCidr: '10.98.0.1/24',
      client: 'fclient',
      clientCidr: `${CLIENT.frontend}/24`,
      routes: opts.frouterRoutes ?? [],
    });
  }
  // Strict reverse-path filtering and forwarding on the routers, before any link exists
  // (new links take net.ipv4.conf.default.*; the effective value is max(all, link)).
  for (const r of routers) {
    await bed.sysctl(r.ns, 'net.ipv4.conf.all.rp_filter', '1');
    await bed.sysctl(r.ns, 'net.ipv4.conf.default.rp_filter', '1');
    await bed.enableForwarding(r.ns);
  }
  // The appliance's ends keep their kernel names (eth<N>) and stay down, like NICs at first boot.
  const nics = await addApplianceNics(bed, {
    order: opts.nics,
    peer: (role) =>
      role === 'management' ? { ns: 'mgw', dev: 'gw-mgmt' } : role === 'workload' ? { ns: 'wrouter', dev: 'wr-wl' } : { ns: 'frouter', dev: 'fr-fe' },
  });
  for (const role of opts.nics) kernelNames[role] = nics[role]!.a;
  if (opts.nics.includes('management')) await bed.addr('mgw', 'gw-mgmt', SEED_NICS.management.gwCidr);
  for (const r of routers) {
    await bed.addr(r.ns, r.dev, r.cidr);
    await bed.link(r.ns, r.cl, r.client, 'eth0', { upA: true });
    await bed.addr(r.ns, r.cl, r.clCidr);
    await bed.addr(r.client, 'eth0', r.clientCidr);
    await bed.up(r.client, 'eth0');
    await bed.route(r.client, `default via ${r.clCidr.split('/')[0]}`);
    for (const spec of r.routes) await bed.route(r.ns, spec);
  }
  if (opts.backend) {
    await bed.addNamespace('backend');
    await bed.link('wrouter', 'wr-be', 'backend', 'eth0', { upA: true });
    await bed.addr('wrouter', 'wr-be', '10.50.0.1/16');
    await bed.addr('backend', 'eth0', `${BACKEND}/16`);
    await bed.up('backend', 'eth0');
    await bed.route('backend', 'default via 10.50.0.1');
  }
  return kernelNames;
}

// ---------------------------------------------------------------------------------------------
// Reading the kernel state
// ---------------------------------------------------------------------------------------------

/** `ip rule` lines with table numbers (the host may or may not know the names). */
export function ruleLines(d: NetDump): string[] {
  return d.rules
    .map((r) =>
      ruleLine(r)
        .replace(/lookup workload$/u, 'lookup 200')
        .replace(/lookup frontend$/u, 'lookup 201'),
    )
    .map((l, i) => (d.rules[i]!.suppress_prefixlen !== undefined ? `${l} suppress_prefixlength ${String(d.rules[i]!.suppress_prefixlen)}` : l));
}

/** Routes of a table (number or name), `table N` normalised to numbers, sorted. */
export function table(d: NetDump, t: 'main' | 'local' | '200' | '201'): string[] {
  const names: Record<string, string> = { '200': 'workload', '201': 'frontend' };
  return d.routes
    .filter((r) => (r.table ?? 'main') === t || (names[t] !== undefined && r.table === names[t]))
    .map((r) => routeLine({ ...r, ...(r.table === 'workload' ? { table: '200' } : r.table === 'frontend' ? { table: '201' } : {}) }))
    .sort();
}

/** IPv4 addresses per interface, `a.b.c.d/len`. */
export function ipv4Addrs(d: NetDump): Record<string, string[]> {
  return Object.fromEntries(d.addrs.map((l) => [l.ifname, (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)]));
}

/** Everything of a dump that networkd decides, in a stable order: for "identical" checks. */
export function comparable(d: NetDump): { routes: string[]; rules: string[]; addrs: Record<string, string[]> } {
  return {
    routes: d.routes.map((r) => routeLine(r, { withProto: true })).sort(),
    rules: ruleLines(d).map((l, i) => `${l} proto ${String(d.rules[i]!.protocol ?? '-')}`),
    addrs: ipv4Addrs(d),
  };
}

/** `ip route get ARGS` in `ns`, as `via GW dev DEV table T src S` (`table main` included). */
export async function routeGet(bed: TestBed, ns: string, args: string): Promise<string> {
  const [r] = await bed.ipJson<Array<{ gateway?: string; dev: string; table?: string; prefsrc?: string; type?: string }>>(ns, [
    'route',
    'get',
    ...args.split(/\s+/u),
  ]);
  if (!r) throw new Error(`ip route get ${args}: no answer`);
  const t = r.table === 'workload' ? '200' : r.table === 'frontend' ? '201' : (r.table ?? 'main');
  return [r.type && r.type !== 'unicast' ? r.type : '', r.gateway ? `via ${r.gateway}` : '', `dev ${r.dev}`, `table ${t}`, r.prefsrc ? `src ${r.prefsrc}` : '']
    .filter(Boolean)
    .join(' ');
}

/**
 * A kernel counter in `ns`, from /proc/net/snmp (e.g. `Ip InAddrErrors`: packets a host that
 * does not forward received for someone else) or /proc/net/netstat (e.g. `IpExt InNoRoutes`:
 * packets a router had no route for).
 */
export async function counter(bed: TestBed, ns: string, group: string, field: string): Promise<number> {
  const text = (await bed.exec(ns, ['cat', '/proc/net/snmp', '/proc/net/netstat'])).stdout;
  const lines = text.split('\n').filter((l) => l.startsWith(`${group}:`));
  const names = lines[0]?.split(/\s+/u) ?? [];
  const values = lines[1]?.split(/\s+/u) ?? [];
  const i = names.indexOf(field);
  if (i < 0) throw new Error(`no ${group} ${field} in /proc/net/snmp or /proc/net/netstat`);
  return Number(values[i]);
}

/** Packets the management gateway dropped because they were not for it (it does not forward). */
export function mgwDropped(bed: TestBed): Promise<number> {
  return counter(bed, 'mgw', 'Ip', 'InAddrErrors');
}

/**
 * Deletes the appliance's policy rules with these priorities (`ip rule del`), runs `fn`, then
 * puts them back exactly as they were (selector, table, suppress_prefixlength and protocol,
 * so a later networkd run adopts them as its own), even when `fn` throws.
 */
export async function withoutRules<T>(bed: TestBed, ns: string, priorities: number[], fn: () => Promise<T>): Promise<T> {
  const all = await bed.ipJson<IpRule[]>(ns, ['-4', 'rule']);
  const gone = all.filter((r) => priorities.includes(r.priority));
  if (gone.length !== priorities.length) throw new Error(`rules ${priorities.join(', ')}: found ${gone.map(ruleLine).join('; ') || 'none'}`);
  for (const r of gone) await bed.ip(ns, ['-4', 'rule', 'del', ...ruleArgs(r)]);
  try {
    return await fn();
  } finally {
    for (const r of gone) await bed.ip(ns, ['-4', 'rule', 'add', ...ruleArgs(r)]);
  }
}

function ruleArgs(r: IpRule): string[] {
  const args = ['priority', String(r.priority)];
  if (r.src !== undefined && r.src !== 'all') args.push('from', `${r.src}/${r.srclen ?? 32}`);
  if (r.dst !== undefined && r.dst !== 'all') args.push('to', `${r.dst}/${r.dstlen ?? 32}`);
  if (r.table) args.push('table', r.table);
  if (r.suppress_prefixlen !== undefined) args.push('suppress_prefixlength', String(r.suppress_prefixlen));
  if (r.protocol) args.push('protocol', String(r.protocol));
  return args;
}

/** Tries to bind host:port in `ns`: 'ok' or the error code (EADDRNOTAVAIL, ...). */
export async function tryBind(bed: TestBed, ns: string, host: string, port: number): Promise<string> {
  try {
    const l = await bed.listen(ns, host, port);
    await l.close();
    return 'ok';
  } catch (e) {
    const m = /LISTEN-ERROR (\S+)/u.exec(String((e as Error).message));
    return m ? m[1]! : String(e);
  }
}

/**
 * Readiness predicate for runNetworkd: the given routes (`table(dump, t)` lines) are present.
 * Used where a link waits for DHCP (`until: 'static'` does not wait for leases).
 */
export function routesPresent(want: Partial<Record<'main' | 'local' | '200' | '201', Array<string | RegExp>>>) {
  return (s: NetworkdSnapshot): boolean =>
    Object.entries(want).every(([t, lines]) => {
      const have = table(s.dump, t as 'main');
      return (lines ?? []).every((w) => have.some((h) => (typeof w === 'string' ? h === w : w.test(h))));
    });
}

// ---------------------------------------------------------------------------------------------
// A real DHCP server: dnsmasq (Debian's /usr/sbin/dnsmasq) inside a namespace
// ---------------------------------------------------------------------------------------------

export const DNSMASQ_BIN = '/usr/sbin/dnsmasq';

export interface Dnsmasq {
  readonly pid: number;
  log(): string;
  /** Lease file content. */
  leases(): string;
  /** SIGTERM by PID (SIGKILL after 3 s); idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts dnsmasq as a DHCP server only (--port=0: no DNS) in `bed`'s namespace `ns`, bound to
 * `iface` only, handing out `range` (dnsmasq's --dhcp-range syntax) with `router` as option 3
 * (omitted when undefined), and any further `options`. No config file, pid/lease files in a private temp dir.
 */
export async function startDnsmasq(
  bed: TestBed,
  ns: string,
  iface: string,
  range: string,
  router: string | undefined,
  /** More `--dhcp-option=` values, e.g. `15,lease.example` (the domain name). */
  options: readonly string[] = [],
): Promise<Dnsmasq> {
  try {
    accessSync(DNSMASQ_BIN, fsConstants.X_OK);
  } catch {
    throw new Error(`${DNSMASQ_BIN} is missing: install Debian's dnsmasq-base (scripts/install-deps.sh does)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'hpa-dnsmasq-'));
  const leaseFile = join(dir, 'leases');
  const args = [
    'netns',
    'exec',
    bed.nsName(ns),
    DNSMASQ_BIN,
    '--no-daemon',
    '--conf-file=/dev/null',
    '--port=0',
    '--no-ping',
    '--log-dhcp',
    '--log-facility=-',
    `--interface=${iface}`,
    '--bind-interfaces',
    '--except-interface=lo',
    `--dhcp-range=${range}`,
    '--dhcp-authoritative',
    `--pid-file=${join(dir, 'pid')}`,
    `--dhcp-leasefile=${leaseFile}`,
    '--user=root',
    '--group=root',
    ...(router ? [`--dhcp-option=3,${router}`] : []),
    ...options.map((o) => `--dhcp-option=${o}`),
  ];
  // `ip netns exec` (and setpriv) exec dnsmasq: the spawned PID is dnsmasq's own. setpriv
  // --pdeathsig makes the kernel kill it should this test process die without cleaning up.
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => {
    try {
      accessSync(p, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (setpriv) args.splice(3, 0, setpriv, '--pdeathsig', 'KILL');
  const child: ChildProcess = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start dnsmasq');
  const alive = () => running(child);
  const stop = async () => {
    await terminate(child);
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready once it logs that DHCP is on (or fail with its log).
  const started = Date.now();
  while (!/DHCP, IP range/u.test(log)) {
    if (!alive()) {
      await stop();
      throw new Error(`dnsmasq exited (${child.exitCode}): ${log}`);
    }
    if (Date.now() - started > 10_000) {
      await stop();
      throw new Error(`dnsmasq not ready: ${log}`);
    }
    await sleep(50);
  }
  return {
    pid,
    log: () => log,
    leases: () => {
      try {
        return readFileSync(leaseFile, 'utf8');
      } catch {
        return '';
      }
    },
    stop,
  };
}

/** Milliseconds since `t0`, for the timing lines the tests print. */
export function since(t0: number): string {
  return `${Date.now() - t0} ms`;
}

/** The lines of networkd's log that complain about a line of a unit (`file.network:12: …`): none is the goal. */
export function unitWarnings(nd: { log(): string }): string[] {
  return nd
    .log()
    .split('\n')
    .filter((l) => /\.(network|link):\d+: /u.test(l));
}
