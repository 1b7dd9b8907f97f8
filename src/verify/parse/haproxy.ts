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
 * reads the file); a line is sliced only when its first word is a section keyword, `bind` or
 * `disabled`: at 10,000 Data Plane API pairs (160,000 lines) no copy of every line is made.
 *
 * `numbered`: the text is `grep -n` output (`LINE:text`, lines of {@link BIND_LINES_ERE} only),
 * and each line's number is its prefix.
 */
export function parseBinds(cfg: string, opts: { numbered?: boolean } = {}): HaproxyBind[] {
  const out: HaproxyBind[] = [];
  let section: { keyword: string; name: string; binds: HaproxyBind[]; disabled: boolean } | undefined;
  const close = () => {
    if (section?.disabled) for (const b of section.binds) b.disabled = true;
  };
  let lineNo = 0;
  for (let at = 0; at < cfg.length;) {
    const nl = cfg.indexOf('\n', at);
    const end = nl < 0 ? cfg.length : nl;
    let from = at;
    at = end + 1;
    if (opts.numbered) {
      const colon = cfg.indexOf(':', from);
      if (colon < 0 || colon > end) continue;
      lineNo = Number(cfg.slice(from, colon));
      from = colon + 1;
    } else lineNo++;
    // The first word, found without a copy of the line.
    let i = from;
    while (i < end && isBlank(cfg.charCodeAt(i))) i++;
    let j = i;
    while (j < end && isKeywordChar(cfg.charCodeAt(j))) j++;
    const word = j - i;
    if (word === 0 || word > LONGEST_WORD) continue;
    const first = cfg.slice(i, j);
    if (SECTION_KEYWORDS.has(first)) {
      const h = sectionHeader(cfg.slice(from, end));
      if (h) {
        close();
        section = { ...h, binds: [], disabled: false };
        continue;
      }
    }
    if (!section || (section.keyword !== 'frontend' && section.keyword !== 'listen')) continue;
    if (first === 'disabled') {
      if (/^\s*disabled\s*(#.*)?$/u.test(cfg.slice(from, end))) section.disabled = true;
      continue;
    }
    if (first !== 'bind') continue;
    const m = /^\s*bind\s+(\S+)/u.exec(cfg.slice(from, end).replace(/\s#.*$/u, ''));
    if (!m) continue;
    for (const addr of m[1]!.split(',')) {
      const b: HaproxyBind = { section: `${section.keyword} ${section.name}`, text: addr, line: lineNo, ...parseBindAddress(addr) };
      out.push(b);
      section.binds.push(b);
    }
  }
  close();
  return out;
}

/** The longest first word worth a look: the longest section keyword. */
const LONGEST_WORD = Math.max(...[...SECTION_KEYWORDS].map((k) => k.length));

/** Space, tab, and the other ASCII white space of `\s` (a first word after other white space is never a keyword to haproxy either). */
const isBlank = (c: number) => c === 32 || (c >= 9 && c <= 13);
/** `[a-z-]`, the characters of a keyword as `sectionHeader` reads it. */
const isKeywordChar = (c: number) => (c >= 97 && c <= 122) || c === 45;

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
