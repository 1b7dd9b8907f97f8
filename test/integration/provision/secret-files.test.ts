/**
 * Every file that can hold a secret is marked secret in one place (SECRET_PATHS in
 * src/appliance/paths.ts), and the diff, `--json` and the backups honour it (issue #9, class 1):
 * dataplaneapi.yaml, which the API 2.9+ reads users and passwords from, was not, so `--dry-run`
 * printed the old API password.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verify } from 'unixcrypt';
import { validateProperties } from '../../../src/config/validate.js';
import { planAppliance } from '../../../src/plan/appliance.js';
import { DATAPLANEAPI_YAML, SECRET_PATHS } from '../../../src/appliance/paths.js';
import { applyPlan } from '../../../src/apply/apply.js';
import { liveActions } from '../../../src/apply/live.js';
import { cli } from '../../harness/cli.js';
import { SEED_MACS, SEED_PROPERTIES, fixture } from '../../harness/ovf.js';
import { envFile, withSandbox } from '../../harness/sandbox.js';

const ROOT_PWD = 'RootPwd-7c1d-MARKER';
const API_PWD = 'ApiPwd-93ab-MARKER';
const OLD_API_PWD = 'OldApiPwd-44e0-MARKER';
const CA_KEY = fixture('pki/ca.key');
const SECRETS = {
  'appliance.root_pwd': ROOT_PWD,
  'loadbalance.haproxy_pwd': API_PWD,
  'appliance.ca_cert': fixture('pki/ca.crt'),
  'appliance.ca_cert_key': CA_KEY,
};
/** Lines of the CA key's body: any of them in an output is a leak. */
const KEY_LINES = CA_KEY.split('\n').filter((l) => l.length > 40);
const MARKERS = [ROOT_PWD, API_PWD, OLD_API_PWD, ...KEY_LINES];
const NICS = [
  { role: 'management' as const, mac: SEED_MACS.management },
  { role: 'workload' as const, mac: SEED_MACS.workload },
  { role: 'frontend' as const, mac: SEED_MACS.frontend },
];

/** Whether `content` holds a secret: a password, a crypt of one, a private key. */
function holdsSecret(content: string): boolean {
  if ([ROOT_PWD, API_PWD, OLD_API_PWD].some((m) => content.includes(m))) return true;
  if (/PRIVATE KEY-----/u.test(content)) return true;
  return [...content.matchAll(/\$6\$[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}/gu)].some(([h]) => verify(ROOT_PWD, h) || verify(API_PWD, h));
}

test('every planned file that holds a secret (or a hash of one) is secret and 0600, from the one registry', () => {
  const config = validateProperties({ ...SEED_PROPERTIES, ...SECRETS }).config!;
  for (const version of ['v2.1.0', 'v3.0.2']) {
    const plan = planAppliance(config, NICS, {
      dataplaneVersionOutput: version,
      pki: { ca: { cert: fixture('pki/ca.crt'), key: CA_KEY }, server: { cert: fixture('pki/leaf.crt'), key: fixture('pki/leaf.key') } },
      salts: { userlist: 'userlistsalt1234', root: 'rootsalt12345678' },
    });
    const holding = plan.files.filter((f) => holdsSecret(f.content)).map((f) => f.path);
    assert.ok(
      holding.includes('/etc/haproxy/haproxy.cfg') && holding.includes('/etc/haproxy/ca.key') && holding.includes('/etc/haproxy/server.key'),
      holding.join(' '),
    );
    for (const f of plan.files) {
      if (holdsSecret(f.content) || SECRET_PATHS.includes(f.path)) {
        assert.equal(f.secret, true, `${version}: ${f.path} is secret`);
        assert.equal(f.mode, 0o600, `${version}: ${f.path} is 0600`);
      }
    }
    if (version === 'v3.0.2') assert.equal(plan.files.find((f) => f.path === DATAPLANEAPI_YAML)?.secret, true, 'dataplaneapi.yaml is secret');
    // The root password's crypt goes to a marker file through a secret live action.
    const marker = liveActions(plan, [], { boot: true, systemd: true, vmtoolsd: false }).find((a) => a.kind === 'write');
    assert.ok(marker && marker.kind === 'write' && marker.secret && holdsSecret(marker.content) && SECRET_PATHS.includes(marker.path));
  }
});

test('a secret file is secret to apply whatever the plan says: removed or replaced, its content never shown', async () => {
  await withSandbox(async (root) => {
    mkdirSync(join(root, 'etc/haproxy'), { recursive: true });
    writeFileSync(join(root, 'etc/haproxy/dataplaneapi.yaml'), `users:\n  - name: wcp\n    password: ${OLD_API_PWD}\n`, { mode: 0o600 });
    const plan = { files: [{ path: DATAPLANEAPI_YAML, content: 'config_version: 2\n', mode: 0o600, affects: [] }], renames: [], remove: [] };
    const dry = await applyPlan(plan, { root, dryRun: true });
    assert.equal(dry.changes[0]!.secret, true);
    assert.equal(dry.diff, 'Files a/etc/haproxy/dataplaneapi.yaml and b/etc/haproxy/dataplaneapi.yaml differ (secret: content not shown)\n');
  });
});

test("provision --dry-run and --json never show a secret, an old dataplaneapi.yaml's password included; backups are 0600", async () => {
  await withSandbox(async (root, dir) => {
    // An image with the API 3.0 installed (never run: its package record says the version), and
    // an old dataplaneapi.yaml holding the API password in clear text, as the API's own users: do.
    const bin = join(root, 'usr/local/bin/dataplaneapi');
    mkdirSync(join(bin, '..'), { recursive: true });
    writeFileSync(bin, '#!/bin/sh\necho "HAProxy Data Plane API v3.0.2"\n', { mode: 0o755 });
    chmodSync(bin, 0o755);
    mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
    writeFileSync(join(root, 'var/lib/dpkg/status'), 'Package: dataplaneapi\nStatus: install ok installed\nVersion: 3.0.2\n');
    mkdirSync(join(root, 'etc/haproxy'), { recursive: true });
    writeFileSync(join(root, 'etc/haproxy/dataplaneapi.yaml'), `config_version: 2\nusers:\n  - name: wcp\n    insecure: true\n    password: ${OLD_API_PWD}\n`, {
      mode: 0o600,
    });
    const env = envFile(dir, SECRETS);

    const outputs: string[] = [];
    for (const args of [['--dry-run'], ['--dry-run', '--json']]) {
      const r = cli(['provision', '--root', root, '--ovf-env', env, ...args]);
      assert.equal(r.code, 0, r.stderr);
      outputs.push(r.stdout + r.stderr);
      if (args.includes('--json')) {
        const doc = JSON.parse(r.stdout) as { diff: string; changed: { path: string }[] };
        assert.ok(
          doc.changed.some((c) => c.path === DATAPLANEAPI_YAML),
          'the yaml form was planned',
        );
        assert.match(doc.diff, /^Files a\/etc\/haproxy\/dataplaneapi\.yaml and b\/etc\/haproxy\/dataplaneapi\.yaml differ \(secret: content not shown\)$/mu);
      }
    }
    const real = cli(['provision', '--root', root, '--ovf-env', env]);
    assert.equal(real.code, 0, real.stderr);
    outputs.push(real.stdout + real.stderr);
    for (const out of outputs) for (const m of MARKERS) assert.ok(!out.includes(m), `no secret in the output (${m.slice(0, 20)}…)`);

    // The old file went to the backups: root only.
    const backups = join(root, 'var/lib/haproxy-appliance/backups');
    const [run] = readdirSync(backups);
    const copy = join(backups, run!, 'etc/haproxy/dataplaneapi.yaml');
    assert.ok(readFileSync(copy, 'utf8').includes(OLD_API_PWD));
    assert.equal(statSync(copy).mode & 0o777, 0o600);
    assert.equal(statSync(backups).mode & 0o777, 0o700);
    assert.equal(statSync(join(backups, run!)).mode & 0o777, 0o700);
    assert.equal(statSync(join(root, 'etc/haproxy/dataplaneapi.yaml')).mode & 0o777, 0o600);
  });
});
