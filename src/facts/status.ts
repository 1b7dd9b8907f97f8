/**
 * What `haproxy-appliance status` reads (src/cli/status.ts): state.json, whether a provision run
 * is in progress, the state of the agent's unit and of the services it configures, and the
 * versions of the agent, haproxy and the Data Plane API. Reads only, and never anything that
 * could get in the way of a provision run: the run lock is never taken, not even for a moment
 * (a first-boot run starting at that instant would fail on it); whether it is held is read from
 * /proc/locks, and on the live system also from the holder's PID in the lock file.
 *
 * Under `--root DIR` (a sandbox, an image, a test's tree) everything is read under DIR, nothing
 * is run and systemd is not asked: the versions come from DIR's dpkg database, and the run lock
 * is DIR itself (as src/apply/lock.ts takes it). Without systemd, or without a tool, each part
 * says it is unknown and why, and the rest is read as usual.
 */
import { readFile, stat } from 'node:fs/promises';
import { DATAPLANEAPI_BIN, RUN_LOCK, STATE_FILE } from '../appliance/paths.js';
import { readUnderRoot } from '../util/root.js';
import { run } from '../util/run.js';
import { dataplaneVersion, dpkgVersion, DPKG_STATUS } from './gather.js';

/** The agent's first-boot unit (firstboot/haproxy-appliance.service). */
export const AGENT_UNIT = 'haproxy-appliance.service';
/** The services status reports on, in this order. */
export const STATUS_SERVICES = ['haproxy.service', 'dataplaneapi.service', 'systemd-networkd.service'] as const;

/** One unit as `systemctl show` says it. */
export interface UnitState {
  unit: string;
  /** ActiveState: active, inactive, activating, deactivating, failed, reloading. */
  active: string;
  sub?: string;
  /** LoadState: loaded, not-found, masked… */
  load?: string;
  /** A queued job (`start`), when there is one. */
  job?: string;
}

export interface StatusFacts {
  /** `/` (the live system) or the --root directory. */
  root: string;
  /** state.json's text, when there is one; `stateProblem` when it cannot be read. */
  stateText?: string;
  stateProblem?: string;
  /** The run lock: held (by whom, when known), free, or unknown (why). */
  lock: { held: true; pid?: number } | { held: false } | { held: 'unknown'; why: string };
  /** The agent's unit and the services; `unitsUnknown`: why they could not be read. */
  agentUnit?: UnitState;
  services?: UnitState[];
  unitsUnknown?: string;
  versions: { agent: string; haproxy?: string; dataplaneapi?: string };
  /** Why a version is missing, one line each. */
  notes: string[];
}

/** One lock of /proc/locks: its type (FLOCK, POSIX, OFDLCK), the device (major, minor) and inode. */
export interface ProcLock {
  type: string;
  pid: number;
  major: number;
  minor: number;
  inode: bigint;
}

/** Parses /proc/locks (`1: FLOCK  ADVISORY  WRITE 24740 fe:00:2150596 0 EOF`); waiters (`->`) are left out. */
export function parseProcLocks(text: string): ProcLock[] {
  const out: ProcLock[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+\S+\s+\S+\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/u.exec(line);
    if (!m) continue;
    out.push({ type: m[1]!, pid: Number(m[2]), major: parseInt(m[3]!, 16), minor: parseInt(m[4]!, 16), inode: BigInt(m[5]!) });
  }
  return out;
}

/** glibc's major()/minor() of a st_dev. */
export function devParts(dev: bigint): { major: number; minor: number } {
  return {
    major: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n)),
    minor: Number((dev & 0xffn) | ((dev >> 12n) & 0xffffff00n)),
  };
}

/** Whether /proc/locks shows a flock on the file with this device and inode. */
export function flockedIn(locks: readonly ProcLock[], dev: bigint, inode: bigint): boolean {
  const { major, minor } = devParts(dev);
  return locks.some((l) => l.type === 'FLOCK' && l.inode === inode && l.major === major && l.minor === minor);
}

/** Whether a process is a live provision run of the agent (its command line names the agent and `provision`, not `--dry-run` or `--root`). */
async function isProvisionRun(pid: number): Promise<boolean> {
  if (pid === process.pid) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  const args = cmdline.split('\0');
  // A dry run or a --root run takes no lock here: a PID reused by one is not the holder.
  return (
    args.includes('provision') &&
    args.some((a) => a.includes('haproxy-appliance')) &&
    !args.some((a) => a === '--dry-run' || a === '--root' || a.startsWith('--root='))
  );
}

/**
 * Whether the run lock is held, without taking it. /proc/locks shows it where the process that
 * locked it (flock(1), which has ended by then) is in this PID namespace's view; in a container
 * the kernel hides it, so on the live system the PID the holder wrote in the lock file is
 * checked too (a live process running `haproxy-appliance … provision`).
 */
async function readLock(root: string): Promise<StatusFacts['lock']> {
  const path = root === '/' ? RUN_LOCK : root;
  const st = await stat(path, { bigint: true }).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error) return st.code === 'ENOENT' ? { held: false } : { held: 'unknown', why: `cannot read ${path}: ${st.message}` };
  const pidText = root === '/' ? (await readFile(path, 'utf8').catch(() => '')).trim() : '';
  const pid = /^\d+$/u.test(pidText) ? Number(pidText) : undefined;
  let locksText: string | undefined;
  try {
    locksText = await readFile('/proc/locks', 'utf8');
  } catch {
    locksText = undefined;
  }
  if (locksText !== undefined && flockedIn(parseProcLocks(locksText), st.dev, st.ino)) return { held: true, ...(pid !== undefined && { pid }) };
  if (pid !== undefined && (await isProvisionRun(pid))) return { held: true, pid };
  if (locksText === undefined) return { held: 'unknown', why: '/proc/locks cannot be read' };
  return { held: false };
}

/** Parses `systemctl show -p Id -p ActiveState …` of several units (blocks separated by blank lines). */
export function parseSystemctlShow(text: string): UnitState[] {
  const out: UnitState[] = [];
  for (const block of text.split(/\n\s*\n/u)) {
    const kv = new Map<string, string>();
    for (const line of block.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim());
    }
    const unit = kv.get('Id');
    if (!unit) continue;
    const job = kv.get('Job');
    out.push({
      unit,
      active: kv.get('ActiveState') || 'unknown',
      ...(kv.get('SubState') && { sub: kv.get('SubState') }),
      ...(kv.get('LoadState') && { load: kv.get('LoadState') }),
      ...(job && { job }),
    });
  }
  return out;
}

/** The units' states from systemd (read-only `systemctl show`), or why not. */
async function readUnits(): Promise<Pick<StatusFacts, 'agentUnit' | 'services' | 'unitsUnknown'>> {
  const units = [AGENT_UNIT, ...STATUS_SERVICES];
  const r = await run(['systemctl', 'show', '-p', 'Id', '-p', 'LoadState', '-p', 'ActiveState', '-p', 'SubState', '-p', 'Job', ...units], {
    timeoutMs: 10_000,
  });
  if (r.notFound) return { unitsUnknown: 'systemctl is not installed' };
  if (r.exitCode !== 0) {
    const why = r.timedOut ? 'systemctl timed out' : r.stderr.trim().split('\n')[0] || `systemctl exited ${r.exitCode ?? 'on a signal'}`;
    return { unitsUnknown: why };
  }
  const shown = parseSystemctlShow(r.stdout);
  const byName = new Map(shown.map((u) => [u.unit, u]));
  const agent = byName.get(AGENT_UNIT);
  return {
    ...(agent && { agentUnit: agent }),
    services: STATUS_SERVICES.map((u) => byName.get(u) ?? { unit: u, active: 'unknown' }),
  };
}

/** `HAProxy version 2.6.12-1+deb12u1 2023/12/16 - https://haproxy.org/` → `2.6.12-1+deb12u1`. */
export function haproxyVersionOf(output: string): string | undefined {
  return /\bHA-?Proxy version (\S+)/iu.exec(output)?.[1];
}

/** The version in `dataplaneapi --version` (`HAProxy Data Plane API v2.8.1 4bd4e67`) or the line itself. */
export function dataplaneVersionOf(output: string): string | undefined {
  const first = output
    .split('\n')
    .find((l) => l.trim() !== '')
    ?.trim();
  if (!first) return undefined;
  const m = /\bv?(\d+\.\d+(?:\.\d+)?(?:[-+.][0-9A-Za-z.+-]*)?)/u.exec(first);
  return m ? m[1] : first.slice(0, 80);
}

async function readVersions(root: string, agent: string): Promise<Pick<StatusFacts, 'versions' | 'notes'>> {
  const notes: string[] = [];
  const versions: StatusFacts['versions'] = { agent };
  if (root === '/') {
    const h = await run(['haproxy', '-v'], { timeoutMs: 10_000 });
    const hv = h.notFound ? undefined : haproxyVersionOf(`${h.stdout}\n${h.stderr}`);
    if (hv) versions.haproxy = hv;
    else notes.push(h.notFound ? 'haproxy is not installed' : 'haproxy -v gave no version');
  } else {
    const status = (await readUnderRoot(root, DPKG_STATUS).catch(() => undefined))?.content;
    const hv = status === undefined ? undefined : dpkgVersion(status, 'haproxy');
    if (hv) versions.haproxy = hv;
    else notes.push(`haproxy: no version (under --root nothing is run, and ${DPKG_STATUS} there records no haproxy package)`);
  }
  const d = await dataplaneVersion(root, undefined).catch((err: Error) => ({ output: undefined, unknown: err.message }));
  const dv = d.unknown === undefined && d.output !== undefined ? dataplaneVersionOf(d.output.replace(/\s*\(\/var\/lib\/dpkg\/status\)$/u, '')) : undefined;
  if (dv) versions.dataplaneapi = dv;
  else
    notes.push(d.output === undefined ? `the Data Plane API is not installed (${DATAPLANEAPI_BIN})` : `dataplaneapi: no version (${d.unknown ?? 'unknown'})`);
  return { versions, notes };
}

/** Everything status shows, read from `root` (`/`: the live system). */
export async function readStatusFacts(root: string, agentVersion: string): Promise<StatusFacts> {
  let stateText: string | undefined;
  let stateProblem: string | undefined;
  try {
    stateText = (await readUnderRoot(root, STATE_FILE))?.content;
  } catch (err) {
    stateProblem = `${STATE_FILE} cannot be read: ${(err as Error).message}`;
  }
  const [lock, units, versions] = await Promise.all([
    readLock(root),
    root === '/' ? readUnits() : Promise.resolve({ unitsUnknown: 'not read under --root (a sandbox has no running services)' }),
    readVersions(root, agentVersion),
  ]);
  return {
    root,
    ...(stateText !== undefined && { stateText }),
    ...(stateProblem !== undefined && { stateProblem }),
    lock,
    ...units,
    ...versions,
  };
}
