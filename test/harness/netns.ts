/**
 * Network-namespace test bed: runs the REAL systemd-networkd against a folder of
 * .network/.link units inside Linux network namespaces, plus small helpers to wire
 * namespaces together with veth pairs, inspect the kernel state and prove that TCP
 * traffic flows between namespaces.
 *
 * Everything happens inside namespaces this module creates (named `hpa-<random>-<name>`),
 * connected only to each other: no host interface, route or service is touched and no
 * packet leaves the namespaces. Every process is started by this module and ended by PID.
 *
 * This module is the bed itself (namespaces, veth pairs, plumbing, cleanup); its parts live
 * beside it: networkd.ts (the networkd runner), traffic.ts (TCP probes), link-files.ts (.link
 * emulation), ip-dump.ts (`ip -j` types and formatting), process.ts (running and stopping
 * processes), leak-guard.ts (nothing left behind). See test/harness/README.md for usage.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, rmSync } from 'node:fs';
import { cleanupOnExit } from './exit-hook.js';
import type { IpLink, IpRoute, IpRule, NetDump } from './ip-dump.js';
import { applyLinkFiles } from './link-files.js';
import { NETWORKD_BIN, startNetworkd, type NetworkdHandle, type RunNetworkdOptions } from './networkd.js';
import { isAlive, run, terminate, type ExecOptions, type ExecResult } from './process.js';
import { connectFrom, listenIn, type ConnectResult, type ListenHandle, type TrafficBed } from './traffic.js';

// The bed's parts, each in a module of its own; re-exported so that tests import the bed from here.
export * from './ip-dump.js';
export type { NetworkdHandle, NetworkdLinkState, NetworkdSnapshot, RunNetworkdOptions } from './networkd.js';
export { NETWORKD_BIN } from './networkd.js';
export type { ExecOptions, ExecResult } from './process.js';
export { isAlive } from './process.js';
export type { ConnectResult, ConnInfo, ListenHandle } from './traffic.js';

/** Prefix of every namespace created by this module. */
export const NS_PREFIX = 'hpa-';

// ---------------------------------------------------------------------------------------------
// The test bed
// ---------------------------------------------------------------------------------------------

export interface LinkOptions {
  /** MAC of the A end / B end (default: kernel random). */
  macA?: string;
  macB?: string;
  /** Bring the A end up (default false: left down like a NIC at boot, networkd brings it up). */
  upA?: boolean;
  /** Bring the B end up (default true, so the A end has carrier). */
  upB?: boolean;
}

export interface AddNamespaceOptions {
  /** Bring `lo` up, as PID 1 does at boot (default true). */
  loopbackUp?: boolean;
  /** Disable IPv6 in the namespace (default false). Note networkd re-enables it on the links it manages. */
  disableIPv6?: boolean;
}

/**
 * Owns a set of namespaces, veth pairs, processes and temp dirs. Namespaces are
 * addressed by short names (`'appliance'`, `'gw'`); their real names are
 * `hpa-<random>-<short>` (see {@link TestBed.nsName}). Always call {@link cleanup}.
 */
export class TestBed {
  /** Unregisters the last-resort cleanup (see test/harness/exit-hook.ts). */
  private forgetExitHook: () => void = () => undefined;
  /** Random id shared by all namespaces of this bed. */
  readonly id: string;
  private readonly namespaces = new Map<string, string>();
  private readonly children = new Set<ChildProcess>();
  private readonly tempDirs = new Set<string>();
  private readonly networkds = new Map<string, NetworkdHandle>();
  /** Serialises link creation (kernel-style names are picked per namespace). */
  private linkLock: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor() {
    this.id = randomBytes(3).toString('hex');
    this.forgetExitHook = cleanupOnExit(() => this.cleanupSync());
  }

  /** Full namespace name of a short name, for use with `ip -n` / `ip netns exec`. */
  nsName(ns: string): string {
    const full = this.namespaces.get(ns);
    if (!full) throw new Error(`unknown namespace '${ns}' (add it with addNamespace first)`);
    return full;
  }

  /** Short names of the namespaces of this bed. */
  get namespaceNames(): string[] {
    return [...this.namespaces.keys()];
  }

  /** Creates a namespace; `lo` is brought up unless told otherwise. Returns the full name. */
  async addNamespace(ns: string, opts: AddNamespaceOptions = {}): Promise<string> {
    if (this.closed) throw new Error('test bed already cleaned up');
    if (!/^[a-z0-9][a-z0-9_-]{0,30}$/i.test(ns)) throw new Error(`bad namespace name '${ns}'`);
    if (this.namespaces.has(ns)) throw new Error(`namespace '${ns}' already exists in this bed`);
    const full = `${NS_PREFIX}${this.id}-${ns}`;
    // Recorded right after creation (not before: a failed add must never lead cleanup to
    // delete a namespace that is not ours); later setup steps failing are covered.
    await run('ip', ['netns', 'add', full]);
    this.namespaces.set(ns, full);
    if (opts.disableIPv6) {
      await this.sysctl(ns, 'net.ipv6.conf.all.disable_ipv6', '1');
      await this.sysctl(ns, 'net.ipv6.conf.default.disable_ipv6', '1');
    }
    if (opts.loopbackUp ?? true) await this.up(ns, 'lo');
    return full;
  }

  /** `ip -n NS ARGS...`; returns stdout. */
  async ip(ns: string, args: readonly string[]): Promise<string> {
    return (await run('ip', ['-n', this.nsName(ns), ...args])).stdout;
  }

  /** `ip -n NS -j ARGS...`, parsed. */
  async ipJson<T = unknown>(ns: string, args: readonly string[]): Promise<T> {
    const out = await this.ip(ns, ['-j', ...args]);
    return (out.trim() ? JSON.parse(out) : []) as T;
  }

  /** Runs `argv` inside the namespace (`ip netns exec`). Throws on non-zero exit unless reject=false. */
  async exec(ns: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new Error('exec: empty argv');
    return run('ip', ['netns', 'exec', this.nsName(ns), ...argv], opts);
  }

  /** Sets a (per-namespace) sysctl inside the namespace. */
  async sysctl(ns: string, key: string, value: string): Promise<void> {
    await this.exec(ns, ['sysctl', '-q', '-w', `${key}=${value}`]);
  }

  /** Kernel-style name (`eth<N>`, lowest free N) for a new device in `ns`. */
  private async freeKernelName(ns: string, taken: Set<string> = new Set()): Promise<string> {
    const links = await this.ipJson<IpLink[]>(ns, ['link']);
    const used = new Set([...links.map((l) => l.ifname), ...taken]);
    for (let n = 0; ; n++) if (!used.has(`eth${n}`)) return `eth${n}`;
  }

  /**
   * Creates a veth pair between `nsA` and `nsB` (it never exists in the host namespace).
   * Both ends are created with kernel-style names (`eth<N>`) and then renamed to `devA` /
   * `devB` by the harness, like udev would do with a .link file; pass `undefined` to keep
   * the kernel name. Returns the final names.
   */
  async link(nsA: string, devA: string | undefined, nsB: string, devB: string | undefined, opts: LinkOptions = {}): Promise<{ a: string; b: string }> {
    const job = this.linkLock.then(async () => {
      const fullA = this.nsName(nsA);
      const fullB = this.nsName(nsB);
      const kA = await this.freeKernelName(nsA);
      const kB = await this.freeKernelName(nsB, nsA === nsB ? new Set([kA]) : new Set());
      const args = ['-n', fullA, 'link', 'add', kA];
      if (opts.macA) args.push('address', opts.macA);
      args.push('type', 'veth', 'peer', 'name', kB);
      if (opts.macB) args.push('address', opts.macB);
      args.push('netns', fullB);
      await run('ip', args);
      const a = devA && devA !== kA ? await this.rename(nsA, kA, devA) : kA;
      const b = devB && devB !== kB ? await this.rename(nsB, kB, devB) : kB;
      if (opts.upA) await this.up(nsA, a);
      if (opts.upB ?? true) await this.up(nsB, b);
      return { a, b };
    });
    this.linkLock = job.catch(() => undefined);
    return job;
  }

  /** Renames a (down) device. Returns the new name. */
  async rename(ns: string, from: string, to: string): Promise<string> {
    await this.ip(ns, ['link', 'set', 'dev', from, 'name', to]);
    return to;
  }

  /**
   * Emulates udev's handling of the `.link` files in `unitDir` for the devices of `ns`
   * (udev does not run in the bed): for each device, the first .link file in lexical
   * order whose [Match] fits (MACAddress=, OriginalName=, Type=, Kind= are supported)
   * gives its [Link] Name= and MACAddress=. Other [Match] keys throw, so a test never
   * silently relies on something not emulated. Returns the renames done.
   */
  applyLinkFiles(ns: string, unitDir: string): Promise<Array<{ from: string; to: string }>> {
    return applyLinkFiles(this, ns, unitDir);
  }

  /** `ip addr add CIDR dev DEV` */
  async addr(ns: string, dev: string, cidr: string): Promise<void> {
    await this.ip(ns, ['addr', 'add', cidr, 'dev', dev]);
  }

  /** `ip link set DEV up` */
  async up(ns: string, dev: string): Promise<void> {
    await this.ip(ns, ['link', 'set', 'dev', dev, 'up']);
  }

  /** `ip route add SPEC`, e.g. `route('gw', '192.168.0.0/24 via 192.168.1.2')`. */
  async route(ns: string, spec: string | readonly string[]): Promise<void> {
    const args = typeof spec === 'string' ? spec.trim().split(/\s+/) : [...spec];
    await this.ip(ns, ['route', 'add', ...args]);
  }

  /** Turns the namespace into a router (per-namespace sysctls only). */
  async enableForwarding(ns: string, opts: { ipv6?: boolean } = {}): Promise<void> {
    await this.sysctl(ns, 'net.ipv4.ip_forward', '1');
    if (opts.ipv6) await this.sysctl(ns, 'net.ipv6.conf.all.forwarding', '1');
  }

  /**
   * Puts the namespace's network state back to what a fresh boot has, so the next
   * runNetworkd behaves like networkd after a reboot rather than after a restart
   * (networkd 252 does NOT remove addresses/rules left by a previous run whose units
   * changed). All links go down and lose their addresses, all routes of all tables go,
   * policy rules are reset to the kernel defaults, then `lo` comes back up (127.0.0.1/8
   * and ::1 are re-added by the kernel). Links stay where and as they are named; sysctls
   * set by networkd are not reset.
   */
  async resetNetworkState(ns: string): Promise<void> {
    const links = await this.ipJson<IpLink[]>(ns, ['link']);
    for (const l of links) {
      await this.ip(ns, ['link', 'set', 'dev', l.ifname, 'down']);
      await this.ip(ns, ['addr', 'flush', 'dev', l.ifname]);
    }
    await this.ip(ns, ['-4', 'route', 'flush', 'table', 'all']);
    await this.ip(ns, ['-6', 'route', 'flush', 'table', 'all']);
    // `rule flush` keeps only priority 0 (lookup local); restore the other defaults.
    await this.ip(ns, ['-4', 'rule', 'flush']);
    await this.ip(ns, ['-4', 'rule', 'add', 'priority', '32766', 'table', 'main']);
    await this.ip(ns, ['-4', 'rule', 'add', 'priority', '32767', 'table', 'default']);
    await this.ip(ns, ['-6', 'rule', 'flush']);
    await this.ip(ns, ['-6', 'rule', 'add', 'priority', '32766', 'table', 'main']);
    if (links.some((l) => l.ifname === 'lo')) await this.up(ns, 'lo');
  }

  /** Kernel routing state of the namespace: IPv4 routes of all tables, IPv4 rules, all addresses. */
  async dump(ns: string): Promise<NetDump> {
    const [routes, rules, addrs] = await Promise.all([
      this.ipJson<IpRoute[]>(ns, ['-4', 'route', 'show', 'table', 'all']),
      this.ipJson<IpRule[]>(ns, ['-4', 'rule']),
      this.ipJson<IpLink[]>(ns, ['addr']),
    ]);
    return { routes, rules, addrs };
  }

  /** Spawns a long-running process and tracks it for cleanup. */
  private track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * Runs the real systemd-networkd in `ns` against (a copy of) `unitDir` and waits for the
   * readiness condition (see {@link RunNetworkdOptions.until}). Only one networkd per
   * namespace at a time: `stop()` the previous one before running it again (a rerun reads
   * the unit dir afresh and starts with fresh private state, like a reboot without the
   * kernel state being reset). On failure networkd is stopped and the error carries the
   * link states and the tail of its log.
   */
  async runNetworkd(ns: string, unitDir: string, opts: RunNetworkdOptions = {}): Promise<NetworkdHandle> {
    const prev = this.networkds.get(ns);
    if (prev?.running()) throw new Error(`systemd-networkd already runs in '${ns}' (pid ${prev.pid}); stop() it first`);
    return startNetworkd(
      {
        nsName: (n) => this.nsName(n),
        ipJson: (n, args) => this.ipJson(n, args),
        dump: (n) => this.dump(n),
        track: (c) => this.track(c),
        ownDir: (d) => this.tempDirs.add(d),
        register: (n, h) => this.networkds.set(n, h),
      },
      ns,
      unitDir,
      opts,
    );
  }

  /**
   * Starts a TCP server inside `ns` bound to host:port (a node process in the namespace).
   * Resolves once it listens; rejects with the bind error otherwise (e.g. EADDRNOTAVAIL).
   * Every client gets one JSON line describing the connection, then EOF.
   */
  listen(ns: string, host: string, port: number, opts: { timeoutMs?: number; maxLifetimeMs?: number } = {}): Promise<ListenHandle> {
    return listenIn(this.probeAccess(), ns, host, port, opts);
  }

  /**
   * Connects from inside `ns` to host:port (a node process in the namespace), reads the
   * listener's reply and reports. Network errors are returned (`ok: false`), not thrown,
   * so negative checks are easy; bounded by `timeoutMs` (default 5 s).
   */
  connect(ns: string, host: string, port: number, opts: { timeoutMs?: number; localAddress?: string } = {}): Promise<ConnectResult> {
    return connectFrom(this.probeAccess(), ns, host, port, opts);
  }

  private probeAccess(): TrafficBed {
    return { nsName: (n) => this.nsName(n), track: (c) => this.track(c) };
  }

  /**
   * Ends every process this bed started (by PID), deletes its namespaces (which destroys
   * the veth pairs in them) and temp dirs. Idempotent; never throws; safe after a
   * half-done setup.
   */
  async cleanup(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.children].map((c) => terminate(c)));
    for (const full of this.namespaces.values()) {
      await run('ip', ['netns', 'del', full], { reject: false });
    }
    this.namespaces.clear();
    for (const d of this.tempDirs) rmSync(d, { recursive: true, force: true });
    this.tempDirs.clear();
    this.forgetExitHook();
  }

  /** Synchronous variant used by the process 'exit' hook. */
  cleanupSync(): void {
    this.closed = true;
    for (const c of this.children) {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null && isAlive(c.pid)) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    this.children.clear();
    for (const full of this.namespaces.values()) spawnSync('ip', ['netns', 'del', full], { stdio: 'ignore' });
    this.namespaces.clear();
    for (const d of this.tempDirs) rmSync(d, { recursive: true, force: true });
    this.tempDirs.clear();
    this.forgetExitHook();
  }
}

/** Creates a new, empty test bed. */
export function createTestBed(): TestBed {
  return new TestBed();
}

export type CanRun = { ok: true } | { ok: false; reason: string };
let canRunCache: Promise<CanRun> | undefined;

/**
 * Whether this machine can run network beds: root, networkd and the tools present, the
 * systemd-network user known, and a probe namespace can be created and used with a
 * private mount namespace. Use as `test('...', { skip: reason }, ...)`.
 */
export function canRunNetworkBeds(): Promise<CanRun> {
  canRunCache ??= (async (): Promise<CanRun> => {
    if (process.platform !== 'linux') return { ok: false, reason: 'network beds need Linux' };
    if (process.getuid?.() !== 0) return { ok: false, reason: 'network beds need root' };
    try {
      accessSync(NETWORKD_BIN, fsConstants.X_OK);
    } catch {
      return { ok: false, reason: `${NETWORKD_BIN} not found` };
    }
    for (const tool of ['ip', 'unshare', 'nsenter', 'mount']) {
      const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
      if (r.error) return { ok: false, reason: `${tool} not found` };
    }
    const passwd = spawnSync('getent', ['passwd', 'systemd-network'], { encoding: 'utf8' });
    if (passwd.status !== 0) return { ok: false, reason: 'user systemd-network does not exist' };
    const probe = `${NS_PREFIX}probe-${randomBytes(3).toString('hex')}`;
    try {
      const add = await run('ip', ['netns', 'add', probe], { reject: false });
      if (add.exitCode !== 0) return { ok: false, reason: `ip netns add failed: ${add.stderr}` };
      const r = await run('ip', ['netns', 'exec', probe, 'unshare', '--mount', 'sh', '-c', 'mount --make-rprivate / && ip link set lo up'], {
        reject: false,
      });
      if (r.exitCode !== 0) return { ok: false, reason: `cannot use a namespace with a private mount namespace: ${r.stderr}` };
      return { ok: true };
    } finally {
      await run('ip', ['netns', 'del', probe], { reject: false });
    }
  })();
  return canRunCache;
}
