import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../../harness/cli.js';
import { DEFAULT_ENV_FILE, SEED_ENV_FILE, SEED_PROPERTIES, ovfEnv } from '../../harness/ovf.js';
import { SEED_ADAPTERS } from '../../harness/bad-inputs.js';
import type { Problem } from '../../../src/problems.js';

/** The `[at, code]` of each problem of a `--json` input error. */
const where = (stdout: string) => (JSON.parse(stdout) as { problems: Problem[] }).problems.map((p) => [p.at, p.code]);

function withEnvFile<T>(xml: string, fn: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-cli-'));
  try {
    const file = join(dir, 'ovf-env.xml');
    writeFileSync(file, xml);
    return fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('--help and --version on every command; usage errors exit 2', () => {
  const top = cli(['--help']);
  assert.equal(top.code, 0);
  for (const c of ['validate', 'provision', 'ovf-descriptor', 'properties']) assert.match(top.stdout, new RegExp(`\\n  ${c} `));
  for (const c of ['validate', 'provision', 'ovf-descriptor', 'properties']) {
    const h = cli([c, '--help']);
    assert.equal(h.code, 0, c);
    assert.match(h.stdout, new RegExp(`^Usage: haproxy-appliance ${c}`));
    const v = cli([c, '--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  }
  assert.equal(cli([]).code, 2);
  assert.equal(cli(['frobnicate']).code, 2);
  const unknown = cli(['frobnicate', '--json']);
  assert.equal(unknown.code, 2);
  assert.deepEqual(where(unknown.stdout), [['COMMAND', 'unknown-command']]);
  const bad = cli(['validate', '--no-such-flag']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Unknown option '--no-such-flag'/);
  const badJson = cli(['validate', '--no-such-flag', '--json']);
  assert.equal(badJson.code, 2);
  assert.deepEqual(where(badJson.stdout), [['--no-such-flag', 'unknown-option']]);
  const missing = cli(['validate', '--json', '--ovf-env']);
  assert.equal(missing.code, 2);
  assert.deepEqual(where(missing.stdout), [['--ovf-env', 'bad-usage']]);
  const deployment = cli(['validate', '--json', '--deployment', 'triple', '--ovf-env', SEED_ENV_FILE]);
  assert.equal(deployment.code, 2);
  assert.deepEqual(where(deployment.stdout), [['--deployment', 'not-deployment']]);
  assert.equal(cli(['validate', '--deployment', 'triple', '--ovf-env', SEED_ENV_FILE]).code, 2);
});

test('validate prints the normalized configuration with secrets redacted', () => {
  const r = cli(['validate', '--ovf-env', DEFAULT_ENV_FILE]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /valid \(default deployment\)/);
  assert.ok(!r.stdout.includes('--200p@ssword') && !r.stdout.includes('PRIVATE KEY') && !r.stdout.includes('s&cr'));
  const j = cli(['validate', '--json', '--ovf-env', SEED_ENV_FILE]);
  const doc = JSON.parse(j.stdout);
  assert.equal(doc.ok, true);
  assert.equal(doc.config.loadbalance.haproxyPassword, '(redacted)');
  assert.equal(doc.adapters.length, 3);
});

test('bad input: one line per problem naming the property, exit 2, no stack trace, no secret', () => {
  const secret = 'Zq9-secret-pwd';
  withEnvFile(
    ovfEnv(
      { ...SEED_PROPERTIES, 'network.management_gateway': '10.0.0.1', 'loadbalance.haproxy_pwd': secret, 'loadbalance.dataplane_port': '99999' },
      SEED_ADAPTERS,
    ),
    (file) => {
      const r = cli(['validate', '--ovf-env', file]);
      assert.equal(r.code, 2);
      const lines = r.stderr.trim().split('\n');
      assert.match(lines[0]!, /has 2 problems; nothing was changed$/);
      assert.ok(lines.includes('network.management_gateway: 10.0.0.1 is outside 10.191.176.0/20 (management network)'), r.stderr);
      assert.ok(lines.some((l) => l.startsWith('loadbalance.dataplane_port: "99999" is not a port number')));
      assert.ok(!r.stderr.includes('    at '), 'no stack trace');
      assert.ok(!(r.stderr + r.stdout).includes(secret));
      const j = cli(['validate', '--json', '--ovf-env', file]);
      assert.equal(j.code, 2);
      const doc = JSON.parse(j.stdout);
      assert.equal(doc.ok, false);
      assert.deepEqual(where(j.stdout).sort(), [
        ['loadbalance.dataplane_port', 'not-port'],
        ['network.management_gateway', 'gateway-outside-subnet'],
      ]);
    },
  );
});

test('a short password is reported without echoing it', () => {
  withEnvFile(ovfEnv({ ...SEED_PROPERTIES, 'appliance.root_pwd': 'Qx7!' }, SEED_ADAPTERS), (file) => {
    // In a sandbox: provision without --root would provision (and, failing, record on) this host.
    const root = mkdtempSync(join(tmpdir(), 'hpa-short-pwd-'));
    try {
      const r = cli(['provision', '--root', root, '--ovf-env', file]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /appliance\.root_pwd: the root password is 4 characters long/);
      assert.ok(!r.stderr.includes('Qx7!'));
      const j = cli(['provision', '--root', root, '--json', '--ovf-env', file]);
      assert.equal(j.code, 2);
      assert.deepEqual(where(j.stdout), [['appliance.root_pwd', 'password-length']]);
      assert.ok(!j.stdout.includes('Qx7!'));
      assert.deepEqual(readdirSync(root), [], 'nothing written');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

test('the harness never runs provision on this host (no --root)', () => {
  assert.throws(() => cli(['provision', '--ovf-env', SEED_ENV_FILE]), /refusing to run provision without --root/u);
  assert.throws(() => cli(['provision', '--json']), /refusing/u);
  assert.equal(cli(['provision', '--help']).code, 0);
});

test('transports: --ovf-env, then OVF_ENV; nothing found lists what was tried', () => {
  const none = cli(['validate'], { env: { OVF_ENV: '' } });
  assert.equal(none.code, 2);
  assert.match(
    none.stderr,
    /no OVF environment found; tried: guestinfo via vmtoolsd \(.*\); guestinfo via vmware-rpctool \(.*\); ISO transport \(.*\); OVF_ENV \(not set, nor in \/etc\/default\/haproxy-appliance\)/,
  );
  assert.equal(none.stderr.trim().split('\n').length, 1, 'said once, not repeated as a problem line');
  assert.deepEqual(where(cli(['validate', '--json'], { env: { OVF_ENV: '' } }).stdout), [['OVF environment', 'no-environment']]);
  const fromEnv = cli(['validate', '--json'], { env: { OVF_ENV: SEED_ENV_FILE } });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  assert.match(JSON.parse(fromEnv.stdout).source, /^OVF_ENV file .*examples\/ovf-env\.xml$/);
  const missing = cli(['validate'], { env: { OVF_ENV: '/nonexistent/ovf-env.xml' } });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /OVF_ENV file \/nonexistent\/ovf-env\.xml \(no such file\)/);
  const notXml = withEnvFile('hello', (file) => cli(['validate', '--ovf-env', file]));
  assert.equal(notXml.code, 2);
  assert.match(notXml.stderr, /not well-formed XML|not an OVF environment/);
  const notXmlJson = withEnvFile('hello', (file) => cli(['validate', '--json', '--ovf-env', file]));
  assert.ok(['not-xml', 'not-ovf-environment'].includes(where(notXmlJson.stdout)[0]![1]!), notXmlJson.stdout);
});

test('guestinfo comes first: vmtoolsd is asked for guestinfo.ovfEnv before OVF_ENV is read', () => {
  // VMware Tools cannot run off a VM, so a stand-in vmtoolsd on PATH answers the one RPC the
  // agent makes, exactly as the real one prints it, and refuses any other call.
  const dir = mkdtempSync(join(tmpdir(), 'hpa-guestinfo-'));
  try {
    writeFileSync(join(dir, 'vmtoolsd'), `#!/bin/sh\n[ "$1" = --cmd ] && [ "$2" = "info-get guestinfo.ovfEnv" ] || exit 1\ncat '${DEFAULT_ENV_FILE}'\n`, {
      mode: 0o755,
    });
    const r = cli(['validate', '--json'], { env: { PATH: `${dir}:${process.env.PATH}`, OVF_ENV: SEED_ENV_FILE } });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.source, 'guestinfo via vmtoolsd');
    assert.equal(doc.config.deployment, 'default');
    writeFileSync(join(dir, 'vmtoolsd'), '#!/bin/sh\necho "No value found" >&2; exit 1\n', { mode: 0o755 });
    const empty = cli(['validate', '--json'], { env: { PATH: `${dir}:${process.env.PATH}`, OVF_ENV: SEED_ENV_FILE } });
    assert.equal(JSON.parse(empty.stdout).source, `OVF_ENV file ${SEED_ENV_FILE}`, 'an empty guestinfo falls through to the next transport');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
