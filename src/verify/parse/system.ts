/**
 * Small parsers: the script's meta section, `ps` lines, `systemctl is-active`, resolv.conf.
 * Pure.
 */
import type { ProcessInfo, ServiceState } from '../types.js';

export interface Meta {
  uid?: number;
  time?: number;
  hostname?: string;
  /** The inode of the script's own network namespace, from `net:[4026531833]`. */
  selfNetns?: string;
  systemd: boolean;
}

export function parseMeta(text: string): Meta {
  const meta: Meta = { systemd: false };
  for (const line of text.split('\n')) {
    const i = line.indexOf(' ');
    const key = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).trim();
    if (key === 'uid' && /^\d+$/u.test(value)) meta.uid = Number(value);
    else if (key === 'time' && /^\d+$/u.test(value)) meta.time = Number(value);
    else if (key === 'hostname' && value) meta.hostname = value;
    else if (key === 'selfnet') {
      const m = /net:\[(\d+)\]/u.exec(value);
      if (m) meta.selfNetns = m[1]!;
    } else if (key === 'systemd') meta.systemd = value === 'yes';
  }
  return meta;
}

/**
 * The script's `processes` section: a `fields …` line naming the columns, then ps lines
 * (`pid netns etimes comm args…`; netns is `-` when ps cannot read it).
 */
export function parseProcesses(text: string): ProcessInfo[] {
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('fields '));
  if (!header) return [];
  const fields = header.slice('fields '.length).trim().split(/\s+/u);
  if (fields[0] === 'none') return [];
  const out: ProcessInfo[] = [];
  for (const line of lines) {
    if (line.startsWith('fields ') || !line.trim()) continue;
    const cols = line.trim().split(/\s+/u);
    const argsAt = fields.indexOf('args');
    if (cols.length < argsAt) continue;
    const get = (f: string) => cols[fields.indexOf(f)];
    const pid = Number(get('pid'));
    if (!Number.isInteger(pid)) continue;
    const netns = get('netns');
    const etimes = get('etimes');
    out.push({
      pid,
      comm: get('comm') ?? '',
      args: cols.slice(argsAt).join(' '),
      ...(etimes !== undefined && /^\d+$/u.test(etimes) && { elapsed: Number(etimes) }),
      ...(netns !== undefined && /^\d+$/u.test(netns) && { netns }),
    });
  }
  return out;
}

/** The services the verifier reports, with the names they go by. */
export const SERVICES: { name: string; units: string[]; comm: string }[] = [
  { name: 'haproxy', units: ['haproxy'], comm: 'haproxy' },
  { name: 'dataplaneapi', units: ['dataplaneapi'], comm: 'dataplaneapi' },
  // Photon OS calls the unit sshd, Debian ssh (with an sshd alias).
  { name: 'sshd', units: ['sshd', 'ssh'], comm: 'sshd' },
  // comm is cut at 15 characters.
  { name: 'systemd-networkd', units: ['systemd-networkd'], comm: 'systemd-network' },
];

/** The units `systemctl is-active` was asked about, in the script's order. */
export const SYSTEMCTL_UNITS = ['haproxy', 'dataplaneapi', 'sshd', 'ssh', 'systemd-networkd'];

/**
 * Service states from `systemctl is-active` (one state per unit, in {@link SYSTEMCTL_UNITS}
 * order), or, without systemd, from process presence: a process of that name in the same
 * network namespace as the script (when ps could tell namespaces apart).
 */
export function serviceStates(opts: { systemctl?: string; processes: ProcessInfo[]; selfNetns?: string }): ServiceState[] {
  const procs = opts.processes.filter((p) => !opts.selfNetns || p.netns === undefined || p.netns === opts.selfNetns);
  if (opts.systemctl !== undefined) {
    const states = opts.systemctl
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
    const byUnit = new Map(SYSTEMCTL_UNITS.map((u, i) => [u, states[i] ?? 'unknown']));
    return SERVICES.map((s) => {
      const found = s.units.map((u) => byUnit.get(u) ?? 'unknown');
      const state = found.find((f) => f === 'active') ?? found.find((f) => f !== 'inactive' && f !== 'unknown') ?? found[0]!;
      return { name: s.name, state, active: state === 'active', method: 'systemd', pids: procs.filter((p) => p.comm === s.comm).map((p) => p.pid) };
    });
  }
  return SERVICES.map((s) => {
    const pids = procs.filter((p) => p.comm === s.comm).map((p) => p.pid);
    return { name: s.name, state: pids.length ? 'running' : 'not running', active: pids.length > 0, method: 'process', pids };
  });
}

/** `nameserver` lines of a resolv.conf. */
export function parseResolvConf(text: string): string[] {
  return text.split('\n').flatMap((l) => {
    const m = /^\s*nameserver\s+(\S+)/u.exec(l);
    return m ? [m[1]!] : [];
  });
}

/**
 * The search list of a resolv.conf: its last `search` or `domain` line (resolv.conf(5): the two
 * are exclusive, the last one wins); empty when it has neither.
 */
export function parseResolvSearch(text: string): string[] {
  let list: string[] = [];
  for (const l of text.split('\n')) {
    const m = /^\s*(search|domain)\s+(.*)$/u.exec(l);
    if (m) list = m[2]!.split(/\s+/u).filter(Boolean);
  }
  return list;
}
