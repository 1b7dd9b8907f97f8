/**
 * The report against hostile text: an appliance (its hostname, state.json, command output, error
 * messages) or an inventory controls many strings of a report. No control character may reach
 * the terminal, the JSON must stay the same data in printable bytes, the JUnit well-formed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execa } from 'execa';
import { renderJson, renderJunit, renderText } from '../../../src/verify/report.js';
import type { HostReport } from '../../../src/verify/types.js';

const ok: HostReport = {
  name: 'lb1',
  host: '10.191.181.52',
  port: 22,
  user: 'root',
  checks: [{ id: 'route.default', status: 'pass', message: 'default via 10.191.191.254 dev management' }],
  timings: { connectMs: 80, collectMs: 150, totalMs: 260 },
};

// ---------------------------------------------------------------------------------------------
// Hostile text: an appliance (hostname, state.json, command output) or an inventory controls
// many of the strings in a report. None may reach the terminal raw.
// ---------------------------------------------------------------------------------------------

/** Every character that must never be printed raw (newline aside: the renderer's own). */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]/u;
const EVIL = {
  esc: '\u001b[32mPASS\u001b[0m',
  title: '\u001b]0;owned\u0007',
  cr: 'x\r  PASS  forged.by.cr',
  nl: 'root\nFAKE LINE: PASS',
  bs: 'FAIL\b\b\b\bPASS',
  c1: '\u009b2J\u009d0;owned\u009c',
  bidi: 'abc\u202eSSAP\u202c\u2066\u2069\u200f',
  sep: 'a\u2028PASS  forged.by.ls\u2029b',
  surrogate: 'lone \ud800 and \udfff',
  del: 'del\u007f',
};
const evil = Object.values(EVIL).join(' | ');
const hostile: HostReport = {
  name: `lb\u001b]0;name\u0007${EVIL.nl}`,
  host: `10.0.0.1${EVIL.c1}`,
  port: 22,
  user: EVIL.nl,
  expected: { kind: 'state', path: `/var/lib/x${EVIL.cr}`, version: `0.1.0${EVIL.title}`, appliedAt: EVIL.bidi },
  methods: { listeners: EVIL.esc, services: EVIL.sep },
  recordedHostKey: `ssh-ed25519 ${EVIL.esc}`,
  checks: [
    { id: 'hostname', status: 'fail', message: `the hostname is ${evil}`, remedy: `run ${evil}` },
    { id: 'vip.bind', subject: `${EVIL.c1}:443${EVIL.nl}`, status: 'warn', message: EVIL.cr, remedy: EVIL.bs },
    { id: 'state', status: 'pass', message: `expected configuration from x (agent ${EVIL.title}${EVIL.nl})` },
    { id: 'dns', status: 'skip', message: EVIL.surrogate },
  ],
  versions: { haproxy: EVIL.esc },
  timings: { connectMs: 1, collectMs: 2, totalMs: 3 },
};
const hostileDown: HostReport = {
  name: EVIL.nl,
  host: 'h',
  port: 22,
  user: 'root',
  checks: [],
  error: { kind: 'collect', message: `the collection script printed nothing usable (exit 1: ${evil})`, remedy: EVIL.cr },
  timings: { totalMs: 5 },
};

test('text: hostile fields cannot print a control character or start a line', () => {
  for (const color of [false, true]) {
    const out = renderText({ hosts: [hostile, hostileDown, ok], exitCode: 2, totalMs: 10 }, { color, all: true });
    // The only escape sequences are the renderer's own colours.
    const plain = color ? out.replace(/\u001b\[\d+m/gu, '') : out;
    assert.doesNotMatch(plain, RAW_CONTROL);
    // Every line is one the renderer made: a host head, a check, a remedy, an error, a summary.
    for (const line of plain.split('\n')) {
      assert.doesNotMatch(line, /^\s*(FAKE LINE|PASS {2}forged)/u, line);
      assert.ok(
        line === '' || /^(lb|root\\nFAKE|10\.191|3 hosts)|^ {2}(PASS|WARN|FAIL|SKIP|recorded|the collection|→|\d+ passed)|^ {8}/u.test(line),
        `unexpected line: ${JSON.stringify(line)}`,
      );
    }
    assert.ok(plain.includes('FAKE LINE: PASS') && plain.includes('root\\nFAKE LINE: PASS'), 'the escaped text is still shown');
  }
});

test('JSON: the same data, no raw C1, bidi or separator character in the bytes', () => {
  const out = renderJson({ hosts: [hostile, hostileDown], exitCode: 2, totalMs: 10 });
  assert.doesNotMatch(out, RAW_CONTROL);
  const json = JSON.parse(out) as { hosts: HostReport[] };
  // Lossless: the escapes are JSON's own, so the parsed strings are exactly the originals
  // (lone surrogates aside, which JSON.stringify writes as \udXXX escapes too).
  assert.equal(json.hosts[0]!.name, hostile.name);
  assert.equal(json.hosts[0]!.checks[0]!.message, hostile.checks[0]!.message);
  assert.equal(json.hosts[0]!.checks[3]!.message, hostile.checks[3]!.message);
  assert.equal(json.hosts[1]!.error!.message, hostileDown.error!.message);
});

test('JUnit: hostile fields (C0, C1, lone surrogates, U+FFFF) keep it well-formed (xmllint)', async () => {
  const nonChar: HostReport = { ...hostile, checks: [{ id: 'x', status: 'fail', message: 'bad \uffff \ufffe end', remedy: '\ud83d' }] };
  const xml = renderJunit({ hosts: [hostile, hostileDown, nonChar], exitCode: 2, totalMs: 10 });
  const lint = await execa('xmllint', ['--noout', '-'], { input: xml, reject: false });
  assert.equal(lint.exitCode, 0, lint.stderr);
  assert.doesNotMatch(xml, RAW_CONTROL);
  assert.doesNotMatch(xml, /[\ufffe\uffff]/u);
  assert.match(xml, /<failure type="fail" message="the hostname is \\x1b\[32mPASS\\x1b\[0m \| /u);
});
