/**
 * Issue #9, classes 4 and 5: the input is read bounded and only from a regular file; a key given
 * twice is an error naming it; nothing an input holds is echoed at length, and no input makes
 * thousands of lines. Through the CLI (what an admin and systemd run) and its `--json` problems.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOvfEnvironment } from '../../../src/ingest/ovf-env.js';
import { InputError } from '../../../src/errors.js';
import { cli } from '../../harness/cli.js';
import { SEED_PROPERTIES, ovfEnv } from '../../harness/ovf.js';
import { SEED_ADAPTERS } from '../../harness/bad-inputs.js';

import type { Problem } from '../../../src/problems.js';

/** `[at, code]` of each problem. */
const where = (problems: Problem[]) => problems.map((p) => [p.at, p.code]);

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-limits-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `validate --json --ovf-env FILE` holding `xml`: exit code, problems, the full output. */
function validateDoc(xml: string | Buffer, args: string[] = []) {
  return withDir((dir) => {
    writeFileSync(join(dir, 'ovf-env.xml'), xml);
    const j = cli(['validate', '--json', '--ovf-env', join(dir, 'ovf-env.xml'), ...args]);
    const t = cli(['validate', '--ovf-env', join(dir, 'ovf-env.xml'), ...args]);
    const doc = JSON.parse(j.stdout) as { problems?: Problem[]; warnings: Problem[] };
    return {
      code: j.code,
      textCode: t.code,
      problems: doc.problems ?? [],
      warnings: doc.warnings,
      stderr: t.stderr,
      output: j.stdout + j.stderr + t.stdout + t.stderr,
    };
  });
}

test('--ovf-env /dev/zero, a directory, a FIFO: exit 2 saying it is not a regular file (and no hang)', () => {
  const zero = cli(['validate', '--ovf-env', '/dev/zero']);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /file \/dev\/zero: is a character device, not a regular file/u);
  assert.ok(!zero.stderr.includes('undefined'), zero.stderr);
  const zeroJson = JSON.parse(cli(['validate', '--json', '--ovf-env', '/dev/zero']).stdout);
  assert.deepEqual(where(zeroJson.problems), [['OVF environment', 'not-a-file']]);
  withDir((dir) => {
    assert.match(cli(['validate', '--ovf-env', dir]).stderr, /is a directory, not a regular file/u);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    const fifo = cli(['validate', '--ovf-env', join(dir, 'fifo')]); // no writer: a blocking open would hang here
    assert.equal(fifo.code, 2);
    assert.match(fifo.stderr, /is a FIFO, not a regular file/u);
  });
});

test('a document over 1 MiB is refused before it is parsed', () => {
  const filler = `<!--${'x'.repeat(1024 * 1024)}-->`;
  const r = validateDoc(ovfEnv(SEED_PROPERTIES, SEED_ADAPTERS).replace('<Environment', `${filler}\n<Environment`));
  assert.equal(r.code, 2);
  assert.deepEqual(where(r.problems), [['OVF environment', 'document-too-large']]);
  assert.match(r.problems[0]!.message, /larger than 1048576 bytes/u);
});

test('a property given twice, or a second PropertySection, is an error naming the key', () => {
  const base = ovfEnv({ ...SEED_PROPERTIES, 'network.hostname': 'first.example' }, SEED_ADAPTERS);
  const twice = base.replace('</PropertySection>', '  <Property oe:key="network.hostname" oe:value="second.example"/>\n  </PropertySection>');
  const r = validateDoc(twice);
  assert.equal(r.code, 2);
  assert.deepEqual(where(r.problems), [['network.hostname', 'duplicate-property']]);
  assert.match(r.problems[0]!.message, /is given twice/u);
  const second = base.replace(
    '</PropertySection>',
    '</PropertySection>\n  <PropertySection>\n    <Property oe:key="network.hostname" oe:value="second.example"/>\n  </PropertySection>',
  );
  const s = validateDoc(second);
  assert.equal(s.code, 2);
  assert.deepEqual(where(s.problems).sort(), [
    ['PropertySection', 'duplicate-property-section'],
    ['network.hostname', 'duplicate-property'],
  ]);
  // A second section with other keys is still an error: one environment, one PropertySection.
  const other = base.replace('</PropertySection>', '</PropertySection>\n  <PropertySection><Property oe:key="x.y" oe:value="1"/></PropertySection>');
  assert.deepEqual(where(validateDoc(other).problems), [['PropertySection', 'duplicate-property-section']]);
  // The same MAC twice in the adapter section.
  const mac = ovfEnv(SEED_PROPERTIES, [SEED_ADAPTERS[0]!, SEED_ADAPTERS[0]!, SEED_ADAPTERS[2]!]);
  const m = validateDoc(mac);
  assert.equal(m.code, 2);
  assert.deepEqual(where(m.problems), [['EthernetAdapterSection', 'duplicate-adapter-mac']]);
  // A key named __proto__ is a key like any other, not lost to the object prototype.
  const proto = parseOvfEnvironment(base.replace('</PropertySection>', '<Property oe:key="__proto__" oe:value="x"/></PropertySection>'), 't');
  assert.ok(Object.hasOwn(proto.properties, '__proto__'));
});

test('echoed values are cut short: a 60 kB host name or a 900 kB user does not come back at length', () => {
  const huge = `h${'a'.repeat(60_000)}.example`;
  const r = validateDoc(ovfEnv({ ...SEED_PROPERTIES, 'network.hostname': huge, 'loadbalance.haproxy_user': `u:${'x'.repeat(900_000)}` }, SEED_ADAPTERS));
  assert.equal(r.code, 2);
  assert.deepEqual(where(r.problems).sort(), [
    ['loadbalance.haproxy_user', 'value-too-long'],
    ['network.hostname', 'hostname-too-long'],
  ]);
  for (const p of r.problems) assert.ok(p.message.length < 400, `${p.at}: ${p.message.length} characters`);
  assert.match(r.problems.find((p) => p.at === 'network.hostname')!.message, /… \(60009 characters\)/u);
  assert.ok(r.output.length < 4000, `${r.output.length} characters of output`);
});

test('many unknown properties make one warning line, not one each; more than 256 properties are refused', () => {
  const unknown = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`vami.unknown_${i}`, 'x']));
  const r = validateDoc(ovfEnv({ ...SEED_PROPERTIES, ...unknown }, SEED_ADAPTERS));
  assert.equal(r.code, 0);
  assert.deepEqual(
    r.warnings.map((w) => [w.at, w.code, w.severity]),
    [['PropertySection', 'unknown-properties', 'warning']],
    JSON.stringify(r.warnings),
  );
  assert.match(r.warnings[0]!.message, /^200 unknown properties ignored: vami\.unknown_0, /u);
  assert.ok(r.stderr.split('\n').length < 5, r.stderr);
  const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`vami.unknown_${i}`, 'x']));
  const m = validateDoc(ovfEnv({ ...SEED_PROPERTIES, ...many }, SEED_ADAPTERS));
  assert.equal(m.code, 2);
  assert.deepEqual(where(m.problems), [['PropertySection', 'too-many-properties']]);
  assert.match(m.problems[0]!.message, /more than 256 properties/u);
});

test('thousands of problems are not thousands of lines: at most 10 per property, then a count', () => {
  // 1,000 ranges, all inside one /8 also listed: 1,000 overlaps.
  const ranges = ['10.0.0.0/8', ...Array.from({ length: 999 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`)].join(',');
  const r = validateDoc(ovfEnv({ ...SEED_PROPERTIES, 'loadbalance.service_ip_range': ranges }, SEED_ADAPTERS));
  assert.equal(r.code, 2);
  const mine = r.problems.filter((p) => p.at === 'loadbalance.service_ip_range');
  assert.equal(mine.length, 11);
  // 10.0.0.0/8 holds the management address and gateway and both nameservers (range-holds-host) and every other range (ranges-overlap).
  assert.deepEqual(
    mine.map((p) => p.code),
    [...Array(4).fill('range-holds-host'), ...Array(6).fill('ranges-overlap'), 'more-problems'],
  );
  assert.match(mine.at(-1)!.message, /^… and \d+ more problems like these$/u);
  assert.ok(r.stderr.split('\n').length < 20, r.stderr);
});

test('the parser itself refuses an oversize text and an adapter flood', () => {
  assert.throws(
    () => parseOvfEnvironment(' '.repeat(1024 * 1024 + 1), 't'),
    (e: unknown) => e instanceof InputError && e.problems[0].at === 'OVF environment' && e.problems[0].code === 'document-too-large',
  );
  const adapters = Array.from({ length: 17 }, (_, i) => ({ mac: `00:50:56:00:00:${i.toString(16).padStart(2, '0')}` }));
  assert.throws(
    () => parseOvfEnvironment(ovfEnv(SEED_PROPERTIES, adapters), 't'),
    (e: unknown) => e instanceof InputError && e.problems[0].at === 'EthernetAdapterSection' && e.problems[0].code === 'too-many-adapters',
  );
});

test('guestinfo: a vmtoolsd that prints more than 1 MiB is cut off and refused, not read to the end', () => {
  withDir((dir) => {
    // A stand-in vmtoolsd (VMware Tools cannot run off a VM) that would print 64 MiB.
    writeFileSync(join(dir, 'vmtoolsd'), '#!/bin/sh\n[ "$1" = --cmd ] || exit 1\nhead -c 67108864 /dev/zero | tr "\\0" " "\n', { mode: 0o755 });
    const r = cli(['validate', '--json'], { env: { PATH: `${dir}:${process.env.PATH}`, OVF_ENV: '/nonexistent' } });
    assert.equal(r.code, 2);
    const doc = JSON.parse(r.stdout) as { error: string; problems: Problem[] };
    assert.match(doc.error, /^guestinfo via vmtoolsd: the document is larger than 1048576 bytes/u);
    assert.deepEqual(where(doc.problems), [['OVF environment', 'document-too-large']]);
  });
});
