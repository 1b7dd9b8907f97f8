/**
 * The real systemd-networkd in a namespace of a bed: a private mount namespace where the unit dir
 * under test is /etc/systemd/network, readiness read from networkd's own link state files, and
 * a handle to stop it. Used through `TestBed.runNetworkd` (test/harness/netns.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, cp, mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IpLink, NetDump } from './ip-dump.js';
import { run, sleep, terminate } from './process.js';
import { walkTree } from './tree.js';

/** Path of the networkd binary (systemd 252 on Debian bookworm). */
export const NETWORKD_BIN = '/lib/systemd/systemd-networkd';

/** What the runner needs of the bed that owns the namespace. */
export interface NetworkdBed {
  nsName(ns: string): string;
  ipJson<T = unknown>(ns: string, args: readonly string[]): Promise<T>;
  dump(ns: string): Promise<NetDump>;
  /** Tracks a long-running child, for the bed's cleanup. */
  track(child: ChildProcess): ChildProcess;
  /** A temp dir the bed deletes at cleanup. */
  ownDir(dir: string): void;
  /** Records the running networkd of `ns` (one at a time per namespace). */
  register(ns: string, handle: NetworkdHandle): void;
}

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
    [
      '-t',
      String(pid),
      '-m',
      'sh',
      '-c',
      'cd /run/systemd/netif/links 2>/dev/null || exit 0; for f in *; do [ -f "$f" ] && { echo "@@@ $f"; cat "$f"; }; done',
    ],
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
  return /^(IPv6LL is not configured yet|DHCP4, DHCP6 or IPv4LL is enabled but no dynamic address|dynamic addresses or routes are not configured|IPv4LL:|dhcp4:)/.test(
    msg,
  );
}

/** Copies `unitDir` to a private dir readable by the systemd-network user (networkd drops root). */
async function stageUnitDir(unitDir: string): Promise<string> {
  const st = await stat(unitDir);
  if (!st.isDirectory()) throw new Error(`unit dir ${unitDir} is not a directory`);
  const staged = await mkdtemp(join(tmpdir(), 'hpa-units-'));
  await cp(unitDir, staged, { recursive: true });
  await chmod(staged, 0o755);
  for (const e of walkTree(staged)) {
    if (e.dirent.isDirectory()) await chmod(e.path, 0o755);
    else if (e.dirent.isFile()) await chmod(e.path, 0o644);
  }
  return staged;
}

/**
 * Runs the real systemd-networkd in `ns` against (a copy of) `unitDir` and waits for the
 * readiness condition (see {@link RunNetworkdOptions.until}). Only one networkd per
 * namespace at a time: `stop()` the previous one before running it again (a rerun reads
 * the unit dir afresh and starts with fresh private state, like a reboot without the
 * kernel state being reset). On failure networkd is stopped and the error carries the
 * link states and the tail of its log.
 */
export async function startNetworkd(bed: NetworkdBed, ns: string, unitDir: string, opts: RunNetworkdOptions = {}): Promise<NetworkdHandle> {
  const full = bed.nsName(ns);
  const staged = await stageUnitDir(unitDir);
  bed.ownDir(staged);

  if (opts.until === 'static' && (opts.logLevel ?? 'debug') !== 'debug') {
    throw new Error("until: 'static' reads networkd's debug log; do not lower logLevel");
  }
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const pollMs = opts.pollMs ?? 100;
  const until = opts.until ?? 'configured';
  const started = Date.now();
  const child = bed.track(
    spawn('ip', ['netns', 'exec', full, 'unshare', '--mount', 'sh', '-c', NETWORKD_SCRIPT, 'sh', staged, opts.systemUnits ? '0' : '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        SYSTEMD_LOG_LEVEL: opts.logLevel ?? 'debug',
        // Never the host journal or /dev/kmsg: keep the log in this process.
        SYSTEMD_LOG_TARGET: 'console',
        SYSTEMD_LOG_COLOR: '0',
      },
    }),
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
    const [states, kernelLinks, dump] = await Promise.all([readLinkStateFiles(pid), bed.ipJson<IpLink[]>(ns, ['link']), bed.dump(ns)]);
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
  bed.register(ns, handle);

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
