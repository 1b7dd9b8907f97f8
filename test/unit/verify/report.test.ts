/** The report: text (colour rules), JSON, JUnit (checked by the real xmllint), exit codes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execa } from 'execa';
import { displaySafe, exitCodeOf, renderJson, renderJunit, renderText, useColor } from '../../../src/verify/report.js';
import type { FleetReport, HostReport } from '../../../src/verify/types.js';

const ok: HostReport = {
  name: 'lb1',
  host: '10.191.181.52',
  port: 22,
  user: 'root',
  expected: { kind: 'state', path: '/var/lib/haproxy-appliance/state.json', version: '0.1.0', appliedAt: 'x' },
  methods: { listeners: 'ss', services: 'process' },
  checks: [
    { id: 'route.default', status: 'pass', message: 'default via 10.191.191.254 dev management' },
    { id: 'cert.expiry', subject: '/etc/haproxy/server.crt', status: 'warn', message: 'expires in 9 days', remedy: 'rerun provisioning' },
    { id: 'dataplane.api', status: 'skip', message: 'not checked: no API credentials' },
  ],
  timings: { connectMs: 80, collectMs: 150, totalMs: 260 },
};
const bad: HostReport = {
  ...ok,
  name: 'lb2',
  host: '10.191.181.53',
  checks: [
    {
      id: 'vip.bind',
      subject: '192.168.0.3:6443',
      status: 'fail',
      message: 'VIP 192.168.0.3:6443 is in haproxy.cfg but nothing listens: <"&\'> \u0007',
      remedy: 'networkctl reload',
    },
  ],
};
const down: HostReport = {
  name: 'lb3',
  host: '10.191.181.99',
  port: 22,
  user: 'root',
  checks: [],
  error: { kind: 'unreachable', message: '10.191.181.99:22: no SSH answer within 2 s', remedy: 'check the address' },
  timings: { totalMs: 2000 },
};

test('exit codes: 0 with warnings, 1 on a failed check, 2 when a host could not be checked', () => {
  assert.equal(exitCodeOf([ok]), 0);
  assert.equal(exitCodeOf([ok, bad]), 1);
  assert.equal(exitCodeOf([ok, bad, down]), 2);
});

test('colour only on a TTY, never with NO_COLOR', () => {
  assert.equal(useColor({ isTTY: true }, {}), true);
  assert.equal(useColor({ isTTY: false }, {}), false);
  assert.equal(useColor({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(useColor({ isTTY: true }, { NO_COLOR: '' }), true);
  assert.equal(useColor({ isTTY: true }, { TERM: 'dumb' }), false);
  const report: FleetReport = { hosts: [ok], exitCode: 0, totalMs: 300 };
  assert.match(renderText(report, { color: true }), /\u001b\[33mWARN\u001b\[0m/u);
  assert.doesNotMatch(renderText(report, { color: false }), /\u001b/u);
});

test('text: one host shows every check; a fleet shows problems and a summary', () => {
  const one = renderText({ hosts: [ok], exitCode: 0, totalMs: 300 }, { color: false });
  assert.match(one, /^lb1 \(root@10\.191\.181\.52:22\) {2}\(expected: \/var\/lib\/haproxy-appliance\/state\.json; listeners by ss, services by process\)\n/u);
  assert.match(one, /\n {2}PASS {2}route\.default/u);
  assert.match(one, /\n {2}WARN {2}cert\.expiry \/etc\/haproxy\/server\.crt {2}expires in 9 days\n {8}.* → rerun provisioning\n/u);
  assert.match(one, /1 passed, 1 warning, 1 skipped {2}\(connect 80 ms, collect 150 ms, total 260 ms\)/u);
  const fleet = renderText({ hosts: [ok, bad, down], exitCode: 2, totalMs: 2100 }, { color: false });
  assert.doesNotMatch(fleet, /PASS {2}route\.default/u);
  assert.match(fleet, /\(1 passing not shown\)/u);
  assert.match(fleet, /lb3 \(root@10\.191\.181\.99:22\): UNREACHABLE\n {2}10\.191\.181\.99:22: no SSH answer within 2 s\n {2}→ check the address\n/u);
  assert.match(
    fleet,
    /\n3 hosts: 0 passed, 1 passed with warnings, 1 failed checks, 1 could not be checked \(unreachable\) \(total 2\.10 s; per host 260 ms–260 ms, median 260 ms\)\n$/u,
  );
});

test('JSON', () => {
  const json = JSON.parse(renderJson({ hosts: [ok, bad, down], exitCode: 2, totalMs: 2100 })) as {
    ok: boolean;
    exitCode: number;
    summary: Record<string, number>;
    hosts: { ok: boolean; counts: Record<string, number> }[];
  };
  assert.equal(json.ok, false);
  assert.deepEqual(json.summary, { hosts: 3, passed: 1, failed: 1, unreachable: 1 });
  assert.deepEqual(
    json.hosts.map((h) => h.ok),
    [true, false, false],
  );
  assert.deepEqual(json.hosts[0]!.counts, { pass: 1, warn: 1, fail: 0, skip: 1 });
});

test('JUnit: well-formed (xmllint), one suite per host, failures, errors and skips counted', async () => {
  const xml = renderJunit({ hosts: [ok, bad, down], exitCode: 2, totalMs: 2100 });
  const lint = await execa('xmllint', ['--noout', '-'], { input: xml, reject: false });
  assert.equal(lint.exitCode, 0, lint.stderr);
  assert.match(xml, /<testsuites name="haproxy-appliance verify" tests="5" failures="1" errors="1" skipped="1" time="2\.100">/u);
  assert.match(
    xml,
    /<testcase classname="haproxy-appliance\.verify\.lb2" name="vip\.bind 192\.168\.0\.3:6443" time="0">\n {6}<failure type="fail" message="VIP 192\.168\.0\.3:6443 is in haproxy\.cfg but nothing listens: &lt;&quot;&amp;&apos;&gt; \\x07">networkctl reload<\/failure>/u,
  );
  assert.match(xml, /<error type="unreachable" message="10\.191\.181\.99:22: no SSH answer within 2 s">check the address<\/error>/u);
  assert.match(xml, /<system-out>WARNING: expires in 9 days\nrerun provisioning<\/system-out>/u);
});

test('displaySafe escapes every control, C1, bidi and separator character visibly', () => {
  assert.equal(displaySafe('a\u001b]0;t\u0007\r\n\t\u009b\u202e\u2028\ud800\u007f b 😀 é'), 'a\\x1b]0;t\\x07\\r\\n\\t\\x9b\\u202e\\u2028\\ud800\\x7f b 😀 é');
  assert.doesNotMatch(displaySafe('\u0000\u0008\u001f\u0080\u009f\u061c\u200e\u200f\u202a\u2066\u2069\u2029\udfff'), /[^\x20-\x7e]/u);
  // A field is shown up to MAX_FIELD_CHARS; the rest is counted.
  const long = renderText(
    { hosts: [{ ...ok, checks: [{ id: 'state', status: 'fail', message: `v${'x'.repeat(50_000)}` }] }], exitCode: 1, totalMs: 1 },
    { color: false },
  );
  assert.ok(long.length < 6000);
  assert.match(long, /x… \(45905 more characters\)\n/u);
});
