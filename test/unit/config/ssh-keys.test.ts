/**
 * appliance.ssh_authorized_keys and appliance.permit_root_login: keys of every type made by the
 * real ssh-keygen are taken, with the fingerprint and size ssh-keygen reports (the cross-check of
 * the parser); a private key is refused without a byte of it in the message; broken keys are
 * refused with their code. Runs ssh-keygen in a temporary folder (removed after).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprintOf, parseAuthorizedKeys, type AuthorizedKey, type KeyRefusal } from '../../../src/config/ssh-keys.js';
import { validateProperties } from '../../../src/config/validate.js';
import { MAX_AUTHORIZED_KEYS } from '../../../src/config/limits.js';
import { SEED_PROPERTIES } from '../../harness/ovf.js';

const dir = mkdtempSync(join(tmpdir(), 'hpa-sshkeys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A key pair made by ssh-keygen: the .pub line and the private key file's text. */
function keygen(type: string, bits?: number): { pub: string; priv: string; file: string } {
  const file = join(dir, `k${n++}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', `test ${type} ${bits ?? ''}`.trim(), '-f', file]);
  return { pub: readFileSync(`${file}.pub`, 'utf8').trim(), priv: readFileSync(file, 'utf8'), file: `${file}.pub` };
}

/** What `ssh-keygen -l -E sha256 -f FILE` says of a public key file: bits, fingerprint. */
function keygenFingerprint(file: string): { bits: number; fingerprint: string } {
  const [bits, fingerprint] = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' }).trim().split(/\s+/u);
  return { bits: Number(bits), fingerprint: fingerprint! };
}

function accepted(value: string): AuthorizedKey[] {
  const r = parseAuthorizedKeys(value, MAX_AUTHORIZED_KEYS);
  assert.ok('keys' in r, `refused: ${JSON.stringify(r)}`);
  return r.keys;
}

function refused(value: string): KeyRefusal {
  const r = parseAuthorizedKeys(value, MAX_AUTHORIZED_KEYS);
  assert.ok(!('keys' in r), 'accepted');
  return r;
}

/** An SSH wire-format string. */
const wire = (b: Buffer | string) => {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b, 'latin1');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
};
/** The fields of a key blob after its type. */
const fieldsOf = (blob: string) => Buffer.from(blob, 'base64').subarray(4 + Buffer.from(blob, 'base64').readUInt32BE(0));

test('keys of every type ssh-keygen makes are taken, with the fingerprint and size ssh-keygen reports', () => {
  for (const [type, bits] of [
    ['ed25519', undefined],
    ['ecdsa', 256],
    ['ecdsa', 384],
    ['ecdsa', 521],
    ['rsa', 2048],
    ['rsa', 3072],
  ] as const) {
    const k = keygen(type, bits);
    const [key] = accepted(k.pub);
    const want = keygenFingerprint(k.file);
    assert.equal(key!.fingerprint, want.fingerprint, `${type} ${bits}`);
    assert.equal(key!.bits, want.bits, `${type} ${bits}`);
    assert.equal(`${key!.type} ${key!.blob} ${key!.comment}`, k.pub);
  }
});

test('security-key types (sk-ssh-ed25519, sk-ecdsa-sha2-nistp256) are taken; ssh-keygen agrees on their fingerprints', () => {
  // No FIDO token here: the blobs are made from real keys plus an application, as OpenSSH lays them out.
  const ed = keygen('ed25519');
  const edBlob = Buffer.concat([wire('sk-ssh-ed25519@openssh.com'), fieldsOf(ed.pub.split(' ')[1]!), wire('ssh:')]).toString('base64');
  const ec = keygen('ecdsa', 256);
  const ecBlob = Buffer.concat([wire('sk-ecdsa-sha2-nistp256@openssh.com'), fieldsOf(ec.pub.split(' ')[1]!), wire('ssh:')]).toString('base64');
  for (const line of [`sk-ssh-ed25519@openssh.com ${edBlob} token`, `sk-ecdsa-sha2-nistp256@openssh.com ${ecBlob} token`]) {
    const file = join(dir, `sk${n++}.pub`);
    writeFileSync(file, `${line}\n`);
    const [key] = accepted(line);
    assert.equal(key!.fingerprint, keygenFingerprint(file).fingerprint, line.split(' ')[0]);
  }
});

test('several keys: newlines, CRLF, commas, and newlines a form turned into spaces; canonical lines out', () => {
  const a = keygen('ed25519').pub;
  const b = keygen('ecdsa', 256).pub;
  const c = keygen('rsa', 2048).pub;
  const want = [a, b, c];
  for (const value of [`${a}\n${b}\n${c}\n`, `${a}\r\n${b}\r\n${c}`, `${a},${b}, ${c}`, `${a} ${b} ${c}`, `\n\n  ${a}\n\n${b}  ,\n${c}\n`]) {
    const keys = accepted(value);
    assert.deepEqual(
      keys.map((k) => `${k.type} ${k.blob} ${k.comment}`),
      want,
      JSON.stringify(value.slice(0, 30)),
    );
  }
  // Without a comment too.
  const bare = a.split(' ').slice(0, 2).join(' ');
  assert.equal(accepted(bare)[0]!.comment, undefined);
  assert.equal(fingerprintOf(a.split(' ')[1]!), accepted(a)[0]!.fingerprint);
});

test('a private key (OpenSSH, PEM, PKCS#8, PuTTY) is refused, and nothing of it is in the message', () => {
  const ed = keygen('ed25519');
  const rsaPem = join(dir, `pem${n++}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-f', rsaPem]);
  const ec = keygen('ecdsa', 256);
  const pkcs8 = execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519'], { encoding: 'utf8' });
  const privates = [
    ed.priv,
    readFileSync(rsaPem, 'utf8'),
    ec.priv.replace(/\n/gu, ' '), // newlines lost in a form
    pkcs8,
    `${ed.pub}\n${ed.priv}`, // a public key and the private one pasted together
    ed.priv.split('\n').slice(1, 3).join('\n'), // the body only, without the BEGIN line
    'PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\nAAAAIGp',
  ];
  for (const priv of privates) {
    const r = refused(priv);
    assert.equal(r.code, 'ssh-private-key', priv.slice(0, 40));
    assert.match(r.reason, /PRIVATE key.*Nothing of the value is shown/u);
    for (const chunk of priv.match(/[A-Za-z0-9+/]{12,}/gu) ?? []) assert.ok(!r.reason.includes(chunk), 'the message quotes key material');
    // Through validation too: the property named, the message without the key.
    const v = validateProperties({ ...SEED_PROPERTIES, 'appliance.ssh_authorized_keys': priv });
    const p = v.problems.find((x) => x.at === 'appliance.ssh_authorized_keys');
    assert.equal(p?.code, 'ssh-private-key');
    for (const chunk of priv.match(/[A-Za-z0-9+/]{12,}/gu) ?? []) assert.ok(!JSON.stringify(v.problems).includes(chunk));
  }
});

test('broken keys are refused with their code, naming the key by number and comment, never quoting its blob', () => {
  const ed = keygen('ed25519').pub;
  const [type, blob] = ed.split(' ') as [string, string];
  const rsa = keygen('rsa', 2048).pub;
  const cases: [string, string, RegExp][] = [
    [`${type} ${blob.slice(0, -4)}!!!! me@x`, 'ssh-key-base64', /key 1 \("me@x"\): its second part is not base64/u],
    [`${type} ${blob.slice(0, -1)} me@x`, 'ssh-key-base64', /not base64/u],
    [`ssh-rsa ${blob} wrong`, 'ssh-key-blob', /holds a ssh-ed25519 key, not the ssh-rsa the line names/u],
    [`ecdsa-sha2-nistp256 ${rsa.split(' ')[1]}`, 'ssh-key-blob', /holds a ssh-rsa key/u],
    [`${type} ${Buffer.concat([Buffer.from(blob, 'base64'), Buffer.from([0, 0, 0, 1, 7])]).toString('base64')}`, 'ssh-key-blob', /bytes after the key/u],
    [`${type}`, 'ssh-key-base64', /not base64/u],
    [`from="10.0.0.0/8" ${ed}`, 'ssh-key-options', /authorized_keys options/u],
    [`restrict ${ed}`, 'ssh-key-options', /authorized_keys options/u],
    [`ssh-dss ${blob}`, 'ssh-key-type', /DSA/u],
    [`ssh-ed25519-cert-v01@openssh.com ${blob}`, 'ssh-key-type', /certificate/u],
    ['hello world', 'not-ssh-key', /key 1 is not an OpenSSH public key/u],
    [`${ed}\n${ed}`, 'listed-twice', /key 2 \("test ed25519"\) is key 1 again/u],
    [`${ed}\nssh-ed25519 AAAA\u0007 x`, 'control-character', /key 2 contains a control character/u],
  ];
  for (const [value, code, reason] of cases) {
    const r = refused(value);
    assert.equal(r.code, code, value.slice(0, 60));
    assert.match(r.reason, reason, value.slice(0, 60));
    assert.ok(!r.reason.includes(blob.slice(10, 40)), 'the blob is quoted');
  }
});

test('an RSA key under 2048 bits is refused as weak; an EC point off its curve is refused', () => {
  const short = keygen('rsa', 1024);
  const r = refused(short.pub);
  assert.equal(r.code, 'ssh-key-weak');
  assert.match(r.reason, /RSA key of 1024 bits; RSA keys must have at least 2048 bits/u);
  assert.equal(keygenFingerprint(short.file).bits, 1024);
  // Flip a bit of the point's y coordinate: the blob is well formed, the point is not on P-256.
  const ec = keygen('ecdsa', 256).pub.split(' ');
  const bytes = Buffer.from(ec[1]!, 'base64');
  bytes[bytes.length - 1]! ^= 1;
  const bad = refused(`${ec[0]} ${bytes.toString('base64')} x`);
  assert.equal(bad.code, 'ssh-key-blob');
  assert.match(bad.reason, /not a valid public key of its type/u);
});

test('at most 64 keys, counted before any is read', () => {
  const ed = keygen('ed25519').pub;
  const r = refused(Array.from({ length: MAX_AUTHORIZED_KEYS + 1 }, () => ed).join('\n'));
  assert.equal(r.code, 'too-many-items');
  assert.match(r.reason, /65 keys given; at most 64/u);
});

test('appliance.permit_root_login: True/False in every spelling as before, prohibit-password (and without-password) as a third value', () => {
  const ed = keygen('ed25519').pub;
  const withKey = { ...SEED_PROPERTIES, 'appliance.ssh_authorized_keys': ed };
  for (const [raw, want] of [
    ['prohibit-password', 'prohibit-password'],
    ['Prohibit-Password', 'prohibit-password'],
    ['without-password', 'prohibit-password'],
    ['True', true],
    ['no', false],
  ] as const) {
    const v = validateProperties({ ...withKey, 'appliance.permit_root_login': raw });
    assert.deepEqual(v.problems, [], raw);
    assert.equal(v.config!.appliance.permitRootLogin, want, raw);
    assert.deepEqual(v.config!.appliance.sshAuthorizedKeys, [ed]);
  }
  // No key property: an empty list.
  assert.deepEqual(validateProperties(SEED_PROPERTIES).config!.appliance.sshAuthorizedKeys, []);
});

test('prohibit-password without any key is refused (root would be locked out), naming appliance.permit_root_login', () => {
  for (const keys of [undefined, '', 'null', '  \n ']) {
    const v = validateProperties({
      ...SEED_PROPERTIES,
      'appliance.permit_root_login': 'prohibit-password',
      ...(keys !== undefined && { 'appliance.ssh_authorized_keys': keys }),
    });
    assert.deepEqual(
      v.problems.map((p) => [p.at, p.code]),
      [['appliance.permit_root_login', 'root-login-needs-key']],
      JSON.stringify(keys),
    );
    assert.match(v.problems[0]!.message, /appliance\.ssh_authorized_keys is empty/u);
  }
  // False without keys stays allowed (root does not log in over SSH at all, as before).
  assert.deepEqual(validateProperties({ ...SEED_PROPERTIES, 'appliance.permit_root_login': 'False' }).problems, []);
  // A bad key is reported on its own property, not as a lockout.
  const v = validateProperties({ ...SEED_PROPERTIES, 'appliance.permit_root_login': 'prohibit-password', 'appliance.ssh_authorized_keys': 'nonsense' });
  assert.deepEqual(
    v.problems.map((p) => [p.at, p.code]),
    [['appliance.ssh_authorized_keys', 'not-ssh-key']],
  );
});
