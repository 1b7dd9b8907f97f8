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

test('borderline sizes: 1,000 ranges and networks pass both; 1,001 fail both', () => {
  const cases: [string, Record<string, string>, Verdict][] = [
    ['1,000 service ranges', { 'loadbalance.service_ip_range': cidrs(1000, 100) }, 'ok'],
    ['1,001 service ranges', { 'loadbalance.service_ip_range': cidrs(1001, 100) }, 'input'],
    ['1,000 additional networks', { 'network.additional_workload_networks': cidrs(1000, 10) }, 'ok'],
    ['1,001 additional networks', { 'network.additional_workload_networks': cidrs(1001, 10) }, 'input'],
    ['16 NTP servers', { 'network.ntp_servers': Array.from({ length: 16 }, (_, i) => `ntp${i}.example`).join(',') }, 'ok'],
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
