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
 * See test/harness/README.md for usage, and /work/shared/reference/test-beds.md for the
 * recipe this follows.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, rmSync } from 'node:fs';
import { chmod, cp, mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cleanupOnExit } from './exit-hook.js';

/** Path of the networkd binary (systemd 252 on Debian bookworm). */
export const NETWORKD_BIN = '/lib/systemd/systemd-networkd';

/** Prefix of every namespace created by this module. */
export const NS_PREFIX = 'hpa-';

// ---------------------------------------------------------------------------------------------
// Small process utilities
// ---------------------------------------------------------------------------------------------

/** Result of a command run with {@link TestBed.exec}. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ExecOptions {
  /** Kill the command after this many ms (default 30 s). */
  timeoutMs?: number;
  /** Data written to the command's stdin. */
  input?: string;
  /** Throw when the exit code is not 0 (default true). */
  reject?: boolean;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** Runs a short command on the host side (only `ip`, `sysctl`-style tools are passed here). */
async function run(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await execa(file, [...args], {
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    env: opts.env,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    stripFinalNewline: true,
  });
  const result: ExecResult = {
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    exitCode: r.exitCode ?? -1,
  };
  if ((opts.reject ?? true) && (result.exitCode !== 0 || r.timedOut)) {
    throw new Error(
      `command failed (${r.timedOut ? 'timed out' : `exit ${result.exitCode}`}): ${file} ${args.join(' ')}\n${result.stderr || result.stdout}`,
    );
  }
  return result;
}

/** Environment for node children: no loaders/flags of the test runner leak into them. */
function cleanNodeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  return env;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether a process with this PID exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves when the child has exited (immediately if it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/** SIGTERM, then SIGKILL after `graceMs`; only ever signals this child's own PID. */
async function terminate(child: ChildProcess, graceMs = 3_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const done = exited(child);
  const timer = sleep(graceMs).then(() => 'timeout' as const);
  if ((await Promise.race([done.then(() => 'done' as const), timer])) === 'timeout') {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    await done;
  }
}

// ---------------------------------------------------------------------------------------------
// Types of the parsed `ip -j` output (only the fields the tests use are typed; the rest stays)
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// networkd
// ---------------------------------------------------------------------------------------------

/** One link as networkd sees it (from its private state file /run/systemd/netif/links/IFINDEX). */
export interface NetworkdLinkState {
  ifindex: number;
  name: string;
  /** "pending", "initialized", "configuring", "configured", "unmanaged", "failed", "linger" */
  adminState: string;
  operState: string;
  /** The .network file networkd applied (path as networkd sees it). */
  networkFile?: string;
  /** Every KEY=VALUE of the state file. */
  raw: Record<string, string>;
}

/** What a readiness predicate sees on every poll. */
export interface NetworkdSnapshot {
  /** State of every link of the namespace (links networkd has not written yet are missing). */
  links: NetworkdLinkState[];
  /** All links of the namespace according to the kernel. */
  kernelLinks: IpLink[];
  dump: NetDump;
}

export interface RunNetworkdOptions {
  /** Fail (and stop networkd) when not ready within this time. Default 30 s. */
  timeoutMs?: number;
  /**
   * Readiness condition, polled every `pollMs`:
   *  - 'configured' (default): networkd has written a state file for every link of the
   *    namespace and every link it manages is `configured` (unmanaged links are ignored);
   *    any managed link in `failed`/`linger` fails immediately. This is the same condition
   *    systemd-networkd-wait-online uses. Note: with IPv6 enabled and no router sending
   *    RAs, networkd waits for its router-solicitation timeout (~12 s) before `configured`
   *    unless the .network says IPv6AcceptRA=no (disabling IPv6 by sysctl does not help:
   *    networkd turns it back on for the links it manages).
   *  - 'static': like 'configured', but a managed link also counts as ready once networkd
   *    has applied its static configuration (addresses, routes, rules, ...) and only waits
   *    for dynamic configuration (router advertisements, DHCP). Detected from networkd's
   *    own debug log: the last `link_check_ready()` message of the link is past the static
   *    checks. Needs logLevel 'debug' (the default). Typically well under 1 s instead of
   *    ~12 s. DHCP-configured links are NOT waited for in this mode.
   *  - 'enumerated': networkd has written a state file for every link (started and
   *    matched its units, configuration may still be in progress).
   *  - a predicate over a {@link NetworkdSnapshot}, e.g. "these routes are present".
   */
  until?: 'configured' | 'static' | 'enumerated' | ((snap: NetworkdSnapshot) => boolean | Promise<boolean>);
  /** Poll interval, default 100 ms. */
  pollMs?: number;
  /** SYSTEMD_LOG_LEVEL of networkd, default 'debug' (its log is kept in memory). */
  logLevel?: 'debug' | 'info' | 'notice' | 'warning' | 'err';
  /**
   * Keep the distribution's units in /usr/lib/systemd/network visible to networkd.
   * Default false: they are hidden so the result only depends on `unitDir`.
   */
  systemUnits?: boolean;
}

/** A running systemd-networkd, returned by {@link TestBed.runNetworkd}. */
export interface NetworkdHandle {
  /** PID of systemd-networkd itself (ip netns exec, unshare and sh all exec into it). */
  readonly pid: number;
  /** Short name of the namespace it runs in. */
  readonly ns: string;
  /** Milliseconds from spawn until the readiness condition held. */
  readonly readyAfterMs: number;
  /** Everything networkd wrote to stdout/stderr so far. */
  log(): string;
  /** Current per-link state; rejects once networkd has exited (its state dies with it). */
  links(): Promise<NetworkdLinkState[]>;
  /** True while the process runs. */
  running(): boolean;
  /** Ends networkd (SIGTERM, SIGKILL after 3 s). Kernel configuration stays. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The script run by `ip netns exec NS unshare --mount sh -c SCRIPT sh UNITDIR HIDE_SYSTEM`.
 * It gives networkd a private mount namespace where /etc/systemd/network is the unit dir
 * under test, /run/systemd is a fresh tmpfs (with network/ and netif/{links,leases} owned
 * by systemd-network: networkd refuses a world-writable runtime dir) and /sys is read-only (so
 * networkd does not wait for udev, which is not running), then execs networkd so that
 * the spawned PID *is* networkd.
 */
const NETWORKD_SCRIPT = `
set -e
mount --make-rprivate /
mount --bind "$1" /etc/systemd/network
if [ "$2" = 1 ]; then
  for d in /usr/lib/systemd/network /usr/local/lib/systemd/network /lib/systemd/network; do
    if [ -d "$d" ] && ! mountpoint -q "$d"; then mount -t tmpfs -o mode=0755,ro tmpfs "$d"; fi
  done
fi
# A private, empty /run/systemd: no host runtime units, state, journal or bus sockets.
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mkdir -p /run/systemd/network /run/systemd/netif/links /run/systemd/netif/leases
chown -R systemd-network:systemd-network /run/systemd/netif
umount -l /sys
mount -t sysfs -o ro sysfs /sys
exec ${NETWORKD_BIN}
`;

function parseStateFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/**
 * Reads networkd's private link state files. They live in networkd's own mount namespace;
 * /proc/PID/root reaches into it. Falls back to nsenter when /proc/PID/root is refused
 * (no CAP_SYS_PTRACE: networkd runs as systemd-network and is not dumpable).
 */
async function readLinkStateFiles(pid: number): Promise<Map<number, Record<string, string>>> {
  const out = new Map<number, Record<string, string>>();
  const dir = `/proc/${pid}/root/run/systemd/netif/links`;
  try {
    for (const f of await readdir(dir)) {
      if (!/^\d+$/.test(f)) continue;
      try {
        out.set(Number(f), parseStateFile(await readFile(join(dir, f), 'utf8')));
      } catch {
        /* replaced while reading (networkd writes via rename); next poll sees it */
      }
    }
    return out;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') return out; // not there yet / process gone
  }
  const r = await run(
    'nsenter',
    ['-t', String(pid), '-m', 'sh', '-c', 'cd /run/systemd/netif/links 2>/dev/null || exit 0; for f in *; do [ -f "$f" ] && { echo "@@@ $f"; cat "$f"; }; done'],
    { reject: false, timeoutMs: 5_000 },
  );
  for (const chunk of r.stdout.split('@@@ ').slice(1)) {
    const nl = chunk.indexOf('\n');
    const idx = Number(chunk.slice(0, nl === -1 ? undefined : nl).trim());
    if (Number.isInteger(idx)) out.set(idx, parseStateFile(nl === -1 ? '' : chunk.slice(nl + 1)));
  }
  return out;
}

/**
 * Whether networkd's debug log says the static configuration of link `name` is applied:
 * the link's last `link_check_ready()` message is one networkd only reaches after all
 * static addresses, routes, nexthops, rules, ... are configured (systemd 252,
 * src/network/networkd-link.c), i.e. it only waits for IPv6LL or dynamic configuration.
 */
function staticDone(log: string, name: string): boolean {
  const prefix = `\n${name}: link_check_ready(): `;
  const at = `\n${log}`.lastIndexOf(prefix);
  if (at < 0) return false;
  const msg = log.slice(at + prefix.length - 1); // -1: the '\n' prepended above
  return /^(IPv6LL is not configured yet|DHCP4, DHCP6 or IPv4LL is enabled but no dynamic address|dynamic addresses or routes are not configured|IPv4LL:|dhcp4:)/.test(msg);
}

/** Copies `unitDir` to a private dir readable by the systemd-network user (networkd drops root). */
async function stageUnitDir(unitDir: string): Promise<string> {
  const st = await stat(unitDir);
  if (!st.isDirectory()) throw new Error(`unit dir ${unitDir} is not a directory`);
  const staged = await mkdtemp(join(tmpdir(), 'hpa-units-'));
  await cp(unitDir, staged, { recursive: true });
  const fix = async (dir: string): Promise<void> => {
    await chmod(dir, 0o755);
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await fix(p);
      else if (e.isFile()) await chmod(p, 0o644);
    }
  };
  await fix(staged);
  return staged;
}

// ---------------------------------------------------------------------------------------------
// TCP probes
// ---------------------------------------------------------------------------------------------

/** What the listener sends back to every client (one JSON line), and records per connection. */
export interface ConnInfo {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

export interface ListenHandle {
  readonly pid: number;
  readonly ns: string;
  readonly host: string;
  readonly port: number;
  /** Connections accepted so far (as seen by the server). */
  readonly connections: ConnInfo[];
  close(): Promise<void>;
}

export interface ConnectResult {
  ok: boolean;
  /** Error code/message when !ok (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ...). */
  error?: string;
  /** Addresses of the client socket. */
  localAddress?: string;
  localPort?: number;
  /** What the server said about the connection (addresses as seen by the server). */
  reply?: ConnInfo;
}

/** Server run by `ip netns exec NS node -e`: argv = host port maxLifetimeMs. */
const LISTEN_SCRIPT = `
const net = require('node:net');
const [host, port, maxMs] = process.argv.slice(1);
const server = net.createServer((s) => {
  const info = { localAddress: s.localAddress, localPort: s.localPort, remoteAddress: s.remoteAddress, remotePort: s.remotePort };
  process.stdout.write('CONN ' + JSON.stringify(info) + '\\n');
  s.on('error', () => {});
  s.end(JSON.stringify(info) + '\\n');
});
server.on('error', (e) => { process.stderr.write('LISTEN-ERROR ' + (e.code || e.message) + '\\n'); process.exit(2); });
server.listen({ host, port: Number(port), exclusive: true }, () => process.stdout.write('READY\\n'));
// Bounded life: exits with its parent (stdin closes) or after maxMs at the latest.
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
setTimeout(() => process.exit(0), Number(maxMs)).unref();
`;

/** Client run by `ip netns exec NS node -e`: argv = host port timeoutMs [localAddress]. */
const CONNECT_SCRIPT = `
const net = require('node:net');
const [host, port, timeoutMs, localAddress] = process.argv.slice(1);
const done = (r) => { process.stdout.write(JSON.stringify(r) + '\\n'); process.exit(0); };
const timer = setTimeout(() => { done({ ok: false, error: 'ETIMEDOUT' }); }, Number(timeoutMs));
const opts = { host, port: Number(port) };
if (localAddress) opts.localAddress = localAddress;
const s = net.connect(opts);
let data = '', local = {};
s.on('connect', () => { local = { localAddress: s.localAddress, localPort: s.localPort }; });
s.on('data', (d) => { data += d; });
s.on('error', (e) => { clearTimeout(timer); done({ ok: false, error: e.code || e.message }); });
s.on('end', () => {
  clearTimeout(timer);
  try { done({ ok: true, ...local, reply: JSON.parse(data) }); }
  catch { done({ ok: false, ...local, error: 'bad reply: ' + data.slice(0, 200) }); }
});
`;

// ---------------------------------------------------------------------------------------------
// .link emulation (udev is not running, so nothing renames interfaces by itself)
// ---------------------------------------------------------------------------------------------

interface LinkFileRule {
  file: string;
  macs?: string[];
  originalNames?: string[];
  types?: string[];
  kinds?: string[];
  name?: string;
  macAddress?: string;
}

function parseUnitSections(text: string): Map<string, Array<[string, string]>> {
  const sections = new Map<string, Array<[string, string]>>();
  let cur: Array<[string, string]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      cur = sections.get(m[1]!) ?? [];
      sections.set(m[1]!, cur);
      continue;
    }
    const i = line.indexOf('=');
    if (cur && i > 0) cur.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
  }
  return sections;
}

function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

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
  async link(
    nsA: string,
    devA: string | undefined,
    nsB: string,
    devB: string | undefined,
    opts: LinkOptions = {},
  ): Promise<{ a: string; b: string }> {
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
  async applyLinkFiles(ns: string, unitDir: string): Promise<Array<{ from: string; to: string }>> {
    const files = (await readdir(unitDir)).filter((f) => f.endsWith('.link')).sort();
    const rules: LinkFileRule[] = [];
    for (const f of files) {
      const sections = parseUnitSections(await readFile(join(unitDir, f), 'utf8'));
      const rule: LinkFileRule = { file: f };
      for (const [k, v] of sections.get('Match') ?? []) {
        const list = v.split(/\s+/).filter(Boolean);
        if (k === 'MACAddress') rule.macs = [...(rule.macs ?? []), ...list.map((m) => m.toLowerCase())];
        else if (k === 'OriginalName') rule.originalNames = [...(rule.originalNames ?? []), ...list];
        else if (k === 'Type') rule.types = [...(rule.types ?? []), ...list];
        else if (k === 'Kind') rule.kinds = [...(rule.kinds ?? []), ...list];
        else throw new Error(`${f}: [Match] ${k}= is not emulated by the test bed; name the device with bed.rename()`);
      }
      for (const [k, v] of sections.get('Link') ?? []) {
        if (k === 'Name') rule.name = v;
        else if (k === 'MACAddress') rule.macAddress = v;
      }
      rules.push(rule);
    }
    const links = await this.ipJson<IpLink[]>(ns, ['-d', 'link']);
    const done: Array<{ from: string; to: string }> = [];
    for (const l of links) {
      if (l.ifname === 'lo') continue;
      const mac = (l.address ?? '').toLowerCase();
      const rule = rules.find(
        (r) =>
          (!r.macs || r.macs.includes(mac)) &&
          (!r.originalNames || r.originalNames.some((g) => globToRegExp(g).test(l.ifname))) &&
          (!r.types || r.types.includes(l.link_type ?? '')) &&
          (!r.kinds || r.kinds.includes(l.linkinfo?.info_kind ?? '')),
      );
      if (!rule) continue;
      if (rule.macAddress) await this.ip(ns, ['link', 'set', 'dev', l.ifname, 'address', rule.macAddress]);
      if (rule.name && rule.name !== l.ifname) {
        await this.rename(ns, l.ifname, rule.name);
        done.push({ from: l.ifname, to: rule.name });
      }
    }
    return done;
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
    const full = this.nsName(ns);
    const prev = this.networkds.get(ns);
    if (prev?.running()) throw new Error(`systemd-networkd already runs in '${ns}' (pid ${prev.pid}); stop() it first`);
    const staged = await stageUnitDir(unitDir);
    this.tempDirs.add(staged);

    if (opts.until === 'static' && (opts.logLevel ?? 'debug') !== 'debug') {
      throw new Error("until: 'static' reads networkd's debug log; do not lower logLevel");
    }
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const pollMs = opts.pollMs ?? 100;
    const until = opts.until ?? 'configured';
    const started = Date.now();
    const child = this.track(
      spawn(
        'ip',
        ['netns', 'exec', full, 'unshare', '--mount', 'sh', '-c', NETWORKD_SCRIPT, 'sh', staged, opts.systemUnits ? '0' : '1'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
            SYSTEMD_LOG_LEVEL: opts.logLevel ?? 'debug',
            // Never the host journal or /dev/kmsg: keep the log in this process.
            SYSTEMD_LOG_TARGET: 'console',
            SYSTEMD_LOG_COLOR: '0',
          },
        },
      ),
    );
    let log = '';
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    let spawnError: Error | undefined;
    child.once('error', (e) => (spawnError = e));
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start systemd-networkd: ${spawnError?.message ?? 'no pid'}`);

    const isRunning = () => child.exitCode === null && child.signalCode === null;
    const snapshot = async (): Promise<NetworkdSnapshot> => {
      const [states, kernelLinks, dump] = await Promise.all([
        readLinkStateFiles(pid),
        this.ipJson<IpLink[]>(ns, ['link']),
        this.dump(ns),
      ]);
      const byIndex = new Map(kernelLinks.map((l) => [l.ifindex, l.ifname]));
      const links: NetworkdLinkState[] = [...states].map(([ifindex, raw]) => ({
        ifindex,
        name: byIndex.get(ifindex) ?? `#${ifindex}`,
        adminState: raw.ADMIN_STATE ?? 'unknown',
        operState: raw.OPER_STATE ?? 'unknown',
        ...(raw.NETWORK_FILE ? { networkFile: raw.NETWORK_FILE } : {}),
        raw,
      }));
      return { links: links.sort((a, b) => a.ifindex - b.ifindex), kernelLinks, dump };
    };

    let readyAfterMs = 0;
    const handle: NetworkdHandle = {
      pid,
      ns,
      get readyAfterMs() {
        return readyAfterMs;
      },
      log: () => log,
      links: async () => {
        if (!isRunning()) throw new Error(`systemd-networkd (pid ${pid}) in '${ns}' is not running`);
        return (await snapshot()).links;
      },
      running: isRunning,
      stop: () => terminate(child),
    };
    this.networkds.set(ns, handle);

    const describe = (snap: NetworkdSnapshot | undefined) =>
      (snap?.links ?? []).map((l) => `${l.name}=${l.adminState}/${l.operState}`).join(', ') || '(no link state yet)';
    const fail = async (why: string, snap: NetworkdSnapshot | undefined): Promise<never> => {
      await handle.stop();
      const tail = log.split('\n').slice(-60).join('\n');
      throw new Error(`systemd-networkd in '${ns}': ${why}; links: ${describe(snap)}\n--- networkd log (tail) ---\n${tail}`);
    };

    let last: NetworkdSnapshot | undefined;
    try {
      for (;;) {
        if (!isRunning() || spawnError) {
          return fail(`exited early (code ${child.exitCode}, signal ${child.signalCode}${spawnError ? `, ${spawnError.message}` : ''})`, last);
        }
        last = await snapshot();
        const enumerated = last.kernelLinks.every((k) => last!.links.some((l) => l.ifindex === k.ifindex));
        let ready: boolean;
        if (typeof until === 'function') {
          ready = await until(last);
        } else if (until === 'enumerated') {
          ready = enumerated;
        } else {
          const bad = last.links.find((l) => l.adminState === 'failed' || l.adminState === 'linger');
          if (bad) return fail(`link ${bad.name} is ${bad.adminState}`, last);
          ready =
            enumerated &&
            last.links.every(
              (l) =>
                l.adminState === 'configured' ||
                l.adminState === 'unmanaged' ||
                (until === 'static' && l.adminState === 'configuring' && staticDone(log, l.name)),
            );
        }
        if (ready) {
          readyAfterMs = Date.now() - started;
          return handle;
        }
        if (Date.now() - started > timeoutMs) return fail(`not ready after ${timeoutMs} ms`, last);
        await sleep(pollMs);
      }
    } catch (e) {
      await handle.stop(); // never leave a networkd running behind a failed start
      throw e;
    }
  }

  /**
   * Starts a TCP server inside `ns` bound to host:port (a node process in the namespace).
   * Resolves once it listens; rejects with the bind error otherwise (e.g. EADDRNOTAVAIL).
   * Every client gets one JSON line describing the connection, then EOF.
   */
  async listen(ns: string, host: string, port: number, opts: { timeoutMs?: number; maxLifetimeMs?: number } = {}): Promise<ListenHandle> {
    const child = this.track(
      spawn('ip', ['netns', 'exec', this.nsName(ns), process.execPath, '-e', LISTEN_SCRIPT, host, String(port), String(opts.maxLifetimeMs ?? 300_000)], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: cleanNodeEnv(),
      }),
    );
    const connections: ConnInfo[] = [];
    let stderr = '';
    let buf = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`listen ${host}:${port} in '${ns}': no READY within timeout\n${stderr}`)), opts.timeoutMs ?? 10_000);
      child.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === 'READY') {
            clearTimeout(timer);
            resolve();
          } else if (line.startsWith('CONN ')) connections.push(JSON.parse(line.slice(5)) as ConnInfo);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`listen ${host}:${port} in '${ns}' failed (exit ${code}): ${stderr.trim()}`));
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const handle: ListenHandle = {
      pid: child.pid ?? -1,
      ns,
      host,
      port,
      connections,
      close: async () => {
        child.stdin?.end();
        await terminate(child);
      },
    };
    try {
      await ready;
    } catch (e) {
      await handle.close();
      throw e;
    }
    return handle;
  }

  /**
   * Connects from inside `ns` to host:port (a node process in the namespace), reads the
   * listener's reply and reports. Network errors are returned (`ok: false`), not thrown,
   * so negative checks are easy; bounded by `timeoutMs` (default 5 s).
   */
  async connect(ns: string, host: string, port: number, opts: { timeoutMs?: number; localAddress?: string } = {}): Promise<ConnectResult> {
    const timeoutMs = opts.timeoutMs ?? 5_000;
    const argv = [process.execPath, '-e', CONNECT_SCRIPT, host, String(port), String(timeoutMs)];
    if (opts.localAddress) argv.push(opts.localAddress);
    const child = this.track(
      spawn('ip', ['netns', 'exec', this.nsName(ns), ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanNodeEnv() }),
    );
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const hardStop = setTimeout(() => void terminate(child, 500), timeoutMs + 5_000);
    try {
      await exited(child);
    } finally {
      clearTimeout(hardStop);
    }
    const line = out.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line) as ConnectResult;
    } catch {
      throw new Error(`connect helper in '${ns}' gave no result (exit ${child.exitCode}): ${err.trim() || out.trim()}`);
    }
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

/** Namespaces of this module (any bed, any process) that currently exist: for leak checks. */
export async function listBedNamespaces(): Promise<string[]> {
  const r = await run('ip', ['-j', 'netns', 'list'], { reject: false });
  if (r.exitCode !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as Array<{ name: string }>).map((n) => n.name).filter((n) => n.startsWith(NS_PREFIX));
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
