/**
 * The verifier's outputs: a readable report (colour on a TTY unless NO_COLOR), JSON, and JUnit
 * XML for CI. Pure: reports in, text out.
 */
import type { CheckResult, FleetReport, HostReport, Status } from './types.js';

export interface TextOptions {
  color: boolean;
  /** Show passing checks too (default: yes for one host, no for a fleet). */
  all?: boolean;
}

const ANSI = { reset: '\u001b[0m', bold: '\u001b[1m', dim: '\u001b[2m', red: '\u001b[31m', green: '\u001b[32m', yellow: '\u001b[33m', cyan: '\u001b[36m' };

/** Colour when stdout is a terminal and NO_COLOR is unset or empty (https://no-color.org). */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function counts(checks: CheckResult[]): Record<Status, number> {
  const c: Record<Status, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const x of checks) c[x.status]++;
  return c;
}

function hostVerdict(h: HostReport): 'pass' | 'warn' | 'fail' | 'error' {
  if (h.error) return 'error';
  const c = counts(h.checks);
  return c.fail ? 'fail' : c.warn ? 'warn' : 'pass';
}

/** 0 all pass (warnings allowed), 1 a check failed, 2 a host could not be checked. */
export function exitCodeOf(hosts: HostReport[]): number {
  if (hosts.some((h) => h.error)) return 2;
  if (hosts.some((h) => h.checks.some((c) => c.status === 'fail'))) return 1;
  return 0;
}

function ms(n: number | undefined): string {
  if (n === undefined) return '-';
  return n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(2)} s`;
}

const LABEL: Record<Status, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

export function renderHostText(h: HostReport, opts: TextOptions): string {
  const c = (code: keyof typeof ANSI, s: string) => (opts.color ? `${ANSI[code]}${s}${ANSI.reset}` : s);
  const paint: Record<Status, (s: string) => string> = {
    pass: (s) => c('green', s), warn: (s) => c('yellow', s), fail: (s) => c('red', s), skip: (s) => c('dim', s),
  };
  const lines: string[] = [];
  const target = `${h.user}@${h.host}:${h.port}`;
  const head = h.name === h.host ? target : `${h.name} (${target})`;
  if (h.error) {
    const kind = { unreachable: 'UNREACHABLE', auth: 'AUTHENTICATION FAILED', hostkey: 'HOST KEY REFUSED', usage: 'USAGE', collect: 'COLLECTION FAILED' }[h.error.kind];
    lines.push(`${c('bold', head)}: ${c('red', kind)}`);
    lines.push(`  ${h.error.message}`);
    if (h.error.remedy) lines.push(`  ${c('cyan', '→')} ${h.error.remedy}`);
    return `${lines.join('\n')}\n`;
  }
  const src = h.expected ? (h.expected.kind === 'state' ? `expected: ${h.expected.path}` : `expected: --expect ${h.expected.file}`) : 'expected: unknown';
  const how = [h.methods?.listeners && `listeners by ${h.methods.listeners}`, h.methods?.services && `services by ${h.methods.services}`].filter(Boolean).join(', ');
  lines.push(`${c('bold', head)}  ${c('dim', `(${src}${how ? `; ${how}` : ''})`)}`);
  if (h.recordedHostKey) lines.push(`  ${c('yellow', 'recorded new host key')} ${h.recordedHostKey}`);
  const width = Math.min(34, Math.max(...h.checks.map((x) => (x.subject ? x.id.length + 1 + x.subject.length : x.id.length))));
  let hidden = 0;
  for (const x of h.checks) {
    if (!opts.all && x.status === 'pass') {
      hidden++;
      continue;
    }
    const name = x.subject ? `${x.id} ${x.subject}` : x.id;
    lines.push(`  ${paint[x.status](LABEL[x.status])}  ${name.padEnd(width)}  ${x.message}`);
    if (x.remedy) lines.push(`        ${' '.repeat(width)}  ${c('cyan', '→')} ${x.remedy}`);
  }
  const n = counts(h.checks);
  const t = `connect ${ms(h.timings.connectMs)}, collect ${ms(h.timings.collectMs)}, total ${ms(h.timings.totalMs)}`;
  const summary = [`${n.pass} passed`, n.warn && paint.warn(`${n.warn} warning${n.warn === 1 ? '' : 's'}`), n.fail && paint.fail(`${n.fail} failed`), n.skip && `${n.skip} skipped`].filter(Boolean).join(', ');
  lines.push(`  ${summary}${hidden ? c('dim', ` (${hidden} passing not shown)`) : ''}  ${c('dim', `(${t})`)}`);
  return `${lines.join('\n')}\n`;
}

export function renderText(report: FleetReport, opts: TextOptions): string {
  const all = opts.all ?? report.hosts.length === 1;
  let out = report.hosts.map((h) => renderHostText(h, { ...opts, all })).join('\n');
  if (report.hosts.length > 1) {
    const v = report.hosts.map(hostVerdict);
    const n = (k: string) => v.filter((x) => x === k).length;
    const errs = report.hosts.filter((h) => h.error);
    const parts = [`${n('pass')} passed`, n('warn') && `${n('warn')} passed with warnings`, n('fail') && `${n('fail')} failed checks`,
      errs.length && `${errs.length} could not be checked (${[...new Set(errs.map((h) => h.error!.kind))].join(', ')})`].filter(Boolean);
    const per = report.hosts.filter((h) => !h.error).map((h) => h.timings.totalMs);
    const perText = per.length ? `; per host ${ms(Math.min(...per))}–${ms(Math.max(...per))}, median ${ms([...per].sort((a, b) => a - b)[Math.floor(per.length / 2)])}` : '';
    out += `\n${opts.color ? ANSI.bold : ''}${report.hosts.length} hosts: ${parts.join(', ')}${opts.color ? ANSI.reset : ''} (total ${ms(report.totalMs)}${perText})\n`;
  }
  return out;
}

export function renderJson(report: FleetReport): string {
  const hosts = report.hosts.map((h) => ({ ...h, ok: !h.error && !h.checks.some((c) => c.status === 'fail'), counts: counts(h.checks) }));
  const summary = {
    hosts: hosts.length,
    passed: hosts.filter((h) => h.ok).length,
    failed: hosts.filter((h) => !h.error && !h.ok).length,
    unreachable: hosts.filter((h) => h.error).length,
  };
  return `${JSON.stringify({ ok: report.exitCode === 0, exitCode: report.exitCode, totalMs: Math.round(report.totalMs), summary, hosts }, null, 2)}\n`;
}

function xml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/gu, '')
    .replace(/[&<>"']/gu, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[ch]!);
}

export function renderJunit(report: FleetReport): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let errors = 0;
  let skipped = 0;
  for (const h of report.hosts) {
    const cls = `haproxy-appliance.verify.${h.name.replace(/[^A-Za-z0-9_.-]/gu, '_')}`;
    const cases: string[] = [];
    let f = 0;
    let e = 0;
    let s = 0;
    const secs = (h.timings.totalMs / 1000).toFixed(3);
    if (h.error) {
      e = 1;
      cases.push(`    <testcase classname="${xml(cls)}" name="connect" time="${secs}">\n      <error type="${h.error.kind}" message="${xml(h.error.message)}">${xml(h.error.remedy ?? '')}</error>\n    </testcase>`);
    }
    for (const c of h.checks) {
      const name = c.subject ? `${c.id} ${c.subject}` : c.id;
      let body = '';
      if (c.status === 'fail') {
        f++;
        body = `\n      <failure type="fail" message="${xml(c.message)}">${xml(c.remedy ?? '')}</failure>\n    `;
      } else if (c.status === 'skip') {
        s++;
        body = `\n      <skipped message="${xml(c.message)}"/>\n    `;
      } else if (c.status === 'warn') {
        body = `\n      <system-out>${xml(`WARNING: ${c.message}${c.remedy ? `\n${c.remedy}` : ''}`)}</system-out>\n    `;
      } else body = `\n      <system-out>${xml(c.message)}</system-out>\n    `;
      cases.push(`    <testcase classname="${xml(cls)}" name="${xml(name)}" time="0">${body}</testcase>`);
    }
    const n = h.checks.length + (h.error ? 1 : 0);
    tests += n;
    failures += f;
    errors += e;
    skipped += s;
    suites.push(`  <testsuite name="${xml(h.name)}" hostname="${xml(h.host)}" tests="${n}" failures="${f}" errors="${e}" skipped="${s}" time="${secs}">\n${cases.join('\n')}\n  </testsuite>`);
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="haproxy-appliance verify" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${(report.totalMs / 1000).toFixed(3)}">\n${suites.join('\n')}\n</testsuites>\n`;
}
