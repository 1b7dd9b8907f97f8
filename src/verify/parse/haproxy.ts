/**
 * What the verifier needs from haproxy: the `bind` lines of every frontend/listen section of
 * haproxy.cfg, and the verdict of `haproxy -c`. Pure. Section boundaries come from
 * src/plan/haproxy-sections.ts, the same reading the agent merges the file with.
 */
import { SECTION_KEYWORDS, sectionHeader } from '../../plan/haproxy-sections.js';
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

/**
 * The lines of haproxy.cfg that {@link parseBinds} looks at, as a POSIX extended regular
 * expression for `grep -n -E` on the appliance: a section keyword followed by anything but
 * `[a-z-]` (what `sectionHeader` takes for a header), `bind` and white space, `disabled`. The
 * verifier needs nothing else of the file, so the appliance sends these lines alone: with 10,000
 * Data Plane API pairs, 3 MB instead of 10 MB (src/verify/script.ts).
 */
export const BIND_LINES_ERE = `^[[:space:]]*((${[...SECTION_KEYWORDS].join('|')})([^a-z-]|$)|bind[[:space:]]|disabled([[:space:]]|#|$))`;

/**
 * Every `bind` of the frontend and listen sections, with its line number (1-based). One pass
 * over the lines, with the agent's own section-header test (`sectionHeader`, as `parseSections`
 * reads the file); a line is looked at further only when its first word is a section keyword,
 * `bind` or `disabled`.
 *
 * `numbered`: the text is `grep -n` output (`LINE:text`, lines of {@link BIND_LINES_ERE} only),
 * and each line's number is its prefix.
 */
export function parseBinds(cfg: string, opts: { numbered?: boolean } = {}): HaproxyBind[] {
  const out: HaproxyBind[] = [];
  let section: { keyword: string; name: string; label: string; binds: HaproxyBind[]; disabled: boolean } | undefined;
  const close = () => {
    if (section?.disabled) for (const b of section.binds) b.disabled = true;
  };
  // Each line by one native match (with its `N:` prefix when numbered), its first word by another:
  // a character loop stays in V8's interpreter for a one-shot run (110 ms for 30,000 lines).
  // Sticky, from one line's start to the next: lines end at \n only (`^` with the m flag would
  // also start one after a \r).
  const lines = opts.numbered ? /(?:(\d+):)?([^\n]*)\n?/uy : /()([^\n]*)\n?/uy;
  let lineNo = 0;
  for (let at = 0; at < cfg.length; at = lines.lastIndex) {
    lines.lastIndex = at;
    const m = lines.exec(cfg)!;
    // A numbered line without its number (not grep's output) is not read.
    if (opts.numbered && m[1] === undefined) continue;
    lineNo = opts.numbered ? Number(m[1]) : lineNo + 1;
    const line = m[2]!;
    const w = FIRST_WORD.exec(line);
    if (!w || w[1]!.length > LONGEST_WORD) continue;
    const first = w[1]!;
    if (SECTION_KEYWORDS.has(first)) {
      const h = sectionHeader(line);
      if (h) {
        close();
        // Fields written out: an object spread here took 100 ms for 20,000 sections, cold.
        section = { keyword: h.keyword, name: h.name, label: `${h.keyword} ${h.name}`, binds: [], disabled: false };
        continue;
      }
    }
    if (!section || (section.keyword !== 'frontend' && section.keyword !== 'listen')) continue;
    if (first === 'disabled') {
      if (/^\s*disabled\s*(#.*)?$/u.test(line)) section.disabled = true;
      continue;
    }
    if (first !== 'bind') continue;
    const bind = /^\s*bind\s+(\S+)/u.exec(line.replace(/\s#.*$/u, ''));
    if (!bind) continue;
    for (const addr of bind[1]!.split(',')) {
      const b: HaproxyBind = Object.assign({ section: section.label, text: addr, line: lineNo }, parseBindAddress(addr));
      out.push(b);
      section.binds.push(b);
    }
  }
  close();
  return out;
}

/** The longest first word worth a look: the longest section keyword. */
const LONGEST_WORD = Math.max(...[...SECTION_KEYWORDS].map((k) => k.length));

/**
 * A line's first word, `[a-z-]` as `sectionHeader` reads a keyword, after ASCII white space (a
 * first word after other white space is never a keyword to haproxy either).
 */
const FIRST_WORD = /^[ \t\v\f\r]*([a-z-]+)/u;

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
