/**
 * known_hosts as OpenSSH reads it: entries written and hashed by the real ssh-keygen, wildcard
 * and negated patterns, [host]:port, @revoked; lines this module writes are found by ssh-keygen.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { execa } from 'execa';
import {
  appendKnownHost,
  entryMatches,
  fingerprint,
  hostKeyAlgorithms,
  hostKeyName,
  knownHostsLine,
  knownKeyTypes,
  parseKnownHosts,
  verifyHostKey,
} from '../../../src/verify/known-hosts.js';

const dir = await mkdtemp(join(tmpdir(), 'hpa-kh-'));
after(() => rm(dir, { recursive: true, force: true }));

async function keygen(name: string, type = 'ed25519'): Promise<{ line: string; blob: Buffer; path: string }> {
  const path = join(dir, name);
  await execa('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', path], { stdin: 'ignore' });
  const line = (await readFile(`${path}.pub`, 'utf8')).trim();
  return { line, blob: Buffer.from(line.split(' ')[1]!, 'base64'), path };
}

const a = await keygen('a');
const b = await keygen('b');
const rsa = await keygen('r', 'rsa');
const typeAndKey = (l: string) => l.split(' ').slice(0, 2).join(' ');

test('plain entries, ports, wildcards and negation', () => {
  const entries = parseKnownHosts(
    [
      '# comment',
      `10.191.181.52,haproxy.local ${typeAndKey(a.line)}`,
      `[10.191.181.52]:2222 ${typeAndKey(b.line)}`,
      `*.lab,!bad.lab ${typeAndKey(b.line)}`,
      `@revoked * ${typeAndKey(rsa.line)}`,
      `@cert-authority *.example ${typeAndKey(a.line)}`,
      'garbage',
    ].join('\n'),
    'kh',
  );
  assert.equal(entries.length, 5);
  assert.equal(verifyHostKey(entries, '10.191.181.52', 22, a.blob).status, 'known');
  assert.equal(verifyHostKey(entries, 'HAPROXY.local', 22, a.blob).status, 'known');
  assert.equal(verifyHostKey(entries, '10.191.181.52', 22, b.blob).status, 'changed');
  assert.equal(verifyHostKey(entries, '10.191.181.52', 2222, b.blob).status, 'known');
  assert.equal(verifyHostKey(entries, '10.191.181.52', 2222, a.blob).status, 'changed');
  assert.equal(verifyHostKey(entries, 'lb1.lab', 22, b.blob).status, 'known');
  assert.equal(verifyHostKey(entries, 'bad.lab', 22, b.blob).status, 'unknown');
  assert.equal(verifyHostKey(entries, '10.0.0.1', 22, a.blob).status, 'unknown');
  assert.equal(verifyHostKey(entries, '10.0.0.1', 22, rsa.blob).status, 'revoked');
  assert.equal(hostKeyName('H', 22), 'h');
  assert.equal(hostKeyName('h', 2222), '[h]:2222');
  assert.deepEqual(knownKeyTypes(entries, '10.191.181.52', 22), ['ssh-ed25519']);
  assert.deepEqual(hostKeyAlgorithms(['ssh-rsa', 'ssh-ed25519']), ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
});

test('entries hashed by ssh-keygen -H are matched', async () => {
  const file = join(dir, 'hashed');
  await writeFile(file, `10.191.181.52 ${typeAndKey(a.line)}\n[10.191.181.53]:2222 ${typeAndKey(b.line)}\n`);
  await execa('ssh-keygen', ['-H', '-f', file], { stdin: 'ignore' });
  const entries = parseKnownHosts(await readFile(file, 'utf8'), file);
  assert.ok(entries.every((e) => e.hashed));
  assert.equal(verifyHostKey(entries, '10.191.181.52', 22, a.blob).status, 'known');
  assert.equal(verifyHostKey(entries, '10.191.181.53', 2222, b.blob).status, 'known');
  assert.equal(verifyHostKey(entries, '10.191.181.53', 22, b.blob).status, 'unknown');
  assert.equal(verifyHostKey(entries, '10.191.181.52', 22, b.blob).status, 'changed');
});

test('lines written here (hashed and plain) are found by ssh-keygen -F, with the same fingerprint', async () => {
  const file = join(dir, 'written');
  await appendKnownHost(file, knownHostsLine('10.191.181.52', 22, a.blob));
  await appendKnownHost(file, knownHostsLine('10.191.181.54', 2200, b.blob, { hashed: false }));
  for (const host of ['10.191.181.52', '[10.191.181.54]:2200']) {
    const r = await execa('ssh-keygen', ['-F', host, '-f', file], { stdin: 'ignore', reject: false });
    assert.equal(r.exitCode, 0, host);
  }
  const printed = (await execa('ssh-keygen', ['-lf', `${a.path}.pub`], { stdin: 'ignore' })).stdout.split(' ')[1];
  assert.equal(fingerprint(a.blob), printed);
  const entries = parseKnownHosts(await readFile(file, 'utf8'), file);
  assert.equal(entries.length, 2);
  assert.ok(entryMatches(entries[0]!, '10.191.181.52'));
  assert.equal((await readFile(file, 'utf8')).split('\n').length, 3);
});
