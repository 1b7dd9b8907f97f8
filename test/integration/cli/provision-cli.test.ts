/**
 * `haproxy-appliance provision --root` end to end, through the compiled CLI (dist/bin.js: build
 * first). The sandbox tree must match the golden files; a second run changes nothing; --dry-run
 * writes nothing and prints a unified diff.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli } from '../../harness/cli.js';
import { SEED_ENV_FILE, SEED_MACS } from '../../harness/ovf.js';
import { tree } from '../../harness/tree.js';
import type { Problem } from '../../../src/problems.js';

/** The `[at, code]` of each problem of a `--json` input error. */
const where = (stdout: string) => (JSON.parse(stdout) as { problems: Problem[] }).problems.map((p) => [p.at, p.code]);

const GOLDEN_SEED = fileURLToPath(new URL('../../golden/plan/seed-frontend/', import.meta.url));
/** Of the seed's golden plan: plan.json, and the files made from a run's own salt and key material. */
const NOT_THIS_RUNS = /^\/(?:plan\.json$|etc\/haproxy\/|usr\/local\/share\/ca-certificates\/)/u;

function withRoot(fn: (root: string) => void): void {
  const root = mkdtempSync(join(tmpdir(), 'hpa-provision-'));
  try {
    fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('provision --root: the seed tree as the golden files, then nothing to change', () => {
  withRoot((root) => {
    const first = cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE]);
    assert.equal(first.code, 0, first.stderr);
    // The network units, the sshd drop-in and the Data Plane API's unit match the golden ones;
    // haproxy.cfg and the PKI (random salt, new keys) are tested elsewhere.
    const golden = new Map([...tree(GOLDEN_SEED)].filter(([p]) => !NOT_THIS_RUNS.test(p)));
    assert.deepEqual(new Map([...tree(root)].filter(([p]) => golden.has(p))), golden);
    assert.match(first.stdout, /^created \/etc\/systemd\/network\/20-workload\.network$/mu);
    assert.match(first.stdout, /provisioned sandbox .*: 19 files changed, 0 already up to date\n$/u);
    assert.match(
      first.stderr,
      /NICs from the OVF environment's adapters .*: management 00:50:56:b1:20:5e, workload 00:50:56:b1:8d:33, frontend 00:50:56:b1:8a:41/u,
    );
    for (const [path] of golden) assert.equal(statSync(join(root, path)).mode & 0o777, 0o644, path);

    const second = cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE, '--json']);
    assert.equal(second.code, 0, second.stderr);
    const doc = JSON.parse(second.stdout);
    assert.equal(doc.ok, true);
    assert.deepEqual(doc.changed, []);
    assert.equal(doc.unchanged.length, 19);
    assert.deepEqual(doc.actions, [], 'the sandbox runs no command');
    assert.equal(doc.live, false);
  });
});

test('provision --dry-run: prints a unified diff, writes nothing; empty once up to date', () => {
  withRoot((root) => {
    const dry = cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(readdirSync(root), [], 'nothing written');
    assert.match(dry.stdout, /^--- \/dev\/null\n\+\+\+ b\/etc\/systemd\/network\/10-management\.link\n@@ /u);
    assert.match(dry.stdout, /^\+\+\+ b\/etc\/systemd\/network\/30-lo-anyip\.network\n@@ -0,0 \+1,\d+ @@\n(?:\+.*\n)*\+Type=local\n\+Table=local\n/mu);
    assert.match(dry.stderr, /dry run on sandbox .*: 19 files would change; nothing was written/u);
    assert.ok(!dry.stdout.includes('vmware'), 'no password in the diff');

    assert.equal(cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE]).code, 0);
    const file = join(root, 'etc/systemd/network/20-frontend.network');
    writeFileSync(file, readFileSync(file, 'utf8').replace('Gateway=172.16.10.1', 'Gateway=172.16.10.254'));
    const drift = cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE, '--dry-run']);
    assert.equal(drift.code, 0);
    assert.match(
      drift.stdout,
      /^--- a\/etc\/systemd\/network\/20-frontend\.network\n\+\+\+ b\/etc\/systemd\/network\/20-frontend\.network\n@@ .*\n(?:[ +-].*\n)*-Gateway=172\.16\.10\.254\n\+Gateway=172\.16\.10\.1\n/mu,
    );
    assert.match(readFileSync(file, 'utf8'), /Gateway=172\.16\.10\.254/u, 'still not written');
    const json = JSON.parse(cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE, '--dry-run', '--json']).stdout);
    assert.deepEqual(json.changed, [{ path: '/etc/systemd/network/20-frontend.network', action: 'update', mode: '0644', affects: ['systemd-networkd'] }]);
    assert.match(json.diff, /^-Gateway=172\.16\.10\.254$/mu);

    assert.equal(cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE]).code, 0);
    const clean = cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE, '--dry-run']);
    assert.equal(clean.stdout, '');
    assert.match(clean.stderr, /nothing would change/u);
  });
});

test('provision --nics and NICS= in the agent config name the NICs; wrong counts are exit 2', () => {
  withRoot((root) => {
    const swapped = `management=${SEED_MACS.workload},workload=${SEED_MACS.management},frontend=${SEED_MACS.frontend}`;
    const r = cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE, '--nics', swapped]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(join(root, 'etc/systemd/network/10-management.link'), 'utf8'), /^MACAddress=00:50:56:b1:8d:33$/mu);
    assert.match(r.stderr, /NICs from --nics:/u);

    mkdirSync(join(root, 'etc/default'), { recursive: true });
    writeFileSync(
      join(root, 'etc/default/haproxy-appliance'),
      `# agent\nNICS="management=${SEED_MACS.frontend},workload=${SEED_MACS.workload},frontend=${SEED_MACS.management}"\n`,
    );
    const agent = cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE, '--json']);
    assert.equal(agent.code, 0, agent.stderr);
    assert.match(JSON.parse(agent.stdout).nics.source, /^NICS in .*\/etc\/default\/haproxy-appliance$/u);
    assert.match(readFileSync(join(root, 'etc/systemd/network/10-management.link'), 'utf8'), /^MACAddress=00:50:56:b1:8a:41$/mu);
    rmSync(join(root, 'etc/default/haproxy-appliance'));

    const two = cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE, '--nics', `management=${SEED_MACS.management},workload=${SEED_MACS.workload}`]);
    assert.equal(two.code, 2);
    assert.match(
      two.stderr,
      /--nics names 2 NICs \(management, workload\), but the frontend deployment has 3 NICs \(management, workload, frontend\); missing: frontend/u,
    );
    const bad = cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE, '--nics', 'management=nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--nics: "nope" \(management\) is not a MAC address/u);
    const mismatch = cli(['provision', '--root', root, '--ovf-env', SEED_ENV_FILE, '--deployment', 'default']);
    assert.equal(mismatch.code, 2);
    assert.match(mismatch.stderr, /the OVF environment lists 3 network adapters, but the default deployment has 2 NICs \(management, workload\)/u);
    const noRoot = cli(['provision', '--root', join(root, 'missing'), '--ovf-env', SEED_ENV_FILE]);
    assert.equal(noRoot.code, 2);
    assert.match(noRoot.stderr, /--root: .*missing is not a directory/u);

    // The same through --json: where and which rule, never an empty list.
    const json = (...args: string[]) => {
      const r = cli(['provision', '--json', ...args]);
      assert.equal(r.code, 2, r.stdout);
      return where(r.stdout);
    };
    assert.deepEqual(json('--root', root, '--ovf-env', SEED_ENV_FILE, '--nics', `management=${SEED_MACS.management},workload=${SEED_MACS.workload}`), [
      ['--nics', 'nics-roles-mismatch'],
    ]);
    assert.deepEqual(json('--root', root, '--ovf-env', SEED_ENV_FILE, '--nics', 'management=nope'), [['--nics', 'not-mac']]);
    assert.deepEqual(json('--root', root, '--ovf-env', SEED_ENV_FILE, '--nics', 'management=00:50:56:b1:20:5e,dmz=00:50:56:b1:20:5f'), [
      ['--nics', 'nics-unknown-role'],
    ]);
    assert.deepEqual(json('--root', root, '--ovf-env', SEED_ENV_FILE, '--nics', ' , '), [['--nics', 'nics-empty']]);
    assert.deepEqual(json('--root', root, '--ovf-env', SEED_ENV_FILE, '--deployment', 'default'), [['EthernetAdapterSection', 'adapter-count']]);
    assert.deepEqual(json('--root', join(root, 'missing'), '--ovf-env', SEED_ENV_FILE), [['--root', 'not-directory']]);
    assert.deepEqual(json('--root', root), [['--root', 'root-needs-ovf-env']]);
    assert.deepEqual(json('--root', '/tmp/..', '--ovf-env', SEED_ENV_FILE), [['--root', 'root-is-live-system']]);
    assert.deepEqual(json('--root', root, '--ovf-env', SEED_ENV_FILE, '--dataplaneapi-version', 'latest'), [['--dataplaneapi-version', 'not-version']]);
  });
});
