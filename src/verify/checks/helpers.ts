/**
 * Helpers the check families share: the result constructor and questions over what was
 * observed (who listens, what is local, which services run). Pure.
 */
import { inCidr } from '../routing.js';
import type { CheckInput, CheckResult, Listener, Observed, Route, Status } from '../types.js';
import type { CheckContext } from './check.js';

export const DAY = 86_400_000;

/** One result; the remedy is kept for warn and fail only. */
export function r(id: string, status: Status, message: string, remedy?: string, subject?: string): CheckResult {
  // Fields set one by one, not spread (10,000 results with 10,000 Data Plane API services); the order is the JSON report's.
  const out: CheckResult = subject !== undefined ? { id, subject, status, message } : { id, status, message };
  if (remedy !== undefined && status !== 'pass' && status !== 'skip') out.remedy = remedy;
  return out;
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function managementAddress(input: CheckInput): string | undefined {
  const nic = input.expected?.config.network.management;
  if (nic?.address) return nic.address.address;
  const live = input.observed.interfaces?.find((i) => i.name === 'management')?.ipv4[0];
  return live?.split('/')[0];
}

export function serviceRanges(input: CheckInput): string[] {
  return input.expected?.config.loadbalance.serviceIpRanges ?? [];
}

export function localRoutes(observed: Observed): Route[] {
  return (observed.routes ?? []).filter((r) => r.table === 'local' && r.type === 'local');
}

/** Whether the kernel treats `address` as local: an AnyIP (local) route or an interface address. */
export function isLocal(observed: Observed, address: string): boolean {
  if (localRoutes(observed).some((r) => inCidr(address, r.dst))) return true;
  return (observed.interfaces ?? []).some((i) => i.ipv4.some((a) => a.split('/')[0] === address));
}

export function inRanges(address: string, ranges: string[]): boolean {
  return ranges.some((range) => inCidr(address, range));
}

export function processArgs(observed: Observed, comm: string): string[] {
  return (observed.processes ?? []).filter((p) => p.comm === comm).map((p) => p.args);
}

export function flag(args: string, name: string): string | undefined {
  return new RegExp(`--${name}[= ](\\S+)`, 'u').exec(args)?.[1];
}

/**
 * Whether a process called `name` owns the listener. netstat names a process by its argv[0]
 * (a script run by an interpreter shows as the interpreter), so the PID's comm counts too.
 */
export function ownedBy(input: CheckContext, l: Listener, name: string): boolean {
  return l.processes.some((p) => p.name === name || p.name.startsWith(`${name}:`) || (p.pid !== undefined && input.commByPid.get(p.pid) === name));
}

export function serviceActive(observed: Observed, name: string): boolean | undefined {
  return observed.services?.find((s) => s.name === name)?.active;
}

export function noProcessNames(observed: Observed): boolean {
  return observed.uid !== undefined && observed.uid !== 0;
}

export function listenerUnknown(id: string, observed: Observed, subject?: string): CheckResult {
  return r(
    id,
    'warn',
    `cannot tell what listens: ${observed.listenerProblem ?? 'no listener list was collected'}`,
    'install iproute2 (ss) or net-tools (netstat) on the appliance',
    subject,
  );
}

export function ipUnknown(id: string, observed: Observed, subject?: string): CheckResult {
  return r(id, 'warn', `cannot tell: ${observed.ipProblem ?? 'ip output was not collected'}`, 'install iproute2 on the appliance', subject);
}

export function routeText(rt: Route): string {
  const parts = [
    rt.type !== 'unicast' ? rt.type : '',
    rt.dst,
    rt.gateway ? `via ${rt.gateway}` : '',
    rt.dev ? `dev ${rt.dev}` : '',
    rt.table !== 'main' ? `table ${rt.table}` : '',
  ];
  return parts.filter(Boolean).join(' ');
}

/** The first host address of a network (the network address itself for /31 and /32). */
export function firstHost(cidr: string): string {
  const [addr, len] = cidr.split('/');
  const parts = addr!.split('.').map(Number);
  if (Number(len) >= 31) return addr!;
  parts[3] = (parts[3]! | 0) + 1;
  return parts.join('.');
}
