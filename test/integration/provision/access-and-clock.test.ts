/**
 * Issue 13: root's SSH keys and login (appliance.ssh_authorized_keys, permit_root_login
 * prohibit-password) and the certificates' tolerance of a skewed clock, through the built CLI in
 * a sandbox, checked with the real OpenSSH (ssh-keygen, sshd -T) and the real OpenSSL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { cli } from '../../harness/cli.js';
import { envFile, withSandbox } from '../../harness/sandbox.js';
import { fixture } from '../../harness/ovf.js';
import { validateProperties } from '../../../src/config/validate.js';
import { SEED_PROPERTIES } from '../../harness/ovf.js';
import { generateCa, issueServerCert } from '../../../src/facts/keys.js';
import { decidePki } from '../../../src/plan/pki.js';
import { CERT_BACKDATE_S, serverSans } from '../../../src/plan/certificates.js';
import { KEYS_BEGIN, KEYS_END } from '../../../src/plan/access.js';

const KEY1 = fixture('ssh/root-key-1.pub').trim();
const KEY2 = fixture('ssh/root-key-2.pub').trim();
const HAND = fixture('ssh/hand-added.pub').trim();
const mode = (p: string) => statSync(p).mode & 0o777;
const keysFile = (root: string) => join(root, 'root/.ssh/authorized_keys');
const fingerprints = (file: string) =>
  execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[1]);
const fp = (line: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-fp-'));
  try {
    writeFileSync(join(dir, 'k.pub'), `${line}\n`);
    return fingerprints(join(dir, 'k.pub'))[0];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test("root's keys: a 0600 authorized_keys in a 0700 .ssh, the agent's block only; keys added by hand stay; blank removes the block", async () => {
  await withSandbox((root, dir) => {
    const env = envFile(dir, { 'appliance.ssh_authorized_keys': `${KEY1}\n${KEY2}`, 'appliance.permit_root_login': 'prohibit-password' });
    const r = cli(['provision', '--root', root, '--ovf-env', env]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created \/root\/\.ssh\/authorized_keys/u);
    assert.equal(mode(join(root, 'root/.ssh')), 0o700);
    assert.equal(mode(keysFile(root)), 0o600);
    assert.equal(readFileSync(keysFile(root), 'utf8'), `${KEYS_BEGIN}\n${KEY1}\n${KEY2}\n${KEYS_END}\n`);
    // The real ssh-keygen reads the file as sshd will: both keys, by fingerprint.
    assert.deepEqual(fingerprints(keysFile(root)), [fp(KEY1), fp(KEY2)]);
    // The real sshd takes the drop-in: PermitRootLogin prohibit-password (sshd -T prints its old name).
    const hostKey = join(dir, 'host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    const cfg = join(dir, 'sshd_config');
    writeFileSync(cfg, `Include ${join(root, 'etc/ssh/sshd_config.d/50-haproxy-appliance.conf')}\nHostKey ${hostKey}\n`);
    // sshd wants /run/sshd: made in a private mount namespace's own /run, never the host's.
    const t = execFileSync(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /run && mkdir /run/sshd && exec /usr/sbin/sshd -T -f "$1"', 'sh', cfg],
      {
        encoding: 'utf8',
      },
    );
    assert.match(t, /^permitrootlogin without-password$/mu);
    assert.match(t, /^listenaddress 10\.191\.181\.52:22$/mu);

    // An admin adds a key by hand, before and after the block; a rerun with one key less keeps them.
    writeFileSync(keysFile(root), `${HAND}\n${readFileSync(keysFile(root), 'utf8')}# a note\n`);
    const again = cli([
      'provision',
      '--root',
      root,
      '--ovf-env',
      envFile(dir, { 'appliance.ssh_authorized_keys': KEY2, 'appliance.permit_root_login': 'prohibit-password' }),
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(keysFile(root), 'utf8'), `${HAND}\n${KEYS_BEGIN}\n${KEY2}\n${KEYS_END}\n# a note\n`);
    assert.equal(mode(keysFile(root)), 0o600);
    // Blank: the block goes, the admin's lines stay.
    const blank = cli(['provision', '--root', root, '--ovf-env', envFile(dir)]);
    assert.equal(blank.code, 0, blank.stderr);
    assert.equal(readFileSync(keysFile(root), 'utf8'), `${HAND}\n# a note\n`);
    // And then nothing is the agent's business: no change at all.
    assert.match(cli(['provision', '--root', root, '--ovf-env', envFile(dir)]).stdout, /nothing to change/u);
  });
});

test('a private key in appliance.ssh_authorized_keys: exit 2, the property named, no byte of the key printed, nothing written', async () => {
  await withSandbox((root, dir) => {
    const keyFile = join(dir, 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    const priv = readFileSync(keyFile, 'utf8');
    const env = envFile(dir, { 'appliance.ssh_authorized_keys': priv });
    for (const args of [
      ['validate', '--ovf-env', env],
      ['validate', '--ovf-env', env, '--json'],
      ['provision', '--root', root, '--ovf-env', env],
    ]) {
      const r = cli(args);
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      const out = `${r.stdout}${r.stderr}`;
      assert.match(out, /appliance\.ssh_authorized_keys/u);
      assert.match(out, /ssh-private-key|holds a PRIVATE key/u);
      for (const chunk of priv.match(/[A-Za-z0-9+/]{12,}/gu) ?? []) assert.ok(!out.includes(chunk), `${args.join(' ')} printed key material`);
    }
    assert.equal(existsSync(join(root, 'etc')), false, 'nothing was written');
    // prohibit-password without a key: refused, naming permit_root_login.
    const locked = cli(['validate', '--json', '--ovf-env', envFile(dir, { 'appliance.permit_root_login': 'prohibit-password' })]);
    assert.equal(locked.code, 2);
    const doc = JSON.parse(locked.stdout) as { problems: { at: string; code: string }[] };
    assert.deepEqual(
      doc.problems.map((p) => [p.at, p.code]),
      [['appliance.permit_root_login', 'root-login-needs-key']],
    );
  });
});

/** notBefore and notAfter as the real OpenSSL prints them. */
function dates(file: string): { from: number; to: number } {
  const out = execFileSync('openssl', ['x509', '-noout', '-startdate', '-enddate', '-in', file], { encoding: 'utf8' });
  return {
    from: Date.parse(/notBefore=(.*)/u.exec(out)![1]!),
    to: Date.parse(/notAfter=(.*)/u.exec(out)![1]!),
  };
}

test(`the generated CA and server certificate are valid from ${CERT_BACKDATE_S / 3600} h before they are made; the output says so; a sandbox never waits for NTP`, async () => {
  await withSandbox((root, dir) => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    // NTP servers set, in a sandbox: the certificates are made without any wait (no warning).
    const r = cli(['provision', '--json', '--root', root, '--ovf-env', envFile(dir, { 'network.ntp_servers': '192.0.2.123' })]);
    const after = Date.now();
    assert.equal(r.code, 0, r.stderr);
    const warnings = (JSON.parse(r.stdout) as { warnings: { code: string }[] }).warnings.map((w) => w.code);
    assert.ok(!warnings.includes('time-not-synchronized'), warnings.join(', '));
    const DAY = 86_400_000;
    for (const [name, days] of [
      ['ca.crt', 3650],
      ['server.crt', 730],
    ] as const) {
      const d = dates(join(root, 'etc/haproxy', name));
      assert.ok(d.from >= before - CERT_BACKDATE_S * 1000 && d.from <= after - CERT_BACKDATE_S * 1000, `${name} notBefore ${new Date(d.from).toISOString()}`);
      assert.equal(d.to - d.from, CERT_BACKDATE_S * 1000 + days * DAY, `${name}: ${days} days from the moment it was made`);
    }
    execFileSync('openssl', ['verify', '-CAfile', join(root, 'etc/haproxy/ca.crt'), join(root, 'etc/haproxy/server.crt')]);
    // The text output says it where the certificates are made.
    rmSync(join(root, 'etc/haproxy/server.crt'));
    const text = cli(['provision', '--root', root, '--ovf-env', envFile(dir)]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stderr, /note: the certificates made now are valid from 24 h before this clock \(notBefore backdated\)/u);
  });
});

test('a certificate made while the clock was further ahead than the backdate is made again by the next run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-clock-'));
  try {
    mkdirSync(join(dir, 'work'));
    const config = validateProperties(SEED_PROPERTIES).config!;
    const ws = { dir: join(dir, 'work') };
    const now = new Date();
    // Made by a clock three days ahead: valid from two days from now.
    const ahead = new Date(now.getTime() + 3 * 86_400_000);
    const ca = await generateCa('haproxy.local', ws, ahead);
    const server = await issueServerCert(ca, '10.191.181.52', serverSans(config), ws, ahead);
    assert.ok(new Date(new X509Certificate(ca.cert).validFrom).getTime() > now.getTime());
    const d = decidePki(config, { caCert: ca.cert, caKey: ca.key, serverCert: server.cert, serverKey: server.key, now });
    assert.equal(d.ca.source, 'generate');
    assert.match(d.ca.reason!, /^ca\.crt is not valid before \S+ \(the clock was ahead when it was made\)$/u);
    // A CA in date, with a server certificate from the future: only the server certificate again.
    const okCa = await generateCa('haproxy.local', ws, now);
    const future = await issueServerCert(okCa, '10.191.181.52', serverSans(config), ws, ahead);
    const e = decidePki(config, { caCert: okCa.cert, caKey: okCa.key, serverCert: future.cert, serverKey: future.key, now });
    assert.equal(e.ca.source, 'existing');
    assert.match(e.server.reason!, /^server\.crt is not valid before \S+ \(the clock was ahead when it was made\)$/u);
    // Made by this clock: kept.
    const fresh = await issueServerCert(okCa, '10.191.181.52', serverSans(config), ws, now);
    assert.deepEqual(decidePki(config, { caCert: okCa.cert, caKey: okCa.key, serverCert: fresh.cert, serverKey: fresh.key, now }).server, { issue: false });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
