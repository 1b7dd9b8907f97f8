/**
 * Issue #9, class 4: `validate` and `provision` agree. Every input rule lives in validation, so an
 * environment that provision rejects as bad input (exit 2) is rejected by validate too, and one
 * that validate accepts is planned without an input error. Run on the bad-input fixtures, the
 * borderline list sizes, and fast-check's random environments, through the library entry points
 * both commands use (ingest + validate; then NIC identities + planning for provision). The
 * headline case through the CLI itself: test/integration/config/validate-provision-agree-cli.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseOvfEnvironment } from '../../../src/ingest/ovf-env.js';
import { validateProperties } from '../../../src/config/validate.js';
import { PROPERTIES } from '../../../src/config/properties.js';
import { resolveNics } from '../../../src/facts/nics.js';
import { planAppliance } from '../../../src/plan/appliance.js';
import type { ApplianceFacts } from '../../../src/facts/types.js';
import { InputError } from '../../../src/errors.js';
import type { Deployment } from '../../../src/config/types.js';
import { SEED_MACS, SEED_PROPERTIES, fixture, ovfEnv, type Adapter } from '../../harness/ovf.js';
import { BAD_INPUTS, SEED_ADAPTERS, TWO_ADAPTERS, cidrs } from '../../harness/bad-inputs.js';
import { nasty } from '../../harness/generators.js';

const FACTS: ApplianceFacts = {
  pki: { ca: { cert: fixture('pki/ca.crt'), key: fixture('pki/ca.key') }, server: { cert: fixture('pki/leaf.crt'), key: fixture('pki/leaf.key') } },
  salts: { userlist: 'abcdefgh', root: 'ijklmnop' },
};

type Verdict = 'ok' | 'input';

/** What `validate` says: ingest, then validation (what src/config/validate.ts's validateEnvironment does). */
function validateVerdict(xml: string, deployment?: Deployment): Verdict {
  try {
    const env = parseOvfEnvironment(xml, 't');
    const r = validateProperties(env.properties, { ...(deployment && { deployment }), ...(env.adapters.length > 0 && { adapterCount: env.adapters.length }) });
    return r.config ? 'ok' : 'input';
  } catch (err) {
    if (err instanceof InputError) return 'input';
    throw err;
  }
}

/**
 * What `provision` says: the same load, then NIC identities (from the adapters; `--nics` with the
 * seed's MACs when the environment lists none, as an image build names them) and the whole plan.
 * Any error but an InputError fails the test: planning must not crash on what validation passed.
 */
function provisionVerdict(xml: string, deployment?: Deployment): Verdict {
  try {
    const env = parseOvfEnvironment(xml, 't');
    const r = validateProperties(env.properties, { ...(deployment && { deployment }), ...(env.adapters.length > 0 && { adapterCount: env.adapters.length }) });
    if (!r.config) return 'input';
    const roles = r.config.deployment === 'frontend' ? (['management', 'workload', 'frontend'] as const) : (['management', 'workload'] as const);
    const nics = resolveNics({
      deployment: r.config.deployment,
      adapters: env.adapters,
      ...(env.adapters.length === 0 && { cliOverride: roles.map((role) => `${role}=${SEED_MACS[role]}`).join(',') }),
    });
    planAppliance(r.config, nics.assignments, FACTS);
    return 'ok';
  } catch (err) {
    if (err instanceof InputError) return 'input';
    throw err;
  }
}

function agree(name: string, xml: string, deployment?: Deployment): Verdict {
  const v = validateVerdict(xml, deployment);
  const p = provisionVerdict(xml, deployment);
  assert.equal(p, v, `${name}: validate says ${v}, provision says ${p}`);
  return v;
}

test('every bad-input fixture is refused by validate and by provision alike', () => {
  for (const bad of BAD_INPUTS) {
    const props = { ...SEED_PROPERTIES, ...bad.set };
    for (const k of bad.unset ?? []) delete props[k];
    assert.equal(agree(bad.name, ovfEnv(props, bad.adapters ?? SEED_ADAPTERS), bad.deployment), 'input', bad.name);
  }
});

test('borderline sizes: 1,000 ranges and networks pass both; 1,001 fail both (and the other lists at their limits pass)', () => {
  const cases: [string, Record<string, string>, Verdict][] = [
    ['1,000 service ranges', { 'loadbalance.service_ip_range': cidrs(1000, 100) }, 'ok'],
    ['1,001 service ranges', { 'loadbalance.service_ip_range': cidrs(1001, 100) }, 'input'],
    ['1,000 additional networks', { 'network.additional_workload_networks': cidrs(1000, 10) }, 'ok'],
    ['1,001 additional networks', { 'network.additional_workload_networks': cidrs(1001, 10) }, 'input'],
    ['16 NTP servers', { 'network.ntp_servers': Array.from({ length: 16 }, (_, i) => `ntp${i}.example`).join(',') }, 'ok'],
    [
      '100 static routes',
      { 'network.static_routes': Array.from({ length: 100 }, (_, i) => `10.${100 + (i >> 8)}.${i & 255}.0/24 via 192.168.1.254`).join(', ') },
      'ok',
    ],
    ['6 search domains', { 'network.search_domains': 'a.example b.example c.example d.example e.example f.example' }, 'ok'],
  ];
  for (const [name, set, want] of cases) {
    for (const adapters of [SEED_ADAPTERS, TWO_ADAPTERS, []] as Adapter[][]) {
      assert.equal(agree(`${name}, ${adapters.length} adapters`, ovfEnv({ ...SEED_PROPERTIES, ...set }, adapters)), want, name);
    }
  }
});

test('random environments (fast-check): validate and provision always agree', () => {
  const KEYS = PROPERTIES.map((p) => p.key);
  const adapters = fc.constantFrom<Adapter[]>([], TWO_ADAPTERS, SEED_ADAPTERS, [...SEED_ADAPTERS, { mac: '00:50:56:b1:00:99' }], [SEED_ADAPTERS[0]!]);
  const deployment = fc.constantFrom<Deployment | undefined>(undefined, 'default', 'frontend');
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom(...KEYS, 'x.unknown'), nasty, { maxKeys: 6 }), adapters, deployment, (overrides, nics, d) => {
      agree(JSON.stringify(overrides), ovfEnv({ ...SEED_PROPERTIES, ...overrides }, nics), d);
    }),
    { numRuns: 600 },
  );
});

test('warnings too: what the environment tells is warned by validate; planning warns only about the machine', () => {
  // Every NIC by DHCP: the Data Plane API then listens on every address (a validation warning,
  // once planning's). Planning may warn only about facts of the machine (the Data Plane API).
  const MACHINE_CODES = new Set(['dataplaneapi-missing', 'dataplaneapi-version-unknown', 'dataplaneapi-version-unreadable']);
  const dhcp = { ...SEED_PROPERTIES, 'network.management_ip': '', 'network.management_gateway': '' };
  for (const props of [SEED_PROPERTIES, dhcp]) {
    const env = parseOvfEnvironment(ovfEnv(props, SEED_ADAPTERS), 't');
    const r = validateProperties(env.properties, { adapterCount: env.adapters.length });
    assert.ok(r.config, JSON.stringify(r.problems));
    assert.equal(
      r.warnings.some((w) => w.at === 'network.management_ip' && w.code === 'dataplane-any-address'),
      props === dhcp,
    );
    const nics = resolveNics({ deployment: r.config.deployment, adapters: env.adapters });
    const plan = planAppliance(r.config, nics.assignments, FACTS);
    for (const w of plan.warnings ?? []) {
      assert.equal(w.severity, 'warning');
      assert.ok(MACHINE_CODES.has(w.code), `planning warns about the environment: ${JSON.stringify(w)}`);
    }
  }
});

test('random static routes (fast-check): validate and provision agree, and every accepted route is planned on a NIC', () => {
  const octets = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  const anyNetwork = fc
    .tuple(
      fc.constantFrom(0x0a000000, 0xac100000, 0xc0a80000, 0x0abf0000, 0xe0000000, 0x7f000000, 0),
      fc.integer({ min: 0, max: 0xffffff }),
      fc.integer({ min: 0, max: 32 }),
    )
    .map(([base, low, prefix]) => {
      const n = (base | (low & (base ? 0xfffff : 0xffffff))) >>> 0;
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      return `${octets((n & mask) >>> 0)}/${prefix}`;
    });
  // Mostly networks apart from the seed's (10.20-10.90, /16 to /24), some anywhere (overlaps, reserved, host bits, /0).
  const apart = fc
    .tuple(fc.integer({ min: 20, max: 90 }), fc.integer({ min: 0, max: 255 }), fc.constantFrom(16, 20, 24))
    .map(([b, c, p]) => `10.${b}.${p === 16 ? 0 : p === 20 ? c & 0xf0 : c}.0/${p}`);
  const network = fc.oneof({ arbitrary: apart, weight: 4 }, { arbitrary: anyNetwork, weight: 1 });
  const gateway = fc.oneof(
    { arbitrary: fc.constantFrom('192.168.1.254', '172.16.10.254', '10.191.191.253'), weight: 4 },
    { arbitrary: fc.constantFrom('10.99.0.1', '192.168.0.9', '192.168.1.2', '172.16.10.255', 'x'), weight: 1 },
  );
  const routes = fc.array(fc.tuple(network, gateway), { maxLength: 4 }).map((rs) => rs.map(([n, g]) => `${n} via ${g}`).join(', '));
  const mostly = (key: string) => fc.oneof({ arbitrary: fc.constant(SEED_PROPERTIES[key]!), weight: 3 }, { arbitrary: fc.constant(''), weight: 1 });
  const props = fc.record({
    'network.static_routes': routes,
    'network.management_ip': mostly('network.management_ip'),
    'network.workload_ip': mostly('network.workload_ip'),
    'network.frontend_ip': mostly('network.frontend_ip'),
    'network.additional_workload_networks': fc.constantFrom('', '10.20.8.0/22'),
    'network.search_domains': fc.constantFrom('', 'corp.example.com, lab.example', 'a..b'),
  });
  let accepted = 0;
  fc.assert(
    fc.property(props, fc.constantFrom(SEED_ADAPTERS, TWO_ADAPTERS), (set, nics) => {
      if (agree(JSON.stringify(set), ovfEnv({ ...SEED_PROPERTIES, ...set }, nics)) === 'ok' && set['network.static_routes']) accepted++;
    }),
    { numRuns: 400 },
  );
  assert.ok(accepted >= 15, `environments with routes accepted and planned: ${accepted}`);
});
