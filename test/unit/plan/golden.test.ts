/**
 * Golden files: the whole plan of the appliance (`planAppliance`), for every scenario, byte for byte.
 *
 * test/golden/plan/<scenario>/ holds every file the plan writes, at its path on the appliance (the
 * network units, hostname and hosts, haproxy.cfg, the Data Plane API's unit and yaml, the sshd
 * drop-in, the PKI files and the trust-store copy of the CA), and plan.json: the rest of the plan
 * (each file's mode, secrecy, services and checks; the NIC renames, the files to remove, the Data
 * Plane API's enablement and hold, the root password, the CA to publish, the warnings).
 *
 * Secrets are shown, not redacted: every one is test material (the seed's passwords, the keys of
 * test/fixtures/pki) and every salt is fixed, so a hash changes only when hashing does.
 *
 * Updating: `UPDATE_GOLDEN=1 node --import tsx --test test/unit/plan/golden.test.ts` rewrites
 * test/golden/plan/ from the current code. Then review `git diff test/golden/` line by line before
 * committing: every changed byte there is a change of what the appliance gets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTwoFilesPatch } from 'diff';
import { planAppliance } from '../../../src/plan/appliance.js';
import { KEYS_BEGIN, KEYS_END } from '../../../src/plan/access.js';
import type { ApplianceFacts } from '../../../src/facts/types.js';
import type { Plan } from '../../../src/plan/types.js';
import { SEED_MACS, fixture } from '../../harness/ovf.js';
import { SCENARIOS, scenarioConfig, scenarioNics, type Scenario } from '../../harness/scenarios.js';

const GOLDEN = fileURLToPath(new URL('../../golden/plan/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
/** The file beside the planned files that holds the rest of the plan. */
const PLAN_JSON = 'plan.json';

const CA = { cert: fixture('pki/ca.crt'), key: fixture('pki/ca.key') };
/** Issued by CA for the seed's addresses and names. */
const SERVER = { cert: fixture('pki/server.crt'), key: fixture('pki/server.key') };

/** A first boot: the key pairs made (here: the fixtures), the 2.1 Data Plane API the OVA ships, nothing on disk yet. */
const FIRST_BOOT: ApplianceFacts = {
  pki: { ca: CA, server: SERVER },
  dataplaneVersionOutput: 'HAProxy Data Plane API v2.1.0 8e8a2c0',
  salts: { userlist: 'GoldenUserlist01', root: 'GoldenRoot000001' },
};

/** The crypt of `vmware` (the seed's appliance.root_pwd) with another salt than FIRST_BOOT's. */
const MARKER_OF_SEED_PASSWORD = '$6$markersalt$6r8WsJiTPGXgtxxcztQvyPW1nuyIMLUGsUAPw6.KqYY3qkMjjlWJyiwcknTLfz7wgyfsXpX0sFI8mftjUlIz4/\n';

interface PlanScenario {
  name: string;
  what: string;
  /** The properties and NICs (default: the seed's 3-NIC appliance). */
  network?: Scenario;
  /** Planning's facts (default: FIRST_BOOT). */
  facts?: ApplianceFacts;
  /** What the scenario is there for, checked beside the goldens (so that a blind update cannot lose it). */
  expect?: (plan: Plan) => void;
}

const seed = SCENARIOS.find((s) => s.name === 'seed-frontend')!;
/** The seed with other properties. */
const seedWith = (what: string, properties: Record<string, string>): Scenario => ({
  ...seed,
  name: `seed-frontend, ${what}`,
  properties: { ...seed.properties, ...properties },
});
/** No key material could be made this run. */
const { pki: _, ...NO_PKI } = FIRST_BOOT;
const paths = (plan: Plan) => plan.files.map((f) => f.path);

const PLAN_SCENARIOS: PlanScenario[] = [
  // Every network scenario, on a first boot.
  ...SCENARIOS.map((s) => ({ name: s.name, what: `${s.what}; first boot`, network: s })),
  {
    name: 'first-boot-live-nics',
    what: 'the first boot on the appliance itself: the NICs have kernel names and are renamed to their roles',
    network: {
      ...seed,
      name: 'seed-frontend, live NICs',
      live: [
        { name: 'ens192', mac: SEED_MACS.management, pciSlot: '0000:0b:00.0', physical: true },
        { name: 'ens224', mac: SEED_MACS.workload, pciSlot: '0000:13:00.0', physical: true },
        { name: 'ens256', mac: SEED_MACS.frontend, pciSlot: '0000:1b:00.0', physical: true },
      ],
    },
    expect: (plan) =>
      assert.deepEqual(plan.renames, [
        { from: 'ens192', to: 'management' },
        { from: 'ens224', to: 'workload' },
        { from: 'ens256', to: 'frontend' },
      ]),
  },
  {
    name: 'existing-haproxy-cfg',
    what: "a rerun over a haproxy.cfg holding the Data Plane API's sections (test/fixtures/haproxy/api-sections.cfg): they are kept",
    facts: { ...FIRST_BOOT, haproxyCfg: fixture('haproxy/api-sections.cfg') },
    expect: (plan) => {
      const cfg = plan.files.find((f) => f.path === '/etc/haproxy/haproxy.cfg')!;
      assert.ok(
        cfg.content.includes('backend domain-c50:b42f9558-a4eb-4e8f-8f0f-9a8f295f0a8e-vm-testing-rritesh-guest-cluster-control-plane-service-apiserver'),
      );
      assert.equal(cfg.merge?.base, fixture('haproxy/api-sections.cfg'));
    },
  },
  {
    name: 'dataplane-yaml',
    what: 'Data Plane API 2.9: configured by /etc/haproxy/dataplaneapi.yaml',
    facts: { ...FIRST_BOOT, dataplaneVersionOutput: 'HAProxy Data Plane API v2.9.3 1a2b3c4' },
    expect: (plan) => assert.ok(paths(plan).includes('/etc/haproxy/dataplaneapi.yaml')),
  },
  {
    name: 'dataplane-unknown-version',
    what: 'the Data Plane API is there but its version is unknown (--root, no dpkg record): the flags form, a warning',
    facts: {
      ...FIRST_BOOT,
      dataplaneVersionOutput: 'unknown',
      dataplaneVersionUnknown: 'with --root nothing from the image is run, and /var/lib/dpkg/status in it records no dataplaneapi package',
    },
    expect: (plan) => {
      assert.ok(!paths(plan).includes('/etc/haproxy/dataplaneapi.yaml'));
      assert.equal(plan.dataplaneEnabled, true);
    },
  },
  {
    name: 'dataplane-missing',
    what: 'the Data Plane API binary is missing: its unit is written, left disabled',
    facts: { pki: FIRST_BOOT.pki!, salts: FIRST_BOOT.salts },
    expect: (plan) => assert.equal(plan.dataplaneEnabled, false),
  },
  {
    name: 'rerun-root-password-kept',
    what: 'a rerun: the marker matches appliance.root_pwd, so the root password is left alone (no new hash)',
    facts: { ...FIRST_BOOT, rootPasswordMarker: MARKER_OF_SEED_PASSWORD },
    expect: (plan) => assert.equal(plan.rootPassword, undefined),
  },
  {
    name: 'rerun-root-password-changed',
    what: 'a rerun after appliance.root_pwd changed: the marker does not match, a new hash from the fixed salt',
    network: seedWith('another root password', { 'appliance.root_pwd': 'An0ther-password' }),
    facts: { ...FIRST_BOOT, rootPasswordMarker: MARKER_OF_SEED_PASSWORD },
    expect: (plan) => assert.ok(plan.rootPassword?.chpasswdLine.startsWith('root:$6$GoldenRoot000001$')),
  },
  {
    name: 'no-root-login',
    what: "appliance.permit_root_login False and no appliance.root_pwd: the image's password is left as it is",
    network: seedWith('no root login', { 'appliance.permit_root_login': 'False', 'appliance.root_pwd': '' }),
    expect: (plan) => assert.equal(plan.rootPassword, undefined),
  },
  {
    name: 'root-keys-prohibit-password',
    what: "appliance.ssh_authorized_keys (two keys, newline-separated) with permit_root_login prohibit-password, over an authorized_keys holding an admin's key and an old block of the agent's: the block is replaced where it was, the admin's key kept",
    network: seedWith('root keys', {
      'appliance.permit_root_login': 'prohibit-password',
      'appliance.ssh_authorized_keys': `${fixture('ssh/root-key-1.pub')}${fixture('ssh/root-key-2.pub')}`,
    }),
    facts: { ...FIRST_BOOT, authorizedKeys: `${fixture('ssh/hand-added.pub')}${KEYS_BEGIN}\nssh-ed25519 AAAAold old-key\n${KEYS_END}\n# the admin's note\n` },
    expect: (plan) => {
      const keys = plan.files.find((f) => f.path === '/root/.ssh/authorized_keys')!;
      assert.equal(keys.mode, 0o600);
      assert.equal(keys.dirMode, 0o700);
      assert.equal(
        keys.content,
        `${fixture('ssh/hand-added.pub')}${KEYS_BEGIN}\n${fixture('ssh/root-key-1.pub')}${fixture('ssh/root-key-2.pub')}${KEYS_END}\n# the admin's note\n`,
      );
      assert.match(plan.files.find((f) => f.path === '/etc/ssh/sshd_config.d/50-haproxy-appliance.conf')!.content, /^PermitRootLogin prohibit-password$/mu);
    },
  },
  {
    name: 'root-keys-removed',
    what: "appliance.ssh_authorized_keys blank over a file holding the agent's block and an admin's key: the block goes, the admin's key stays",
    facts: { ...FIRST_BOOT, authorizedKeys: `${KEYS_BEGIN}\n${fixture('ssh/root-key-1.pub')}${KEYS_END}\n${fixture('ssh/hand-added.pub')}` },
    expect: (plan) => assert.equal(plan.files.find((f) => f.path === '/root/.ssh/authorized_keys')!.content, fixture('ssh/hand-added.pub')),
  },
  {
    name: 'pki-held',
    what: "no key material could be made and the API's key pair is not there: no PKI file, the kept CA published, the Data Plane API held",
    facts: { ...NO_PKI, pkiKept: { caCert: CA.cert, serverKeyPair: false } },
    expect: (plan) => {
      assert.ok(plan.dataplaneHeld);
      assert.equal(plan.publishCa, CA.cert);
      assert.ok(!paths(plan).some((p) => p.endsWith('.crt') || p.endsWith('.key')));
    },
  },
  {
    name: 'pki-kept-key-pair',
    what: "no key material could be made but the API's key pair is there: no PKI file, the API not held",
    facts: { ...NO_PKI, pkiKept: { caCert: CA.cert, serverKeyPair: true } },
    expect: (plan) => assert.equal(plan.dataplaneHeld, undefined),
  },
  {
    name: 'pki-none',
    what: 'no key material could be made and none is kept: nothing published, the API held',
    facts: NO_PKI,
    expect: (plan) => {
      assert.ok(plan.dataplaneHeld);
      assert.equal(plan.publishCa, undefined);
    },
  },
];

/** Object keys sorted, so plan.json does not depend on the order the planners build objects in. */
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sorted(v)]),
    );
  }
  return value;
}

/** Everything of the plan but the files' contents, as plan.json shows it. */
function planJson(plan: Plan): string {
  const { files, ...rest } = plan;
  const meta = files.map(({ path, content: _, merge, mode, ...f }) => ({
    path,
    mode: `0${mode.toString(8)}`,
    ...(sorted(f) as object),
    ...(merge && {
      merge: {
        base: merge.base === undefined ? null : { bytes: Buffer.byteLength(merge.base), sha256: createHash('sha256').update(merge.base).digest('hex') },
      },
    }),
  }));
  return `${JSON.stringify({ files: meta, ...(sorted(rest) as object) }, null, 2)}\n`;
}

/** The golden tree of a plan: appliance path (and /plan.json) → content. */
function rendered(plan: Plan): Map<string, string> {
  const out = new Map<string, string>(plan.files.map((f) => [f.path, f.content]));
  assert.equal(out.size, plan.files.length, 'two planned files have the same path');
  assert.ok(!out.has(`/${PLAN_JSON}`));
  out.set(`/${PLAN_JSON}`, planJson(plan));
  return out;
}

/** The files under `dir`, as `/relative/path`, sorted; none when it is missing. */
function readTree(dir: string): Map<string, string> {
  let names: string[];
  try {
    names = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  return new Map(
    names
      .filter((n) => statSync(join(dir, n)).isFile())
      .sort()
      .map((n) => [`/${n}`, readFileSync(join(dir, n), 'utf8')]),
  );
}

function writeTree(dir: string, tree: Map<string, string>): void {
  rmSync(dir, { recursive: true, force: true });
  for (const [path, content] of tree) {
    const p = join(dir, path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

function plan(s: PlanScenario): Plan {
  const network = s.network ?? seed;
  const config = scenarioConfig(network);
  // A copy of the facts each time: planning must not depend on (or change) what it was given.
  return planAppliance(config, scenarioNics(network, config), structuredClone(s.facts ?? FIRST_BOOT));
}

test('the plan scenarios have distinct names', () => {
  assert.equal(new Set(PLAN_SCENARIOS.map((s) => s.name)).size, PLAN_SCENARIOS.length);
});

for (const s of PLAN_SCENARIOS) {
  test(`golden plan: ${s.name} (${s.what})`, () => {
    const first = plan(s);
    const actual = rendered(first);
    // Deterministic: planning again gives the same bytes.
    assert.deepEqual(rendered(plan(s)), actual, `${s.name}: planning twice gave different output`);
    s.expect?.(first);
    // A merged file (haproxy.cfg) merged again from the same base is the same file.
    for (const f of first.files) if (f.merge) assert.equal(f.merge.remerge(f.merge.base), f.content, `${s.name}: ${f.path} merged again differs`);

    const dir = join(GOLDEN, s.name);
    if (UPDATE) writeTree(dir, actual);
    const golden = readTree(dir);
    assert.ok(golden.size > 0, `no golden files in test/golden/plan/${s.name}; run with UPDATE_GOLDEN=1 (see this file's header)`);

    const missing = [...golden.keys()].filter((p) => !actual.has(p));
    const extra = [...actual.keys()].filter((p) => !golden.has(p));
    assert.ok(
      missing.length + extra.length === 0,
      `${s.name}: the set of planned files differs from test/golden/plan/${s.name}/\n` +
        `${missing.map((p) => `  golden, no longer planned: ${p}\n`).join('')}${extra.map((p) => `  planned, no golden file: ${p}\n`).join('')}`,
    );
    for (const [path, content] of actual) {
      const expected = golden.get(path)!;
      if (content === expected) continue;
      const where = `test/golden/plan/${s.name}${path}`;
      assert.fail(
        `${s.name}: ${path} differs from its golden file ${where} (- golden, + planned):\n${createTwoFilesPatch(where, `planned ${path}`, expected, content, undefined, undefined, { context: 3 })}`,
      );
    }
  });
}
