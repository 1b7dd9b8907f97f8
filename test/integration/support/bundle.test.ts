/**
 * `haproxy-appliance support` (the built CLI) on a sandbox provisioned with every secret property
 * holding a marker: the files come from `--root` (plus what an admin or the Data Plane API 2.9+
 * may add: a dataplaneapi.yaml with users and passwords, a WireGuard netdev, a key pasted into a
 * certificate file), the commands are this machine's read-only ones. The bundle (to a file and
 * to stdout) has summary.txt first, the expected members, no marker, no private key; it is 0600.
 * And `verify --support-bundle` reports an unreachable host (in a network namespace of its own,
 * with no route anywhere) as verify does: exit 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../../harness/cli.js';
import { fixture, ROOT } from '../../harness/ovf.js';
import { envFile, withSandbox } from '../../harness/sandbox.js';

const ROOT_PWD = 'RootPwd-5b2e-SUPPORTMARK';
const API_PWD = 'ApiPwd-0d4c-SUPPORTMARK';
const CA_KEY = fixture('pki/ca.key');
const KEY_LINES = CA_KEY.split('\n').filter((l) => l && !l.startsWith('-----'));
const MARKERS = [ROOT_PWD, API_PWD, 'SUPPORTMARK', 'PRIVATE KEY', ...KEY_LINES];

function unpack(archive: string, into: string): string[] {
  mkdirSync(into, { recursive: true });
  const x = spawnSync('tar', ['-xzf', archive, '-C', into]);
  assert.equal(x.status, 0, String(x.stderr));
  return spawnSync('tar', ['-tzf', archive], { encoding: 'utf8' }).stdout.trim().split('\n');
}

function holding(dir: string): string[] {
  const found: string[] = [];
  for (const f of readdirSync(dir)) {
    const data = readFileSync(join(dir, f));
    for (const m of MARKERS)
      if (data.includes(m)) found.push(`${f}: ${m.startsWith('RootPwd') || m.startsWith('ApiPwd') ? 'a password marker' : m.slice(0, 20)}`);
  }
  return found;
}

test('support --root: summary first, the expected files, no secret and no private key; to a file (0600) and to stdout', async () => {
  await withSandbox((root, dir) => {
    const env = envFile(dir, {
      'appliance.root_pwd': ROOT_PWD,
      'loadbalance.haproxy_pwd': API_PWD,
      'appliance.ca_cert': fixture('pki/ca.crt'),
      'appliance.ca_cert_key': CA_KEY,
    });
    const p = cli(['provision', '--ovf-env', env, '--root', root], { timeoutMs: 120_000 });
    assert.equal(p.code, 0, p.stderr);
    // What others may leave: the API 2.9+'s users in dataplaneapi.yaml, a WireGuard netdev, a key pasted after a certificate.
    writeFileSync(join(root, 'etc/haproxy/dataplaneapi.yaml'), `config_version: 2\nusers:\n  - name: admin\n    password: ${API_PWD}\n    insecure: true\n`);
    writeFileSync(join(root, 'etc/systemd/network/40-wg.netdev'), `[NetDev]\nName=wg0\nKind=wireguard\n[WireGuard]\nPrivateKey=${KEY_LINES[0]}\n`);
    appendFileSync(join(root, 'etc/haproxy/server.crt'), CA_KEY);
    const cfg = readFileSync(join(root, 'etc/haproxy/haproxy.cfg'), 'utf8');
    assert.match(cfg, /^\s*user \S+ password \$6\$/mu, 'the sandbox has a userlist hash to remove');

    const out = join(dir, 'bundle.tar.gz');
    const r = cli(['support', '--root', root, '--ovf-env', env, '--output', out], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote .*bundle\.tar\.gz/u);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const into = join(dir, 'unpacked');
    const names = unpack(out, into);
    assert.equal(names[0], 'summary.txt');
    for (const want of [
      'system.json',
      'certificates.txt',
      'ovf-environment.txt',
      'file_var_lib_haproxy-appliance_state.json',
      'file_etc_haproxy_haproxy.cfg',
      'file_etc_haproxy_dataplaneapi.yaml',
      'file_etc_haproxy_ca.crt',
      'file_etc_haproxy_server.crt',
      'file_etc_systemd_network_20-management.network',
      'file_etc_systemd_network_40-wg.netdev',
      'file_etc_ssh_sshd_config.d_50-haproxy-appliance.conf',
      'cmd_ip-addr.txt',
      'cmd_haproxy-c.txt',
      'journal_haproxy_boot0.txt',
    ])
      assert.ok(names.includes(want), `${want} in ${names.join(', ')}`);
    for (const n of names) assert.ok(!/\.key$|shadow|root-password/u.test(n), `${n} is never collected`);
    assert.deepEqual(holding(into), []);
    assert.match(readFileSync(join(into, 'file_etc_haproxy_haproxy.cfg'), 'utf8'), /^\s*user \S+ password \[removed\]$/mu);
    assert.match(readFileSync(join(into, 'file_etc_haproxy_dataplaneapi.yaml'), 'utf8'), /^ {4}password: \[removed\]$/mu);
    assert.match(readFileSync(join(into, 'file_etc_haproxy_server.crt'), 'utf8'), /BEGIN CERTIFICATE[\s\S]*\[private-key block removed\]/u);
    assert.match(readFileSync(join(into, 'cmd_ip-addr.txt'), 'utf8'), /^\$ ip -d addr\n# exit 0/u, 'the commands are real');
    assert.match(readFileSync(join(into, 'cmd_haproxy-c.txt'), 'utf8'), /not run under --root/u);
    const certs = readFileSync(join(into, 'certificates.txt'), 'utf8');
    assert.match(certs, /^\/etc\/haproxy\/ca\.crt\n {2}subject: +CN=Test Appliance CA\n[\s\S]*?not before: +\w/mu, certs);
    assert.match(certs, /^\/etc\/haproxy\/server\.crt\n[\s\S]*?SANs: +.*IP Address:/mu, certs);
    const summary = readFileSync(join(into, 'summary.txt'), 'utf8');
    assert.match(summary, /^Last provision run: applied at /mu);
    assert.match(summary, /^- secret values searched for: .*appliance\.root_pwd/mu);
    assert.match(summary, /file_etc_haproxy_haproxy\.cfg: \d+ removed/u);
    const facts = JSON.parse(readFileSync(join(into, 'system.json'), 'utf8')) as Record<string, unknown>;
    for (const k of ['os', 'cpu', 'memory', 'system', 'time', 'disks', 'nics']) assert.ok(k in facts, `system.json has ${k}`);

    // To stdout: the same members.
    const s = spawnSync(process.execPath, [`${ROOT}dist/bin.js`, 'support', '--root', root, '--ovf-env', env, '--output', '-'], {
      maxBuffer: 64 << 20,
      timeout: 60_000,
    });
    assert.equal(s.status, 0, String(s.stderr));
    assert.equal(s.stdout[0], 0x1f);
    const piped = join(dir, 'piped.tar.gz');
    writeFileSync(piped, s.stdout);
    assert.deepEqual(unpack(piped, join(dir, 'piped')), names);
    assert.deepEqual(holding(join(dir, 'piped')), []);
  });
});

test('support with no tool installed (an empty PATH): every command and journal says so, the bundle still completes', async () => {
  await withSandbox((root, dir) => {
    const env = envFile(dir, { 'appliance.root_pwd': ROOT_PWD });
    assert.equal(cli(['provision', '--ovf-env', env, '--root', root], { timeoutMs: 120_000 }).code, 0);
    const out = join(dir, 'bare.tar.gz');
    const r = cli(['support', '--root', root, '--ovf-env', env, '--output', out], { env: { PATH: join(dir, 'empty') }, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const into = join(dir, 'bare');
    const names = unpack(out, into);
    assert.equal(names[0], 'summary.txt');
    assert.match(readFileSync(join(into, 'cmd_ip-addr.txt'), 'utf8'), /^\$ ip -d addr\n# not run: ip is not installed\n$/u);
    assert.match(readFileSync(join(into, 'journal_haproxy_boot0.txt'), 'utf8'), /# not run: journalctl is not installed/u);
    const summary = readFileSync(join(into, 'summary.txt'), 'utf8');
    assert.match(summary, /^- ss -ltnp: not run: ss is not installed$/mu);
    assert.ok(names.includes('file_etc_haproxy_haproxy.cfg') && names.includes('system.json'), names.join(', '));
    assert.deepEqual(holding(into), []);
  });
});

test('support: bad --root and an unreadable --ovf-env are usage errors (exit 2), nothing written', async () => {
  await withSandbox((root, dir) => {
    const out = join(dir, 'x.tar.gz');
    const a = cli(['support', '--root', join(dir, 'nope'), '--output', out]);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /--root: .*nope is not a directory/u);
    const b = cli(['support', '--root', root, '--ovf-env', join(dir, 'missing.xml'), '--output', out]);
    assert.equal(b.code, 2, b.stderr);
    assert.throws(() => statSync(out));
    // Not root, on the live system: refused before anything is read.
    const c = spawnSync(
      'setpriv',
      ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, `${ROOT}dist/bin.js`, 'support', '--output', out],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.equal(c.status, 2, c.stderr);
    assert.match(c.stderr, /^haproxy-appliance support: run it as root: /mu);
    assert.throws(() => statSync(out));
  });
});

test('verify --support-bundle: an unreachable host is exit 2 with its reason, no file written', async () => {
  await withSandbox((_root, dir) => {
    const bundles = join(dir, 'bundles');
    // A network namespace of its own (only a down loopback): nothing is reachable from it.
    const r = spawnSync(
      'unshare',
      [
        '--net',
        process.execPath,
        `${ROOT}dist/bin.js`,
        'verify',
        'root@192.0.2.10',
        '--password-env',
        'PW',
        '--known-hosts',
        join(dir, 'kh'),
        '--timeout',
        '3',
        '--support-bundle',
        bundles,
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH, PW: 'x', HOME: dir }, timeout: 60_000 },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /UNREACHABLE: .*192\.0\.2\.10/u);
    assert.deepEqual(readdirSync(bundles), []);
    // Options that check something do not go with it.
    const x = spawnSync(
      'unshare',
      [
        '--net',
        process.execPath,
        `${ROOT}dist/bin.js`,
        'verify',
        'root@192.0.2.10',
        '--password-env',
        'PW',
        '--known-hosts',
        join(dir, 'kh'),
        '--junit',
        join(dir, 'j.xml'),
        '--support-bundle',
        bundles,
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH, PW: 'x', HOME: dir }, timeout: 60_000 },
    );
    assert.equal(x.status, 2, x.stderr);
    assert.match(x.stderr, /--junit: does not go with --support-bundle/u);
  });
});
