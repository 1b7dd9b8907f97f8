/**
 * Issue #9, class 4 (normalization) and class 1 (`appliance.ca_cert`): what a value means, decided
 * once in validation, and a key pasted into the certificate field never leaves the agent.
 */
import type { Problem } from '../../../src/problems.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { validateProperties } from '../../../src/config/validate.js';
import { overlaps, overlapsSorted, parseCidr, type Cidr } from '../../../src/config/ipv4.js';
import { cli } from '../../harness/cli.js';
import { SEED_PROPERTIES, fixture, ovfEnv } from '../../harness/ovf.js';
import { SEED_ADAPTERS } from '../../harness/bad-inputs.js';

test('a host name with a trailing dot is the same name without it (no "haproxy.local." SAN)', () => {
  for (const raw of ['HAProxy.Local.', 'haproxy.local.', ' haproxy.local. ']) {
    assert.equal(validateProperties({ ...SEED_PROPERTIES, 'network.hostname': raw }).config?.network.hostname, 'haproxy.local', raw);
  }
  assert.deepEqual(validateProperties({ ...SEED_PROPERTIES, 'network.ntp_servers': 'NTP1.Example.' }).config?.network.ntpServers, ['ntp1.example']);
  assert.ok(
    validateProperties({ ...SEED_PROPERTIES, 'network.hostname': 'haproxy.local..' }).problems.some(
      (p) => p.at === 'network.hostname' && p.code === 'hostname-empty-label',
    ),
  );
});

test('passwords: empty and null mean unset; anything else is taken exactly as typed, spaces included', () => {
  const root = (v: string) => validateProperties({ ...SEED_PROPERTIES, 'appliance.root_pwd': v });
  for (const unset of ['', 'null']) {
    const r = root(unset);
    assert.equal(r.config?.appliance.rootPassword, undefined, JSON.stringify(unset));
    assert.ok(r.warnings.some((w) => w.at === 'appliance.root_pwd' && w.code === 'root-password-unset' && w.message.startsWith('not set')));
  }
  assert.equal(root('      ').config?.appliance.rootPassword, '      ', 'six spaces typed on purpose are a password');
  assert.equal(root('  secret  ').config?.appliance.rootPassword, '  secret  ');
  for (const short of [' ', '  ', ' null']) {
    const r = root(short);
    assert.equal(r.config, undefined, JSON.stringify(short));
    assert.deepEqual(
      r.problems.map((p) => [p.at, p.code]),
      [['appliance.root_pwd', 'password-length']],
    );
    assert.ok(!r.warnings.some((w) => w.code === 'root-password-unset' || w.message.includes('not set')), 'an error, not "unset" with a warning');
  }
  const api = validateProperties({ ...SEED_PROPERTIES, 'loadbalance.haproxy_pwd': '        ' });
  assert.equal(api.config?.loadbalance.haproxyPassword, '        ');
});

test('loadbalance.haproxy_user: a colon, a space, quotes, # or non-ASCII are refused; ordinary names pass', () => {
  for (const bad of ['wcp:admin', ':', 'wcp admin', 'wcp#1', 'wcp"', "wcp'", 'wcp\\x', 'wcpé', 'ユーザー']) {
    const r = validateProperties({ ...SEED_PROPERTIES, 'loadbalance.haproxy_user': bad });
    assert.deepEqual(
      r.problems.map((p) => [p.at, p.code]),
      [['loadbalance.haproxy_user', 'user-bad-character']],
      bad,
    );
  }
  for (const good of ['wcp', 'admin@vsphere.local', 'lb-user_1.x', 'A!$%&*+=?^`{|}~']) {
    assert.equal(validateProperties({ ...SEED_PROPERTIES, 'loadbalance.haproxy_user': good }).config?.loadbalance.haproxyUser, good, good);
  }
});

/** The base64 body of a PEM block, on one line: what must never appear in any output. */
const body = (pem: string) =>
  pem
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');

test('a CA certificate with its key pasted into appliance.ca_cert: exit 2 naming the property; the key is never echoed or written', () => {
  const key = fixture('pki/ca.key');
  const keyLines = key.split('\n').filter((l) => l && !l.startsWith('-----'));
  const dir = mkdtempSync(join(tmpdir(), 'hpa-cacert-'));
  try {
    const file = join(dir, 'ovf-env.xml');
    for (const bundle of [fixture('pki/ca.crt') + key, (fixture('pki/ca.crt') + key).replace(/\n/g, ' ')]) {
      writeFileSync(file, ovfEnv({ ...SEED_PROPERTIES, 'appliance.ca_cert': bundle, 'appliance.ca_cert_key': key }, SEED_ADAPTERS));
      const runs = [
        cli(['validate', '--ovf-env', file]),
        cli(['validate', '--json', '--ovf-env', file]),
        cli(['provision', '--root', dir, '--dry-run', '--ovf-env', file]),
        cli(['provision', '--root', dir, '--json', '--ovf-env', file]),
      ];
      for (const r of runs) assert.equal(r.code, 2, r.stderr + r.stdout);
      const json = JSON.parse(runs[1]!.stdout) as { problems: Problem[] };
      assert.deepEqual(
        json.problems.map((p) => [p.at, p.code, p.severity]),
        [['appliance.ca_cert', 'pem-foreign-block', 'error']],
      );
      assert.match(json.problems[0]!.message, /holds a PRIVATE KEY block besides the certificate/u);
      const all = runs.map((r) => r.stdout + r.stderr).join('\n');
      for (const line of keyLines) assert.ok(!all.includes(line), 'a line of the key body was printed');
      assert.ok(!all.replace(/\s+/gu, '').includes(body(key).slice(0, 40)), 'the key body was printed');
    }
    assert.deepEqual(readdirSync(dir).sort(), ['ovf-env.xml'], 'provision wrote nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('appliance.ca_cert: one certificate passes; a chain, another label or text around it is refused', () => {
  const set = (cert: string) => validateProperties({ ...SEED_PROPERTIES, 'appliance.ca_cert': cert, 'appliance.ca_cert_key': fixture('pki/ca.key') });
  assert.equal(set(fixture('pki/ca.crt')).config?.appliance.caCert, fixture('pki/ca.crt'));
  assert.equal(set(`\n\n${fixture('pki/ca.crt')}\n  `).config?.appliance.caCert, fixture('pki/ca.crt'), 'whitespace around is fine');
  const chain = set(fixture('pki/ca.crt') + fixture('pki/other-ca.crt'));
  assert.match(chain.problems[0]!.message, /holds 2 certificates/u);
  const csr = set(`${fixture('pki/ca.crt')}-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n`);
  assert.match(csr.problems[0]!.message, /holds a CERTIFICATE REQUEST block; this property takes one CERTIFICATE block only/u);
  const text = set(`subject=CN = my CA\n${fixture('pki/ca.crt')}`);
  assert.match(text.problems[0]!.message, /text outside/u);
  assert.ok(!text.problems[0]!.message.includes('my CA'), 'the text is not echoed');
});

test('the sorted sweep finds exactly the overlaps the pairwise check finds (fast-check)', () => {
  // A small address space, so that random networks nest and collide often.
  const net = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 20, max: 30 })).map(([i, prefix]) => {
    const c = parseCidr(`10.0.${i}.0/${prefix}`) as Cidr;
    return parseCidr(c.network) as Cidr;
  });
  fc.assert(
    fc.property(fc.array(fc.record({ cidr: net, extra: fc.boolean() }), { maxLength: 40 }), (items) => {
      // Every overlapping pair is reported exactly once, and nothing else; with `accept`, only the
      // pairs across the two lists.
      const pair = (i: number, j: number) => `${Math.min(i, j)}-${Math.max(i, j)}`;
      for (const across of [false, true]) {
        const found: string[] = [];
        overlapsSorted(
          items.map((it, i) => ({ ...it, i })),
          (a, b) => found.push(pair(a.i, b.i)),
          (a, b) => !across || a.extra !== b.extra,
        );
        const brute: string[] = [];
        items.forEach((a, i) =>
          items.forEach((b, j) => {
            if (i < j && overlaps(a.cidr, b.cidr) && (!across || a.extra !== b.extra)) brute.push(pair(i, j));
          }),
        );
        assert.deepEqual(found.sort(), brute.sort());
      }
    }),
    { numRuns: 1000 },
  );
});
