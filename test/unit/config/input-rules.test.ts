/**
 * Issue #9, class 4 (normalization) and class 1 (`appliance.ca_cert`): what a value means, decided
 * once in validation, and a key pasted into the certificate field never leaves the agent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { validateProperties } from '../../../src/config/validate.js';
import { overlaps, overlapsSorted, parseCidr, type Cidr } from '../../../src/config/ipv4.js';
import { SEED_PROPERTIES, fixture } from '../../harness/ovf.js';

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
