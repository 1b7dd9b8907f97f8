/** The OVA manifest: written as ovftool writes it, read back, and every kind of mismatch found. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { checkManifest, entryOf, parseManifest, renderManifest } from '../../../src/ova/manifest.js';

const FILES = [
  { name: 'haproxy.ovf', bytes: Buffer.from('<Envelope/>\n') },
  { name: 'haproxy-disk1.vmdk', bytes: Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251)) },
];
const TEXT = renderManifest(FILES.map((f) => entryOf(f.name, f.bytes)));

test('one "SHA256(name)= hex" line per file, in order, as ovftool writes it', () => {
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  assert.equal(TEXT, `SHA256(haproxy.ovf)= ${sha(FILES[0]!.bytes)}\nSHA256(haproxy-disk1.vmdk)= ${sha(FILES[1]!.bytes)}\n`);
});

test('round trip: the manifest parses back to its entries and checks out against the files', () => {
  assert.deepEqual(
    parseManifest(TEXT).entries.map((e) => e.name),
    FILES.map((f) => f.name),
  );
  assert.deepEqual(checkManifest(TEXT, FILES), []);
  assert.deepEqual(checkManifest(TEXT, parseManifest(TEXT).entries), [], 'digests given instead of bytes');
  assert.deepEqual(checkManifest(TEXT.replace(/\n/gu, '\r\n'), FILES), [], 'CRLF line ends are read too');
});

test('one changed byte is found, naming the file', () => {
  const disk = Buffer.from(FILES[1]!.bytes);
  disk.writeUInt8(disk.readUInt8(2000) ^ 1, 2000);
  const got = checkManifest(TEXT, [FILES[0]!, { name: FILES[1]!.name, bytes: disk }]);
  assert.deepEqual(
    got.map((m) => [m.name, m.kind]),
    [['haproxy-disk1.vmdk', 'changed']],
  );
});

test('a missing file and an extra file are found', () => {
  assert.deepEqual(
    checkManifest(TEXT, [FILES[0]!]).map((m) => [m.name, m.kind]),
    [['haproxy-disk1.vmdk', 'missing']],
  );
  assert.deepEqual(
    checkManifest(TEXT, [...FILES, { name: 'extra.iso', bytes: Buffer.from('x') }]).map((m) => [m.name, m.kind]),
    [['extra.iso', 'unlisted']],
  );
});

test('malformed lines and a name listed twice are reported, not ignored', () => {
  const bad = `${TEXT}SHA1(haproxy.ovf)= ${'0'.repeat(40)}\nSHA256(haproxy.ovf)= ${'a'.repeat(64)}\n`;
  assert.deepEqual(
    checkManifest(bad, FILES).map((m) => [m.name, m.kind]),
    [
      ['line 3', 'malformed'],
      ['haproxy.ovf', 'malformed'],
    ],
  );
  assert.deepEqual(
    checkManifest(TEXT.toUpperCase(), FILES).map((m) => m.kind),
    ['malformed', 'malformed', 'unlisted', 'unlisted'],
  );
});

test('renderManifest refuses names with a folder or parentheses, a name twice, and a bad digest', () => {
  assert.throws(() => renderManifest([{ name: 'a/b', sha256: 'a'.repeat(64) }]), /a\/b/u);
  assert.throws(() => renderManifest([{ name: 'a(b)', sha256: 'a'.repeat(64) }]), /a\(b\)/u);
  assert.throws(() => renderManifest([entryOf('a', 'x'), entryOf('a', 'y')]), /twice/u);
  assert.throws(() => renderManifest([{ name: 'a', sha256: 'xyz' }]), /64 hex/u);
});
