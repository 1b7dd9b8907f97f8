/**
 * The verifier's outputs: a readable report (colour on a TTY unless NO_COLOR), JSON, and JUnit
 * XML for CI. Pure: reports in, text out.
 *
 * Every text in a report may come from the appliance (its hostname, state.json, command output,
 * error messages) or from a local inventory: none of it is trusted to be printable. Each renderer
 * passes the whole report through `displaySafe` first, so no field can reach the terminal (or a
 * CI page) holding a control character: the only newlines and escape sequences in the output are
 * the ones the renderer itself writes (line breaks, colour).
 */
import type { CheckResult, FleetReport, HostReport, Status } from './types.js';

/**
 * Characters that must never be printed as they are: C0 controls (ESC, CR, BS, NL, TAB…), DEL,
 * C1 controls (U+0080–U+009F: U+009B is a one-character CSI, U+009D an OSC), the bidirectional
 * controls that reorder what is shown (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), the
 * line and paragraph separators U+2028/U+2029, and lone UTF-16 surrogates (not encodable).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]|[\ud800-\udfff]/gu;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A text made safe to print: every unsafe character is replaced by a visible escape (`\n`, `\r`,
 * `\t`, `\x1b`, `\x9b`, `\u202e`), so a hostile value cannot start a line, move the cursor,
 * set the terminal title or reorder a line, and what it held is still readable.
 */
export function displaySafe(text: string, max = Infinity): string {
  const cut = text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
  return cut.replace(UNSAFE, (ch) => {
    const named = NAMED[ch];
    if (named) return named;
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * The longest text a report shows of one field (a message, a name); the rest is counted, not
 * printed. A hostile state.json can hold a version string of many megabytes; --json has it all.
 */
export const MAX_FIELD_CHARS = 4096;

/** `value` with every string in it (deeply, keys included) passed through `displaySafe`. */
export function displaySafeDeep<T>(value: T, max = MAX_FIELD_CHARS): T {
  if (typeof value === 'string') return displaySafe(value, max) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => displaySafeDeep(v, max)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of Object.entries(value)) out[displaySafe(k, max)] = displaySafeDeep(v, max);
    return out as T;
  }
  return value;
}

export interface TextOptions {
  color: boolean;
  /** Show passing checks too (default: yes for one host, no for a fleet). */
  all?: boolean;
  /** Every result on its own line, nothing folded, passing checks included (`--verbose`). */
  verbose?: boolean;
}

/**
 * A check with more results than this (one per VIP bind, per listener, per range) is folded in
 * the text report into one summary line, which names the ones that did not pass; the first
 * {@link FOLD_SHOWN} of those follow it in full. `--verbose` folds nothing; `--json` and
 * `--junit` always hold every result.
 */
export const FOLD_ABOVE = 10;
/** The problems of a folded check shown in full under its summary line. */
export const FOLD_SHOWN = 5;
/** The subjects a folded check's summary line names per status; the rest are counted. */
export const FOLD_NAMED = 10;

/** What a folded check's summary calls its results, and what passing means for one. */
const FOLD_WORDS: Record<string, { noun: string; ok: string }> = {
  'vip.bind': { noun: 'VIP listeners', ok: 'listening' },
  'vip.exposed': { noun: 'listeners on VIP addresses', ok: "haproxy's configured binds" },
  anyip: { noun: 'service ranges', ok: 'with their AnyIP route' },
  'vip.return-path': { noun: 'service ranges', ok: 'with their return path' },
};

const count = (n: number) => n.toLocaleString('en-US');

/**
 * The summary of one check's results: `10,000 VIP listeners: all listening`, or
 * `9,998 of 10,000 VIP listeners listening; failed: 192.168.0.7:443, 192.168.0.9:443`. Pure.
 */
export function foldSummary(id: string, results: readonly CheckResult[]): string {
  const words = FOLD_WORDS[id] ?? { noun: 'results', ok: 'passed' };
  const n = results.length;
  const passed = results.filter((x) => x.status === 'pass').length;
  if (passed === n) return `${count(n)} ${words.noun}: all ${words.ok}`;
  const parts = [`${count(passed)} of ${count(n)} ${words.noun} ${words.ok}`];
  for (const [status, label] of [
    ['fail', 'failed'],
    ['warn', 'warnings'],
    ['skip', 'skipped'],
  ] as const) {
    const xs = results.filter((x) => x.status === status);
    if (!xs.length) continue;
    const named = xs.slice(0, FOLD_NAMED).map((x) => displaySafe(x.subject ?? x.message, MAX_FIELD_CHARS));
    parts.push(`${label}: ${named.join(', ')}${xs.length > named.length ? ` and ${count(xs.length - named.length)} more` : ''}`);
  }
  return parts.join('; ');
}

const WORST: readonly Status[] = ['fail', 'warn', 'skip', 'pass'];

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

export function renderHostText(report: HostReport, opts: TextOptions): string {
  // Every text printed passes through displaySafe: the host's fields here, each result as it is
  // shown (a folded check's 10,000 passing results are counted, not copied), a fold's names in
  // foldSummary.
  const h = displaySafeDeep({ ...report, checks: [] });
  const safe = (x: CheckResult) => displaySafeDeep(x);
  const c = (code: keyof typeof ANSI, s: string) => (opts.color ? `${ANSI[code]}${s}${ANSI.reset}` : s);
  const paint: Record<Status, (s: string) => string> = {
    pass: (s) => c('green', s),
    warn: (s) => c('yellow', s),
    fail: (s) => c('red', s),
    skip: (s) => c('dim', s),
  };
  const lines: string[] = [];
  const target = `${h.user}@${h.host}:${h.port}`;
  const head = h.name === h.host ? target : `${h.name} (${target})`;
  if (h.error) {
    const kind = { unreachable: 'UNREACHABLE', auth: 'AUTHENTICATION FAILED', hostkey: 'HOST KEY REFUSED', usage: 'USAGE', collect: 'COLLECTION FAILED' }[
      h.error.kind
    ];
    lines.push(`${c('bold', head)}: ${c('red', kind)}`);
    lines.push(`  ${h.error.message}`);
    if (h.error.remedy) lines.push(`  ${c('cyan', '→')} ${h.error.remedy}`);
    if (h.attempts !== undefined && h.attempts > 1) lines.push(`  ${c('dim', `(the last of ${h.attempts} attempts: --wait ran out)`)}`);
    return `${lines.join('\n')}\n`;
  }
  const src = h.expected ? (h.expected.kind === 'state' ? `expected: ${h.expected.path}` : `expected: --expect ${h.expected.file}`) : 'expected: unknown';
  const how = [h.methods?.listeners && `listeners by ${h.methods.listeners}`, h.methods?.services && `services by ${h.methods.services}`]
    .filter(Boolean)
    .join(', ');
  lines.push(`${c('bold', head)}  ${c('dim', `(${src}${how ? `; ${how}` : ''})`)}`);
  if (h.recordedHostKey) lines.push(`  ${c('yellow', 'recorded new host key')} ${h.recordedHostKey}`);
  // One check's results together (the registry yields them together anyway), in report order.
  const groups = new Map<string, CheckResult[]>();
  for (const x of report.checks) {
    const g = groups.get(x.id);
    if (g) g.push(x);
    else groups.set(x.id, [x]);
  }
  const view = [...groups].map(([id, xs]) => {
    const fold = !opts.verbose && xs.length > FOLD_ABOVE;
    const problems = fold ? xs.filter((x) => x.status !== 'pass') : [];
    // What is printed line by line: every result, or a folded check's first problems.
    return { raw: id, id: displaySafe(id, MAX_FIELD_CHARS), xs, fold, problems, listed: (fold ? problems.slice(0, FOLD_SHOWN) : xs).map(safe) };
  });
  // No spread into Math.max: a hostile haproxy.cfg can make hundreds of thousands of checks.
  let width = 0;
  for (const v of view) {
    for (const x of v.listed) width = Math.max(width, x.subject ? x.id.length + 1 + x.subject.length : x.id.length);
    if (v.fold) width = Math.max(width, v.id.length);
  }
  width = Math.min(34, width);
  const show = (x: CheckResult) => {
    const name = x.subject ? `${x.id} ${x.subject}` : x.id;
    lines.push(`  ${paint[x.status](LABEL[x.status])}  ${name.padEnd(width)}  ${x.message}`);
    if (x.remedy) lines.push(`        ${' '.repeat(width)}  ${c('cyan', '→')} ${x.remedy}`);
  };
  let hidden = 0;
  for (const v of view) {
    if (v.fold) {
      if (!opts.all && v.problems.length === 0) {
        hidden += v.xs.length;
        continue;
      }
      const status = WORST.find((st) => v.xs.some((x) => x.status === st))!;
      lines.push(`  ${paint[status](LABEL[status])}  ${v.id.padEnd(width)}  ${foldSummary(v.raw, v.xs)}`);
      for (const x of v.listed) show(x);
      if (v.problems.length > FOLD_SHOWN)
        lines.push(
          `        ${' '.repeat(width)}  ${c('dim', `… ${count(v.problems.length - FOLD_SHOWN)} more not shown in full: --verbose shows every result`)}`,
        );
      continue;
    }
    for (const x of v.listed) {
      if (!opts.all && x.status === 'pass') {
        hidden++;
        continue;
      }
      show(x);
    }
  }
  const n = counts(report.checks);
  const t = `connect ${ms(h.timings.connectMs)}, collect ${ms(h.timings.collectMs)}, total ${ms(h.timings.totalMs)}`;
  const summary = [
    `${n.pass} passed`,
    n.warn && paint.warn(`${n.warn} warning${n.warn === 1 ? '' : 's'}`),
    n.fail && paint.fail(`${n.fail} failed`),
    n.skip && `${n.skip} skipped`,
  ]
    .filter(Boolean)
    .join(', ');
  const tries = h.attempts !== undefined && h.attempts > 1 ? `, after ${h.attempts} attempts` : '';
  lines.push(`  ${summary}${hidden ? c('dim', ` (${hidden} passing not shown)`) : ''}  ${c('dim', `(${t}${tries})`)}`);
  return `${lines.join('\n')}\n`;
}

export function renderText(report: FleetReport, opts: TextOptions): string {
  const all = opts.verbose === true || (opts.all ?? report.hosts.length === 1);
  let out = report.hosts.map((h) => renderHostText(h, { ...opts, all })).join('\n');
  if (report.hosts.length > 1) {
    const v = report.hosts.map(hostVerdict);
    const n = (k: string) => v.filter((x) => x === k).length;
    const errs = report.hosts.filter((h) => h.error);
    const parts = [
      `${n('pass')} passed`,
      n('warn') && `${n('warn')} passed with warnings`,
      n('fail') && `${n('fail')} failed checks`,
      errs.length && `${errs.length} could not be checked (${[...new Set(errs.map((h) => h.error!.kind))].join(', ')})`,
    ].filter(Boolean);
    const per = report.hosts.filter((h) => !h.error).map((h) => h.timings.totalMs);
    const sorted = [...per].sort((a, b) => a - b);
    const perText = sorted.length ? `; per host ${ms(sorted[0])}–${ms(sorted[sorted.length - 1])}, median ${ms(sorted[Math.floor(sorted.length / 2)])}` : '';
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
  return `${jsonSafe(JSON.stringify({ ok: report.exitCode === 0, exitCode: report.exitCode, totalMs: Math.round(report.totalMs), summary, hosts }, null, 2))}\n`;
}

/**
 * JSON.stringify escapes C0 controls and lone surrogates but leaves DEL, C1 controls, the bidi
 * controls and U+2028/U+2029 raw. In JSON text they can only stand inside strings, where the
 * `\uXXXX` escape means the same character: the data is unchanged, the bytes are printable.
 */
export function jsonSafe(json: string): string {
  return json.replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]/gu,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Escapes for XML; the text has been through `displaySafe` (only the renderer's own newlines remain). */
function xml(s: string): string {
  return (
    s
      // Not characters in XML 1.0 (C0 but TAB/LF/CR, lone surrogates, U+FFFE/U+FFFF): never in well-formed output.
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/gu, '\ufffd')
      .replace(/[&<>"']/gu, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[ch]!)
  );
}

export function renderJunit(report: FleetReport): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let errors = 0;
  let skipped = 0;
  for (const h of report.hosts.map((x) => displaySafeDeep(x))) {
    const cls = `haproxy-appliance.verify.${h.name.replace(/[^A-Za-z0-9_.-]/gu, '_')}`;
    const cases: string[] = [];
    let f = 0;
    let e = 0;
    let s = 0;
    const secs = (h.timings.totalMs / 1000).toFixed(3);
    if (h.error) {
      e = 1;
      cases.push(
        `    <testcase classname="${xml(cls)}" name="connect" time="${secs}">\n      <error type="${h.error.kind}" message="${xml(h.error.message)}">${xml(h.error.remedy ?? '')}</error>\n    </testcase>`,
      );
    }
    for (const c of h.checks) {
      const name = c.subject ? `${c.id} ${c.subject}` : c.id;
      let body: string;
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
    suites.push(
      `  <testsuite name="${xml(h.name)}" hostname="${xml(h.host)}" tests="${n}" failures="${f}" errors="${e}" skipped="${s}" time="${secs}">\n${cases.join('\n')}\n  </testsuite>`,
    );
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="haproxy-appliance verify" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${(report.totalMs / 1000).toFixed(3)}">\n${suites.join('\n')}\n</testsuites>\n`;
}

// ---------------------------------------------------------------------------------------------
// --nagios: the Monitoring Plugins guidelines (https://www.monitoring-plugins.org/doc/guidelines.html)
// ---------------------------------------------------------------------------------------------

export type NagiosState = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

/** A plugin's exit code for each state. */
export const NAGIOS_EXIT: Readonly<Record<NagiosState, number>> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };

/** The service name on the status line. */
export const NAGIOS_SERVICE = 'HAPROXY-APPLIANCE';

/** The problems listed after the status line, at most (the rest counted). */
export const NAGIOS_MAX_LINES = 20;

/**
 * OK: every check passed; WARNING: warnings only; CRITICAL: a check failed; UNKNOWN: the host
 * could not be checked (unreachable, authentication, host key, collection).
 */
export function nagiosState(h: HostReport): NagiosState {
  if (h.error) return 'UNKNOWN';
  const n = counts(h.checks);
  return n.fail ? 'CRITICAL' : n.warn ? 'WARNING' : 'OK';
}

/**
 * Plugin output text: printable (displaySafe), on one line, and without `|`, which would start
 * the performance data.
 */
function pluginText(text: string, max = 300): string {
  return displaySafe(text, max).replace(/\|/gu, '/');
}

/** The status line alone for a usage error (UNKNOWN, exit 3): `HAPROXY-APPLIANCE UNKNOWN - <message>`. */
export function nagiosUsageLine(message: string): string {
  return `${NAGIOS_SERVICE} UNKNOWN - ${pluginText(message, 1000)}\n`;
}

/**
 * One host's report as a plugin's output: the status line with performance data after `|`
 * (`label=value[UOM];warn;crit;min;max`: connect_ms and collect_ms in ms, the failed and warned
 * counts with their thresholds, the checks counted), then one line per failure and warning (at
 * most NAGIOS_MAX_LINES). UNKNOWN has no performance data: nothing was measured.
 */
export function renderNagios(h: HostReport): string {
  const state = nagiosState(h);
  const name = pluginText(h.name, 200);
  if (h.error) {
    const kind = { unreachable: 'UNREACHABLE', auth: 'AUTHENTICATION FAILED', hostkey: 'HOST KEY REFUSED', usage: 'USAGE', collect: 'COLLECTION FAILED' }[
      h.error.kind
    ];
    const lines = [`${NAGIOS_SERVICE} ${state} - ${name}: ${kind}: ${pluginText(h.error.message, 1000)}`];
    if (h.error.remedy) lines.push(`remedy: ${pluginText(h.error.remedy, 1000)}`);
    return `${lines.join('\n')}\n`;
  }
  const n = counts(h.checks);
  const label = (x: CheckResult) => (x.subject ? `${x.id} ${x.subject}` : x.id);
  const failed = h.checks.filter((x) => x.status === 'fail');
  const warned = h.checks.filter((x) => x.status === 'warn');
  const named = (xs: CheckResult[]) => `${xs.slice(0, 3).map(label).join(', ')}${xs.length > 3 ? ', …' : ''}`;
  const summary =
    state === 'CRITICAL'
      ? `${n.fail} check${n.fail === 1 ? '' : 's'} failed (${named(failed)})${n.warn ? `, ${n.warn} warning${n.warn === 1 ? '' : 's'}` : ''}, ${n.pass} passed`
      : state === 'WARNING'
        ? `${n.warn} warning${n.warn === 1 ? '' : 's'} (${named(warned)}), ${n.pass} passed`
        : `${n.pass} checks passed${n.skip ? `, ${n.skip} skipped` : ''}`;
  const ms = (v: number | undefined) => (v === undefined ? 'U' : `${Math.round(v)}ms`);
  const perf = [
    `connect_ms=${ms(h.timings.connectMs)};;;0`,
    `collect_ms=${ms(h.timings.collectMs)};;;0`,
    `failed=${n.fail};;0;0`,
    `warned=${n.warn};0;;0`,
    `checks=${h.checks.length};;;0`,
  ].join(' ');
  const lines = [`${NAGIOS_SERVICE} ${state} - ${name}: ${pluginText(summary, 1000)} | ${perf}`];
  const problems = [...failed, ...warned];
  for (const x of problems.slice(0, NAGIOS_MAX_LINES)) {
    lines.push(`${LABEL[x.status]} ${pluginText(label(x), 200)}: ${pluginText(x.message, 500)}${x.remedy ? ` -> ${pluginText(x.remedy, 300)}` : ''}`);
  }
  if (problems.length > NAGIOS_MAX_LINES) lines.push(`… and ${problems.length - NAGIOS_MAX_LINES} more (run haproxy-appliance verify for the full report)`);
  return `${lines.join('\n')}\n`;
}
