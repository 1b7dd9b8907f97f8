/**
 * `verify --nagios` output (the Monitoring Plugins guidelines: one status line, performance data
 * after `|` as `label=value[UOM];warn;crit;min;max`, then the failures) and its exit mapping, and
 * what `verify --wait` tries again, on crafted host reports.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NAGIOS_EXIT, NAGIOS_MAX_LINES, nagiosState, nagiosUsageLine, renderNagios, renderText } from '../../../src/verify/report.js';
import { retryable } from '../../../src/verify/run.js';
import type { CheckResult, HostReport } from '../../../src/verify/types.js';

const host = (checks: CheckResult[], over: Partial<HostReport> = {}): HostReport => ({
  name: 'lb1',
  host: '10.191.181.52',
  port: 22,
  user: 'root',
  checks,
  timings: { connectMs: 123.4, collectMs: 456.6, totalMs: 600 },
  ...over,
});
const pass = (id: string): CheckResult => ({ id, status: 'pass', message: 'fine' });

/** The perfdata of a status line, label → [value, warn, crit, min, max]. */
function perfdata(line: string): Record<string, string[]> {
  const [, perf] = line.split(' | ');
  assert.ok(perf, `no performance data in ${line}`);
  const out: Record<string, string[]> = {};
  for (const item of perf.split(' ')) {
    const m = /^([a-z_]+)=([^;]+);([^;]*);([^;]*);([^;]*)$/u.exec(item);
    assert.ok(m, `not label=value[UOM];warn;crit;min: ${item}`);
    out[m[1]!] = [m[2]!, m[3]!, m[4]!, m[5]!];
  }
  return out;
}

test('OK: one status line with the counts and performance data; exit 0', () => {
  const h = host([pass('state'), pass('service'), { id: 'x', status: 'skip', message: 'n/a' }]);
  assert.equal(nagiosState(h), 'OK');
  assert.equal(NAGIOS_EXIT[nagiosState(h)], 0);
  const out = renderNagios(h);
  assert.equal(out.split('\n').length, 2, 'one line and its newline');
  const [line] = out.split('\n');
  assert.match(line!, /^HAPROXY-APPLIANCE OK - lb1: 2 checks passed, 1 skipped \| /u);
  assert.deepEqual(perfdata(line!), {
    connect_ms: ['123ms', '', '', '0'],
    collect_ms: ['457ms', '', '', '0'],
    failed: ['0', '', '0', '0'],
    warned: ['0', '0', '', '0'],
    checks: ['3', '', '', '0'],
  });
});

test('WARNING and CRITICAL: the worst wins, the problems named, each on its own line after the status line', () => {
  const warn: CheckResult = { id: 'provision.last-run', status: 'warn', message: 'cannot tell', remedy: 'run provision' };
  const w = host([pass('state'), warn]);
  assert.equal(nagiosState(w), 'WARNING');
  assert.equal(NAGIOS_EXIT.WARNING, 1);
  const wl = renderNagios(w).split('\n');
  assert.match(wl[0]!, /^HAPROXY-APPLIANCE WARNING - lb1: 1 warning \(provision\.last-run\), 1 passed \| .*warned=1;0;;0/u);
  assert.equal(wl[1], 'WARN provision.last-run: cannot tell -> run provision');

  const fails: CheckResult[] = [
    { id: 'service', subject: 'haproxy', status: 'fail', message: 'inactive | dead', remedy: 'systemctl start haproxy' },
    { id: 'vip.bind', subject: '192.168.0.1:443', status: 'fail', message: 'nothing listens' },
    { id: 'anyip', status: 'fail', message: 'no route' },
    { id: 'route', status: 'fail', message: 'missing' },
  ];
  const c = host([...fails, warn, pass('state')]);
  assert.equal(nagiosState(c), 'CRITICAL');
  assert.equal(NAGIOS_EXIT[nagiosState(c)], 2);
  const cl = renderNagios(c).split('\n');
  assert.match(
    cl[0]!,
    /^HAPROXY-APPLIANCE CRITICAL - lb1: 4 checks failed \(service haproxy, vip\.bind 192\.168\.0\.1:443, anyip, …\), 1 warning, 1 passed \| /u,
  );
  assert.deepEqual(perfdata(cl[0]!).failed, ['4', '', '0', '0']);
  assert.deepEqual(perfdata(cl[0]!).warned, ['1', '0', '', '0']);
  // A `|` in a message would start the performance data: it is replaced.
  assert.equal(cl[1], 'FAIL service haproxy: inactive / dead -> systemctl start haproxy');
  assert.equal(cl.filter((l) => l.startsWith('FAIL ')).length, 4);
  assert.equal(cl.filter((l) => l.includes('|')).length, 1, 'only the status line has a |');
});

test('the problem lines are bounded, the rest counted; nothing unprintable', () => {
  const many = Array.from({ length: 30 }, (_, i): CheckResult => ({ id: 'vip.bind', subject: `10.0.0.${i}:443`, status: 'fail', message: `x\u001b[2J${i}` }));
  const lines = renderNagios(host(many, { name: 'lb\n1' }))
    .trimEnd()
    .split('\n');
  assert.equal(lines.length, 1 + NAGIOS_MAX_LINES + 1);
  assert.match(lines.at(-1)!, /^… and 10 more \(run haproxy-appliance verify for the full report\)$/u);
  assert.match(lines[0]!, /^HAPROXY-APPLIANCE CRITICAL - lb\\n1: /u);
  assert.ok(!lines.join('\n').includes('\u001b'));
});

test('UNKNOWN: a host that could not be checked (no performance data), and a usage error; exit 3', () => {
  const u = host([], {
    error: { kind: 'unreachable', message: '10.191.181.52:22: connection refused (nothing listens on port 22)', remedy: 'check sshd' },
    timings: { totalMs: 3 },
  });
  assert.equal(nagiosState(u), 'UNKNOWN');
  assert.equal(NAGIOS_EXIT[nagiosState(u)], 3);
  assert.equal(
    renderNagios(u),
    'HAPROXY-APPLIANCE UNKNOWN - lb1: UNREACHABLE: 10.191.181.52:22: connection refused (nothing listens on port 22)\nremedy: check sshd\n',
  );
  for (const kind of ['auth', 'hostkey', 'collect'] as const) assert.equal(nagiosState(host([], { error: { kind, message: 'm' } })), 'UNKNOWN');
  assert.equal(nagiosUsageLine('--nagios checks one appliance | x\nforged'), 'HAPROXY-APPLIANCE UNKNOWN - --nagios checks one appliance / x\\nforged\n');
});

test('--wait tries again a failed check, an unreachable host and a failed collection; not an authentication, host key or usage failure', () => {
  assert.equal(retryable(host([pass('a')])), false, 'green: done');
  assert.equal(retryable(host([pass('a'), { id: 'b', status: 'warn', message: 'w' }])), false, 'warnings pass');
  assert.equal(retryable(host([{ id: 'b', status: 'fail', message: 'f' }])), true);
  const err = (kind: NonNullable<HostReport['error']>['kind']) => host([], { error: { kind, message: 'm' } });
  assert.equal(retryable(err('unreachable')), true);
  assert.equal(retryable(err('collect')), true);
  assert.equal(retryable(err('auth')), false);
  assert.equal(retryable(err('hostkey')), false);
  assert.equal(retryable(err('usage')), false);
  // The text report says how many attempts it took.
  assert.match(renderText({ hosts: [host([pass('a')], { attempts: 3 })], exitCode: 0, totalMs: 1 }, { color: false }), /, after 3 attempts\)\n$/u);
  assert.match(
    renderText({ hosts: [{ ...err('unreachable'), attempts: 4 }], exitCode: 2, totalMs: 1 }, { color: false }),
    /\n {2}\(the last of 4 attempts: --wait ran out\)\n$/u,
  );
});
