/**
 * The OVA package, judged by outside programs: the descriptor validates against DMTF DSP8023 1.1.1
 * with xmllint (and a broken one is refused), and an OVA written by src/ova/archive.ts is read by GNU
 * tar with the descriptor first and a manifest that sha256sum and checkManifest both accept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { renderOvfEnvelope } from '../../../src/ova/envelope.js';
import { writeOva } from '../../../src/ova/archive.js';
import { checkManifest } from '../../../src/ova/manifest.js';
import { ROOT } from '../../harness/ovf.js';

const SCHEMA = join(ROOT, 'test/fixtures/ovf-schema/dsp8023_1.1.1.xsd');
const ENVELOPE = renderOvfEnvelope({ version: '0.1.0', disk: { file: 'haproxy-disk1.vmdk', size: 2 ** 20, capacityBytes: 4 * 2 ** 30 } });

function xmllint(xml: string) {
  const r = spawnSync('xmllint', ['--noout', '--nonet', '--schema', SCHEMA, '-'], { input: xml, encoding: 'utf8', cwd: ROOT });
  assert.equal(r.error, undefined, 'xmllint (Debian libxml2-utils) must be installed');
  return r;
}

function withTmp(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ova-test-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('the envelope validates against DSP8023 1.1.1, offline', () => {
  const r = xmllint(ENVELOPE);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /- validates/u);
});

test('an envelope with an Item whose rasd: elements are out of order is refused', () => {
  // The CPU Item: move InstanceID after ResourceType.
  const broken = ENVELOPE.replace(/(\n\s*<rasd:InstanceID>1<\/rasd:InstanceID>)(\n\s*<rasd:ResourceType>3<\/rasd:ResourceType>)/u, '$2$1');
  assert.notEqual(broken, ENVELOPE, 'the edit applied');
  const r = xmllint(broken);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /InstanceID/u);
  assert.match(r.stderr, /fails to validate/u);
});

test('vmw:Config (the firmware) validates at the end of the VirtualHardwareSection, and the schema does check where it is', () => {
  assert.match(ENVELOPE, /<vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="bios"\/>\n\s*<\/VirtualHardwareSection>/u);
  // DSP8023 allows other namespaces' elements in a VirtualHardwareSection only after the System
  // (xs:any ##other). Moved before the System, the same line is refused.
  const line = /\n\s*<vmw:Config [^\n]*\/>/u.exec(ENVELOPE)![0];
  const moved = ENVELOPE.replace(line, '').replace(/(\n\s*<System>)/u, `${line}$1`);
  assert.notEqual(moved, ENVELOPE, 'the edit applied');
  const r = xmllint(moved);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /System': This element is not expected/u);
  assert.match(r.stderr, /fails to validate/u);
});

test(
  'an OVA from a 1 MiB disk: GNU tar lists the descriptor first, then the manifest and the disk, and the manifest checks out',
  withTmp(async (dir) => {
    const disk = join(dir, 'disk.vmdk');
    const bytes = Buffer.alloc(2 ** 20);
    for (let i = 0; i < bytes.length; i += 32) createHash('sha256').update(String(i)).digest().copy(bytes, i);
    writeFileSync(disk, bytes);
    const out = join(dir, 'haproxy.ova');
    const result = await writeOva({
      out,
      descriptor: { name: 'haproxy.ovf', text: ENVELOPE },
      manifestName: 'haproxy.mf',
      disk: { name: 'haproxy-disk1.vmdk', path: disk },
      mtime: 1_700_000_000,
    });
    assert.equal(statSync(out).size, result.bytes);
    assert.equal(result.bytes % 512, 0);

    const list = spawnSync('tar', ['-tvf', out], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    assert.equal(list.error, undefined, 'GNU tar must be installed');
    assert.equal(list.status, 0, list.stderr);
    assert.equal(list.stderr, '', 'no warnings');
    const rows = list.stdout.trim().split('\n');
    assert.deepEqual(
      rows.map((r) => r.split(/\s+/u).at(-1)),
      ['haproxy.ovf', 'haproxy.mf', 'haproxy-disk1.vmdk'],
    );
    assert.match(rows[2]!, /^-rw-r--r-- root\/root\s+1048576 2023-11-14 22:13 /u);

    const x = join(dir, 'x');
    mkdirSync(x);
    const extract = spawnSync('tar', ['-xf', out, '-C', x], { encoding: 'utf8' });
    assert.equal(extract.status, 0, extract.stderr);
    assert.deepEqual(readdirSync(x).sort(), ['haproxy-disk1.vmdk', 'haproxy.mf', 'haproxy.ovf']);
    assert.equal(readFileSync(join(x, 'haproxy.ovf'), 'utf8'), ENVELOPE);
    assert.ok(readFileSync(join(x, 'haproxy-disk1.vmdk')).equals(bytes));

    const mf = readFileSync(join(x, 'haproxy.mf'), 'utf8');
    assert.equal(mf, result.manifest);
    const sums = spawnSync('sha256sum', ['--strict', '-c', 'haproxy.mf'], { encoding: 'utf8', cwd: x });
    assert.equal(sums.status, 0, sums.stdout + sums.stderr);
    assert.match(sums.stdout, /haproxy\.ovf: OK\nhaproxy-disk1\.vmdk: OK/u);
    const files = ['haproxy.ovf', 'haproxy-disk1.vmdk'].map((name) => ({ name, bytes: readFileSync(join(x, name)) }));
    assert.deepEqual(checkManifest(mf, files), []);

    // And the check can fail: one byte of the extracted disk changed.
    const changed = Buffer.from(bytes);
    changed.writeUInt8(changed.readUInt8(777) ^ 0xff, 777);
    writeFileSync(join(x, 'haproxy-disk1.vmdk'), changed);
    const bad = spawnSync('sha256sum', ['--strict', '-c', 'haproxy.mf'], { encoding: 'utf8', cwd: x });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout, /haproxy-disk1\.vmdk: FAILED/u);
  }),
);

test(
  'writeOva refuses a disk name that ustar cannot hold and leaves no archive behind',
  withTmp(async (dir) => {
    const disk = join(dir, 'disk.vmdk');
    writeFileSync(disk, 'x');
    const out = join(dir, 'bad.ova');
    await assert.rejects(
      writeOva({ out, descriptor: { name: 'a.ovf', text: ENVELOPE }, manifestName: 'a.mf', disk: { name: 'sub/disk.vmdk', path: disk } }),
      /bare file name/u,
    );
    assert.deepEqual(readdirSync(dir), ['disk.vmdk']);
  }),
);
