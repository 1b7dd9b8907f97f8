/**
 * TCP listeners from `ss -Htnlp` (iproute2) or `netstat -tnlp` (net-tools, as in the seed).
 * Pure: text in, listeners out. Lines that are neither are skipped.
 */
import type { Listener } from '../types.js';

/** A listening address, before its processes are known. */
type ListenerAddress = { address: string; port: number; family: 4 | 6; device?: string; dualStack?: boolean };

/** Splits `addr:port` as ss/netstat print it: `1.2.3.4:80`, `*:80`, `[::]:80`, `:::80`, `127.0.0.53%lo:53`. */
export function splitHostPort(text: string): ListenerAddress | undefined {
  const i = text.lastIndexOf(':');
  if (i < 0) return undefined;
  const portText = text.slice(i + 1);
  if (!/^\d+$/u.test(portText)) return undefined;
  const port = Number(portText);
  let host = text.slice(0, i);
  let device: string | undefined;
  const pct = host.lastIndexOf('%');
  if (pct >= 0 && !host.endsWith(']')) {
    device = host.slice(pct + 1);
    host = host.slice(0, pct);
  } else if (host.startsWith('[') && host.includes(']%')) {
    device = host.slice(host.indexOf(']%') + 2);
    host = host.slice(0, host.indexOf(']%') + 1);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const zone = host.indexOf('%');
  if (zone >= 0) {
    device ??= host.slice(zone + 1);
    host = host.slice(0, zone);
  }
  let family: 4 | 6;
  if (host === '*') {
    // ss prints `*` for a wildcard of both families (an IPv6 socket without IPV6_V6ONLY).
    const any: ListenerAddress = { address: '::', port, family: 6, dualStack: true };
    if (device) any.device = device;
    return any;
  }
  if (host === '' || host === '::') {
    host = '::';
    family = 6;
  } else if (host.includes(':')) {
    family = 6;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/iu.exec(host);
    if (mapped) {
      host = mapped[1]!;
      family = 4;
    }
  } else family = 4;
  // Fields set one by one, not spread: 10,000 listeners with 10,000 Data Plane API services.
  const out: ListenerAddress = { address: host, port, family };
  if (device) out.device = device;
  return out;
}

/** `users:(("haproxy",pid=5638,fd=7),("haproxy",pid=5639,fd=7))` → processes. */
function ssUsers(text: string): { name: string; pid?: number }[] {
  const out: { name: string; pid?: number }[] = [];
  const re = /\("((?:[^"\\]|\\.)*)",pid=(\d+)/gu;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const name = m[1]!;
    const pid = Number(m[2]);
    if (!out.some((p) => p.pid === pid)) out.push({ name, pid });
  }
  return out;
}

/** Parses `ss -Htnlp` (header optional). */
export function parseSs(text: string): Listener[] {
  const out: Listener[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('State ')) continue;
    const cols = line.split(/\s+/u);
    // State Recv-Q Send-Q Local Peer [Process]; with -t the state column is always there.
    if (cols.length < 5 || !/^\d+$/u.test(cols[1]!) || !/^\d+$/u.test(cols[2]!)) continue;
    if (cols[0] !== 'LISTEN') continue;
    const local = splitHostPort(cols[3]!);
    if (!local) continue;
    const rest = cols.slice(5).join(' ');
    // ss prints `[::]` only for an IPv6-only wildcard (a dual-stack one is `*`).
    if (local.address === '::' && !local.dualStack) local.dualStack = false;
    out.push(Object.assign(local, { processes: ssUsers(rest) }));
  }
  return out;
}

/** Parses `netstat -tnlp` (the seed's form, headers included). */
export function parseNetstat(text: string): Listener[] {
  const out: Listener[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const cols = line.split(/\s+/u);
    if (cols.length < 6 || !/^tcp6?$/u.test(cols[0]!)) continue;
    if (cols[5] !== 'LISTEN') continue;
    const local = splitHostPort(cols[3]!);
    if (!local) continue;
    // netstat prints IPv6 wildcards as `:::22`; the column tells the family anyway.
    if (cols[0] === 'tcp6' && local.family === 4 && !cols[3]!.includes('::ffff:')) local.family = 6;
    const proc = cols.slice(6).join(' ');
    const m = /^(\d+)\/([^\s:]+)/u.exec(proc);
    out.push(Object.assign(local, { processes: m ? [{ pid: Number(m[1]), name: m[2]! }] : [] }));
  }
  return out;
}

/** Whether a listener accepts connections to IPv4 `address` (exact, or a wildcard that covers IPv4). */
export function listensOn(l: Listener, address: string): boolean {
  if (l.address === address) return true;
  if (l.device && l.device !== 'lo') return false; // bound to one interface: be strict
  return l.address === '0.0.0.0' || (l.address === '::' && l.dualStack !== false);
}

export function isWildcard(l: Listener): boolean {
  return l.address === '0.0.0.0' || l.address === '::';
}

/** `name(pid)` list for messages. */
export function owners(l: Listener): string {
  if (l.processes.length === 0) return 'an unknown process';
  return [...new Set(l.processes.map((p) => p.name))].join(', ');
}

export function formatEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
