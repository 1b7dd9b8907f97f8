/**
 * The text report at 10,000 VIPs: a check with more than FOLD_ABOVE results is one summary line
 * naming what did not pass, with the first problems in full (golden files, pass and fail);
 * `verbose` shows every result; JSON and JUnit keep every result.
 *
 * Updating the goldens after a deliberate change:
 * `UPDATE_GOLDEN=1 node --import tsx --test test/unit/verify/report-fold.test.ts`, then review
 * `git diff test/golden/verify/`.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { FOLD_ABOVE, FOLD_NAMED, FOLD_SHOWN, foldSummary, renderJson, renderJunit, renderText } from '../../../src/verify/report.js';
import type { CheckResult, FleetReport, HostReport } from '../../../src/verify/types.js';

const GOLDEN = fileURLToPath(new URL('../../golden/verify/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

async function golden(name: string, actual: string): Promise<void> {
  const file = `${GOLDEN}${name}`;
  if (UPDATE) {
    await mkdir(GOLDEN, { recursive: true });
    await writeFile(file, actual);
  }
  assert.equal(actual, await readFile(file, 'utf8'), `${name} differs from its golden file (UPDATE_GOLDEN=1 to rewrite it, then review the diff)`);
}

/** The n-th VIP of 192.168.32.0/19 and 192.168.64.0/19, as the scale bench spreads them. */
function vip(i: number): string {
  const x = (192 << 24) + (168 << 16) + (32 << 8) + 1 + i;
  return [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
}

function binds(n: number, bad: Map<number, 'fail' | 'warn'> = new Map()): CheckResult[] {
  return Array.from({ length: n }, (_, i) => {
    const ep = `${vip(i)}:${[6443, 443, 80][i % 3]}`;
    const status = bad.get(i) ?? 'pass';
    const where = `frontend svc-${i}, haproxy.cfg line ${64 + 15 * i}`;
    if (status === 'pass') return { id: 'vip.bind', subject: ep, status, message: `${ep} (${where}): inside a service range; haproxy listens` };
    if (status === 'warn')
      return {
        id: 'vip.bind',
        subject: ep,
        status,
        message: `${ep} (${where}): inside a service range; cannot tell whether it listens (ss failed)`,
        remedy: 'install iproute2 (ss) on the appliance',
      };
    return {
      id: 'vip.bind',
      subject: ep,
      status,
      message: `VIP ${ep} is in haproxy.cfg but nothing listens: haproxy runs but did not bind it (${where})`,
      remedy: 'journalctl -u haproxy -e; systemctl reload haproxy',
    };
  });
}

function host(checks: CheckResult[], name = 'lb1'): HostReport {
  return {
    name,
    host: '10.191.181.52',
    port: 22,
    user: 'root',
    expected: { kind: 'state', path: '/var/lib/haproxy-appliance/state.json', version: '0.1.0', appliedAt: 'x' },
    methods: { listeners: 'ss', services: 'process' },
    checks: [
      { id: 'state', status: 'pass', message: 'expected configuration from /var/lib/haproxy-appliance/state.json' },
      { id: 'anyip', subject: '192.168.32.0/19', status: 'pass', message: 'local 192.168.32.0/19 dev lo table local' },
      ...checks,
      { id: 'haproxy.config', status: 'pass', message: 'haproxy -c: configuration is valid' },
    ],
    timings: { connectMs: 80, collectMs: 1200, totalMs: 1500 },
  };
}

const fleet = (...hosts: HostReport[]): FleetReport => ({ hosts, exitCode: 0, totalMs: 1600 });

test('10,000 passing VIP binds are one line (golden)', async () => {
  const out = renderText(fleet(host(binds(10_000))), { color: false });
  await golden('fold-pass.txt', out);
  assert.equal(out.split('\n').length, 7, out);
  assert.match(out, /\n {2}PASS {2}vip\.bind +10,000 VIP listeners: all listening\n/u);
});

test('failures and a warning among 10,000: the summary names them, the first ones follow in full (golden)', async () => {
  const bad = new Map<number, 'fail' | 'warn'>([
    [17, 'fail'],
    [4242, 'fail'],
    [9999, 'warn'],
  ]);
  const out = renderText({ ...fleet(host(binds(10_000, bad))), exitCode: 1 }, { color: false });
  await golden('fold-fail.txt', out);
  assert.match(
    out,
    /\n {2}FAIL {2}vip\.bind +9,997 of 10,000 VIP listeners listening; failed: 192\.168\.32\.18:80, 192\.168\.48\.147:6443; warnings: 192\.168\.71\.16:6443\n/u,
  );
  // Each problem in full, with its remedy.
  assert.match(
    out,
    /\n {2}FAIL {2}vip\.bind 192\.168\.32\.18:80 +VIP 192\.168\.32\.18:80 is in haproxy\.cfg but nothing listens: .*\n +→ journalctl -u haproxy -e; systemctl reload haproxy\n/u,
  );
  assert.match(out, /\n {2}WARN {2}vip\.bind 192\.168\.71\.16:6443 /u);
  assert.doesNotMatch(out, /PASS {2}vip\.bind 192/u);
  assert.match(out, /10000 passed, 1 warning, 2 failed/u);
});

test('many problems: the first FOLD_NAMED named, FOLD_SHOWN in full, the rest counted', () => {
  const bad = new Map<number, 'fail' | 'warn'>(Array.from({ length: 40 }, (_, i) => [i * 10, 'fail'] as const));
  const results = binds(1000, bad);
  const summary = foldSummary('vip.bind', results);
  assert.equal(
    summary,
    `960 of 1,000 VIP listeners listening; failed: ${Array.from({ length: FOLD_NAMED }, (_, i) => results[i * 10]!.subject).join(', ')} and 30 more`,
  );
  const out = renderText(fleet(host(results)), { color: false });
  assert.equal(out.match(/\n {2}FAIL {2}vip\.bind 192/gu)?.length, FOLD_SHOWN);
  assert.match(out, /\n +… 35 more not shown in full: --verbose shows every result\n/u);
});

test('up to FOLD_ABOVE results are shown one by one, as before; one more folds', () => {
  const at = renderText(fleet(host(binds(FOLD_ABOVE))), { color: false });
  assert.equal(at.match(/\n {2}PASS {2}vip\.bind 192/gu)?.length, FOLD_ABOVE);
  assert.doesNotMatch(at, /VIP listeners/u);
  const over = renderText(fleet(host(binds(FOLD_ABOVE + 1))), { color: false });
  assert.doesNotMatch(over, /PASS {2}vip\.bind 192/u);
  assert.match(over, /PASS {2}vip\.bind +11 VIP listeners: all listening/u);
});

test('other checks fold with their own words, or generic ones', () => {
  const ranges = Array.from({ length: 12 }, (_, i) => ({ id: 'anyip', subject: `10.${i}.0.0/16`, status: 'pass' as const, message: 'ok' }));
  assert.equal(foldSummary('anyip', ranges), '12 service ranges: all with their AnyIP route');
  const other = ranges.map((x) => ({ ...x, id: 'cert.expiry' }));
  assert.equal(foldSummary('cert.expiry', other), '12 results: all passed');
  assert.equal(foldSummary('cert.expiry', [{ ...other[0]!, status: 'skip' }, ...other.slice(1)]), '11 of 12 results passed; skipped: 10.0.0.0/16');
});

test('--verbose: every result on its own line, in a fleet too', () => {
  const bad = new Map<number, 'fail' | 'warn'>([[3, 'fail']]);
  const report = fleet(host(binds(500, bad)), host(binds(20), 'lb2'));
  const out = renderText(report, { color: false, verbose: true });
  assert.equal(out.match(/\n {2}PASS {2}vip\.bind 192/gu)?.length, 499 + 20);
  assert.equal(out.match(/\n {2}FAIL {2}vip\.bind 192/gu)?.length, 1);
  assert.doesNotMatch(out, /VIP listeners/u);
  assert.doesNotMatch(out, /passing not shown/u);
  // Without it, a fleet hides the second host's all-passing fold and counts it.
  const short = renderText(report, { color: false });
  assert.match(short, /\n {2}FAIL {2}vip\.bind +499 of 500 VIP listeners listening; failed: 192\.168\.32\.4:6443\n/u);
  assert.match(short, /lb2 .*\n {2}23 passed \(23 passing not shown\)/u);
});

test('JSON and JUnit keep every one of 10,000 results', () => {
  const bad = new Map<number, 'fail' | 'warn'>([[17, 'fail']]);
  const report = { ...fleet(host(binds(10_000, bad))), exitCode: 1 };
  const json = JSON.parse(renderJson(report)) as { hosts: { checks: CheckResult[] }[] };
  const got = json.hosts[0]!.checks.filter((c) => c.id === 'vip.bind');
  assert.equal(got.length, 10_000);
  assert.deepEqual(got, binds(10_000, bad));
  const xml = renderJunit(report);
  assert.equal(xml.match(/<testcase [^>]*name="vip\.bind /gu)?.length, 10_000);
});

test('a folded check prints no control character from the appliance: names, messages and ids are escaped', () => {
  const evil: CheckResult = { id: 'vip.bind', subject: '\u001b[31mX\u202e', status: 'fail', message: 'm\u0007\r\n', remedy: 'r\u009b' };
  const odd: CheckResult = { id: 'x\u001b]0;t\u0007', subject: 's\u2028', status: 'warn', message: 'w', remedy: 'r' };
  const out = renderText(fleet(host([...Array.from({ length: 12 }, () => evil), ...Array.from({ length: 11 }, () => odd)])), { color: false });
  assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e\u2028]/u);
  assert.match(out, /\n {2}FAIL {2}vip\.bind +0 of 12 VIP listeners listening; failed: (\\x1b\[31mX\\u202e, ){9}\\x1b\[31mX\\u202e and 2 more\n/u);
  assert.match(out, /\n {2}WARN {2}x\\x1b\]0;t\\x07 +0 of 11 results passed; warnings: s\\u2028/u);
  assert.match(out, /\n {2}FAIL {2}vip\.bind \\x1b\[31mX\\u202e +m\\x07\\r\\n\n +→ r\\x9b\n/u);
});
