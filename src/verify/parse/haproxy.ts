/**
 * What the verifier needs from haproxy: the `bind` lines of every frontend/listen section of
 * haproxy.cfg, and the verdict of `haproxy -c`. Pure. Section boundaries come from
 * src/plan/haproxy-sections.ts, the same reading the agent merges the file with.
 */
import { parseSections } from '../../plan/haproxy-sections.js';
import type { HaproxyBind } from '../types.js';

/** One bind address (`192.168.0.1:443`, `:80`, `ipv4@*:80`, `[::]:443`, `unix@/run/x.sock`). */
export function parseBindAddress(text: string): Pick<HaproxyBind, 'address' | 'port' | 'portEnd'> {
  let t = text;
  const at = /^([a-z0-9]+)@(.*)$/u.exec(t);
  let family: string | undefined;
  if (at) {
    family = at[1]!;
    t = at[2]!;
    if (!['ipv4', 'ipv6', 'tcp', 'tcp4', 'tcp6'].includes(family)) return {};
  }
  if (t.startsWith('/') || t.includes('${')) return {};
  let host: string;
  let portText: string;
  const bracket = /^\[([^\]]*)\]:(.+)$/u.exec(t);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2]!;
  } else {
    const i = t.lastIndexOf(':');
    if (i < 0) return {};
    host = t.slice(0, i);
    portText = t.slice(i + 1);
  }
  const ports = /^(\d+)(?:-(\d+))?$/u.exec(portText);
  if (!ports) return {};
  const v6 = family === 'ipv6' || family === 'tcp6' || host.includes(':');
  if (host === '' || host === '*') host = v6 ? '::' : '0.0.0.0';
  return { address: host, port: Number(ports[1]), ...(ports[2] && { portEnd: Number(ports[2]) }) };
}

/** Every `bind` of the frontend and listen sections, with its line number (1-based). */
export function parseBinds(cfg: string): HaproxyBind[] {
  const out: HaproxyBind[] = [];
  const parsed = parseSections(cfg);
  let lineNo = 1 + (parsed.preamble.match(/\n/gu)?.length ?? 0);
  for (const s of parsed.sections) {
    if (s.keyword !== 'frontend' && s.keyword !== 'listen') {
      // Only its line count matters (half the lines of 10,000 Data Plane API pairs are backends).
      for (let i = s.text.indexOf('\n'); i >= 0; i = s.text.indexOf('\n', i + 1)) lineNo++;
      continue;
    }
    const lines = s.text.split('\n');
    const disabled = lines.slice(1).some((l) => /^\s*disabled\s*(#.*)?$/u.test(l));
    lines.forEach((l, i) => {
      // Cheap test first: most lines of a frontend are not binds.
      if (!l.includes('bind')) return;
      const m = /^\s*bind\s+(\S+)/u.exec(l.replace(/\s#.*$/u, ''));
      if (!m) return;
      for (const addr of m[1]!.split(',')) {
        out.push({
          section: `${s.keyword} ${s.name}`,
          text: addr,
          line: lineNo + i,
          ...parseBindAddress(addr),
          ...(disabled && { disabled }),
        });
      }
    });
    lineNo += lines.length - 1;
  }
  return out;
}

/** The lines of `haproxy -c` output worth showing: ALERTs first, then WARNINGs. */
export function haproxyCheckSummary(output: string, max = 3): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const alerts = lines.filter((l) => l.includes('[ALERT]'));
  const warnings = lines.filter((l) => l.includes('[WARNING]'));
  const pick = (alerts.length ? alerts : warnings.length ? warnings : lines).slice(0, max);
  return pick.map((l) => l.replace(/^\[(ALERT|WARNING)\]\s*\(\d+\)\s*:\s*/u, '$1: ')).join(' | ');
}

/** `HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/` → `2.6.12-1+deb12u4`. */
export function parseHaproxyVersion(text: string): string | undefined {
  return /(?:HA-Proxy|HAProxy) version (\S+)/u.exec(text)?.[1];
}
