/**
 * Crash safety of apply, for real: the CLI is killed (SIGKILL, no cleanup) at every step of a
 * run in turn. After each crash every file is its old or its new version, haproxy.cfg passes the
 * real `haproxy -c`, and the next run converges to what an uninterrupted run produces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { verify } from 'unixcrypt';
import { cli } from '../../harness/cli.js';
import { envFile, tree, withSandbox } from '../../harness/sandbox.js';
import { fixture } from '../../harness/ovf.js';

const CA = { 'appliance.ca_cert': fixture('pki/ca.crt'), 'appliance.ca_cert_key': fixture('pki/ca.key') };
const NEW = {
  ...CA,
  'loadbalance.haproxy_pwd': 'a-new-api-password',
  'network.nameservers': '10.170.16.50',
  'loadbalance.dataplane_port': '5557',
  'network.hostname': 'lb-7.example',
};
/** Differs run to run by design (fresh keys, times): compared by meaning, not bytes. */
const VOLATILE = (p: string) => p === '/etc/haproxy/server.crt' || p === '/etc/haproxy/server.key' || p.startsWith('/var/lib/haproxy-appliance/');
/** A tree with volatile files left out and userlist hashes replaced by the password they verify. */
function stable(root: string): Map<string, string> {
  const t = tree(root, VOLATILE);
  for (const [path, content] of t) {
    t.set(
      path,
      content.replace(/password (\$6\$\S+)/gu, (_m, hash: string) => {
        const which = ['vmware', NEW['loadbalance.haproxy_pwd']].find((p) => verify(p, hash));
        return `password <crypt of ${which ?? 'an unknown password'}>`;
      }),
    );
  }
  return t;
}
const API_SECTIONS = fixture('haproxy/api-sections.cfg').slice(fixture('haproxy/api-sections.cfg').indexOf('frontend '));

function cp(from: string, to: string): void {
  execFileSync('cp', ['-a', from, to]);
}

function haproxyValid(root: string): void {
  const r = spawnSync('haproxy', ['-c', '-q', '-f', join(root, 'etc/haproxy/haproxy.cfg')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `haproxy.cfg must be valid at every moment: ${r.stderr}`);
}

function serverPairMatches(root: string): boolean {
  const t = tree(root);
  const cert = new X509Certificate(t.get('/etc/haproxy/server.crt')!);
  return cert.checkPrivateKey(createPrivateKey(t.get('/etc/haproxy/server.key')!)) && cert.checkIssued(new X509Certificate(fixture('pki/ca.crt')));
}

test('killed at every step, a run leaves old-or-new files, a valid haproxy.cfg, and the next run converges', { timeout: 600_000 }, async () => {
  await withSandbox(async (old, dir) => {
    const oldEnv = envFile(dir, CA, 'old.xml');
    const newEnv = envFile(dir, NEW, 'new.xml');
    assert.equal(cli(['provision', '--root', old, '--ovf-env', oldEnv]).code, 0);
    appendFileSync(join(old, 'etc/haproxy/haproxy.cfg'), `\n${API_SECTIONS}`); // the Data Plane API's work
    haproxyValid(old);
    const oldTree = stable(old);

    // An uninterrupted run: the reference.
    const clean = join(dir, 'clean');
    cp(old, clean);
    const plan = JSON.parse(cli(['provision', '--root', clean, '--ovf-env', newEnv, '--dry-run', '--json']).stdout);
    const n = plan.changed.length;
    assert.ok(n >= 6, `a real change: ${n} files`);
    assert.equal(cli(['provision', '--root', clean, '--ovf-env', newEnv]).code, 0);
    const newTree = stable(clean);
    assert.ok(newTree.get('/etc/haproxy/haproxy.cfg')!.endsWith(API_SECTIONS), 'the API sections survive');

    const steps = [
      'locked',
      'journal-staging',
      ...Array.from({ length: n }, (_, i) => `staged-${i}`),
      'backed-up',
      'journal-committing',
      ...Array.from({ length: n }, (_, i) => `committed-${i}`),
      'journal-committed',
      'done',
    ];
    for (const step of steps) {
      const root = join(dir, `crash-${step}`);
      cp(old, root);
      const crashed = cli(['provision', '--root', root, '--ovf-env', newEnv], { env: { HAPROXY_APPLIANCE_CRASH_AT: step } });
      assert.equal(crashed.code, -1, `${step}: the run was killed (${crashed.stderr})`);
      assert.match(crashed.stderr, new RegExp(`simulated crash at ${step}`));
      const after = stable(root);
      for (const [path, content] of after) {
        if (path.includes('.hpa-stage-')) continue; // a staged candidate, not a live file
        assert.ok(content === oldTree.get(path) || content === newTree.get(path), `${step}: ${path} is neither old nor new`);
      }
      haproxyValid(root);

      const next = cli(['provision', '--root', root, '--ovf-env', newEnv]);
      assert.equal(next.code, 0, `${step}: the next run succeeds: ${next.stderr}`);
      assert.deepEqual(stable(root), newTree, `${step}: the next run converges`);
      assert.ok(serverPairMatches(root), `${step}: server.crt and server.key belong together and to the CA`);
      assert.equal(existsSync(join(root, 'var/lib/haproxy-appliance/journal.json')), false);
      assert.equal([...tree(root).keys()].filter((p) => p.includes('.hpa-stage-')).length, 0, `${step}: no staged file is left`);
      assert.match(cli(['provision', '--root', root, '--ovf-env', newEnv]).stdout, /nothing to change/);
    }
  });
});

test('a candidate haproxy.cfg that haproxy -c rejects changes nothing and exits 1', async () => {
  await withSandbox(async (root, dir) => {
    assert.equal(cli(['provision', '--root', root, '--ovf-env', envFile(dir, CA, 'a.xml')]).code, 0);
    // The API left a section haproxy refuses; the agent's candidate keeps it, so it fails the check.
    appendFileSync(join(root, 'etc/haproxy/haproxy.cfg'), '\nbackend broken\n  server s1 999.999.1.1:80\n');
    const before = tree(root);
    const r = cli([
      'provision',
      '--root',
      root,
      '--ovf-env',
      envFile(dir, { ...CA, 'loadbalance.haproxy_pwd': 'changed-pwd', 'network.nameservers': '10.9.9.9' }, 'b.xml'),
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /nothing was changed and no service was touched: the new \/etc\/haproxy\/haproxy\.cfg failed its check: .*999\.999\.1\.1/);
    assert.deepEqual(tree(root), before, 'every file as it was, the nameserver change included');
  });
});
