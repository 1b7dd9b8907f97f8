/**
 * The appliance's certificates checked with the real OpenSSL, their lifecycle across reruns, and a
 * scan for secrets: distinctive passwords and a CA key must be nowhere they must not be — not in
 * output, not in any process's argv while provision runs, not in any world-readable file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { cli } from '../../harness/cli.js';
import { envFile, withSandbox } from '../../harness/sandbox.js';
import { walkTree } from '../../harness/tree.js';
import { ROOT, fixture } from '../../harness/ovf.js';

const HA = (root: string, f: string) => join(root, 'etc/haproxy', f);
const mode = (p: string) => statSync(p).mode & 0o777;

test('openssl verifies server.crt against ca.crt; SANs cover every address, loopback and the host name; keys are 0600', async () => {
  await withSandbox((root, dir) => {
    const r = cli(['provision', '--root', root, '--ovf-env', envFile(dir)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: appliance\.ca_cert: blank, so a CA is generated/);
    const verify = execFileSync('openssl', ['verify', '-CAfile', HA(root, 'ca.crt'), HA(root, 'server.crt')], { encoding: 'utf8' });
    assert.match(verify, /server\.crt: OK/);
    const cert = new X509Certificate(readFileSync(HA(root, 'server.crt')));
    assert.deepEqual(cert.subjectAltName!.split(', ').sort(), [
      'DNS:haproxy',
      'DNS:haproxy.local',
      'DNS:localhost',
      'IP Address:10.191.181.52',
      'IP Address:127.0.0.1',
      'IP Address:172.16.10.2',
      'IP Address:192.168.1.2',
    ]);
    assert.equal(new X509Certificate(readFileSync(HA(root, 'ca.crt'))).ca, true);
    // ECDSA P-256 keys (src/facts/keys.ts says why); the server key only signs.
    for (const f of ['ca', 'server']) {
      const pub = new X509Certificate(readFileSync(HA(root, `${f}.crt`))).publicKey;
      assert.equal(pub.asymmetricKeyType, 'ec', f);
      assert.equal(pub.asymmetricKeyDetails?.namedCurve, 'prime256v1', f);
      assert.equal(
        createPublicKey(createPrivateKey(readFileSync(HA(root, `${f}.key`))))
          .export({ format: 'der', type: 'spki' })
          .equals(pub.export({ format: 'der', type: 'spki' })),
        true,
        `${f}.key matches ${f}.crt`,
      );
    }
    const usage = execFileSync('openssl', ['x509', '-noout', '-ext', 'keyUsage,extendedKeyUsage', '-in', HA(root, 'server.crt')], { encoding: 'utf8' });
    assert.match(usage, /critical\s+Digital Signature\s/u);
    assert.doesNotMatch(usage, /Key Encipherment/u);
    assert.match(usage, /TLS Web Server Authentication/u);
    assert.equal(mode(HA(root, 'ca.key')), 0o600);
    assert.equal(mode(HA(root, 'server.key')), 0o600);
    assert.equal(mode(HA(root, 'haproxy.cfg')), 0o600);
    assert.equal(mode(HA(root, 'ca.crt')), 0o644);
    assert.equal(
      readFileSync(join(root, 'usr/local/share/ca-certificates/haproxy-appliance-ca.crt'), 'utf8'),
      readFileSync(HA(root, 'ca.crt'), 'utf8'),
      'the CA goes to the trust store',
    );
  });
});

test('a generated CA is kept across reruns; a new host name re-issues only the server certificate; a given CA replaces it', async () => {
  await withSandbox((root, dir) => {
    assert.equal(cli(['provision', '--root', root, '--ovf-env', envFile(dir)]).code, 0);
    const ca = readFileSync(HA(root, 'ca.crt'), 'utf8');
    const server = readFileSync(HA(root, 'server.crt'), 'utf8');
    const again = cli(['provision', '--root', root, '--ovf-env', envFile(dir)]);
    assert.match(again.stdout, /nothing to change/);
    const renamed = cli(['provision', '--root', root, '--ovf-env', envFile(dir, { 'network.hostname': 'lb-2.corp.example' })]);
    assert.equal(renamed.code, 0, renamed.stderr);
    assert.match(renamed.stderr, /note: server\.crt is issued \(the SANs changed/);
    assert.equal(readFileSync(HA(root, 'ca.crt'), 'utf8'), ca, 'the CA stays');
    assert.notEqual(readFileSync(HA(root, 'server.crt'), 'utf8'), server);
    assert.match(new X509Certificate(readFileSync(HA(root, 'server.crt'))).subjectAltName!, /DNS:lb-2\.corp\.example/);
    const given = cli([
      'provision',
      '--root',
      root,
      '--ovf-env',
      envFile(dir, { 'network.hostname': 'lb-2.corp.example', 'appliance.ca_cert': fixture('pki/ca.crt'), 'appliance.ca_cert_key': fixture('pki/ca.key') }),
    ]);
    assert.equal(given.code, 0, given.stderr);
    assert.equal(readFileSync(HA(root, 'ca.crt'), 'utf8'), fixture('pki/ca.crt'));
    assert.match(given.stderr, /server\.crt is issued \(server\.crt was not signed by the current CA\)/);
    execFileSync('openssl', ['verify', '-CAfile', HA(root, 'ca.crt'), HA(root, 'server.crt')]);
  });
});

/** Every file under `dir` whose content includes one of `needles`, with its mode. */
function filesHolding(dir: string, needles: string[]): { path: string; mode: number }[] {
  return walkTree(dir)
    .filter((e) => !statSync(e.path).isDirectory() && needles.some((x) => readFileSync(e.path, 'latin1').includes(x)))
    .map((e) => ({ path: e.rel, mode: statSync(e.path).mode & 0o777 }));
}

test('secrets scan: passwords and the CA key reach no output, no argv, no world-readable file', async () => {
  await withSandbox(async (root, dir) => {
    const apiPwd = 'Api-Pw-7f3a9c-"quoted" $x';
    const rootPwd = '--Root-Pw-51d2e8';
    const caKey = fixture('pki/ca.key');
    const keyLine = caKey.split('\n')[5]!; // a line of the key's base64 body
    const env = envFile(dir, {
      'loadbalance.haproxy_pwd': apiPwd,
      'appliance.root_pwd': rootPwd,
      'appliance.ca_cert': fixture('pki/ca.crt'),
      'appliance.ca_cert_key': caKey,
    });

    // Run the CLI and sample every process's argv while it runs (it spawns openssl and haproxy).
    const argvSeen: string[] = [];
    const child = spawn(process.execPath, [`${ROOT}dist/bin.js`, 'provision', '--root', root, '--ovf-env', env, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    let running = true;
    void exited.then(() => (running = false));
    while (running) {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          argvSeen.push(readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' '));
        } catch {
          /* gone */
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(await exited, 0, out);
    assert.ok(
      argvSeen.some((a) => a.includes('provision --root')),
      'the sampler saw the run',
    );
    for (const secret of [apiPwd, rootPwd, keyLine]) {
      assert.ok(!out.includes(secret), 'not in the output');
      assert.ok(!argvSeen.some((a) => a.includes(secret)), 'not in any argv');
    }
    const dry = cli([
      'provision',
      '--root',
      root,
      '--ovf-env',
      envFile(dir, { 'loadbalance.haproxy_pwd': `${apiPwd}2`, 'appliance.ca_cert': fixture('pki/ca.crt'), 'appliance.ca_cert_key': caKey }),
      '--dry-run',
    ]);
    assert.ok(!dry.stdout.includes(apiPwd) && !dry.stdout.includes('$6$'), 'a dry run shows no password and no hash');
    assert.match(dry.stdout, /Files a\/etc\/haproxy\/haproxy\.cfg and b\/etc\/haproxy\/haproxy\.cfg differ \(secret: content not shown\)/);

    // Plain passwords are nowhere on disk; the key only where it must be, never world-readable.
    assert.deepEqual(filesHolding(root, [apiPwd, rootPwd]), []);
    assert.deepEqual(filesHolding(root, [keyLine]), [{ path: '/etc/haproxy/ca.key', mode: 0o600 }]);
    const state = readFileSync(join(root, 'var/lib/haproxy-appliance/state.json'), 'utf8');
    assert.ok(!state.includes('$6$') && !state.includes('PRIVATE KEY'), 'the state file holds no hash and no key');
    for (const f of filesHolding(root, ['$6$', 'PRIVATE KEY'])) assert.equal(f.mode & 0o044, 0, `${f.path} holds a hash or key and is readable by others`);
  });
});
