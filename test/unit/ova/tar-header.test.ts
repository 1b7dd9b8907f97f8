/**
 * The hand-written ustar header (src/ova/archive.ts), field by field against POSIX IEEE 1003.1 ustar.
 * GNU tar reads whole archives made with it in test/integration/ova/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK, padding, USTAR_MAX_SIZE, ustarHeader } from '../../../src/ova/archive.js';

const field = (h: Buffer, offset: number, length: number) =>
  h
    .subarray(offset, offset + length)
    .toString('latin1')
    .replace(/\0+$/u, '');

test('the fields of a regular file: name, mode, owner, size, mtime, type, magic, version', () => {
  const h = ustarHeader({ name: 'haproxy.ovf', size: 12345, mtime: 1_700_000_000 });
  assert.equal(h.length, BLOCK);
  assert.equal(field(h, 0, 100), 'haproxy.ovf');
  assert.equal(field(h, 100, 8), '0000644');
  assert.equal(field(h, 108, 8), '0000000');
  assert.equal(field(h, 116, 8), '0000000');
  assert.equal(parseInt(field(h, 124, 12), 8), 12345);
  assert.equal(field(h, 124, 12), '00000030071');
  assert.equal(parseInt(field(h, 136, 12), 8), 1_700_000_000);
  assert.equal(field(h, 156, 1), '0');
  assert.equal(h.subarray(257, 263).toString('latin1'), 'ustar\0');
  assert.equal(h.subarray(263, 265).toString('latin1'), '00');
  assert.equal(field(h, 265, 32), 'root');
  assert.equal(field(h, 345, 155), '', 'no prefix');
});

test('the checksum is the sum of the header bytes with the checksum field as spaces', () => {
  for (const member of [
    { name: 'a', size: 0 },
    { name: 'haproxy-disk1.vmdk', size: 400 * 2 ** 20, mode: 0o600, mtime: 42 },
  ]) {
    const h = ustarHeader(member);
    const copy = Buffer.from(h);
    copy.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of copy) sum += b;
    assert.equal(parseInt(field(h, 148, 6), 8), sum);
    assert.equal(h[154], 0);
    assert.equal(h[155], 0x20);
  }
});

test('the largest size ustar holds (8 GiB - 1) is written; one more, bad names and bad numbers are refused', () => {
  assert.equal(field(ustarHeader({ name: 'big', size: USTAR_MAX_SIZE }), 124, 12), '77777777777');
  assert.throws(() => ustarHeader({ name: 'big', size: USTAR_MAX_SIZE + 1 }), /size of "big"/u);
  assert.throws(() => ustarHeader({ name: 'x', size: -1 }), /size/u);
  assert.throws(() => ustarHeader({ name: 'x', size: 1.5 }), /size/u);
  assert.throws(() => ustarHeader({ name: 'dir/x', size: 1 }), /bare file name/u);
  assert.throws(() => ustarHeader({ name: 'x'.repeat(101), size: 1 }), /bare file name/u);
  assert.throws(() => ustarHeader({ name: '', size: 1 }), /bare file name/u);
  assert.throws(() => ustarHeader({ name: 'x', size: 1, mtime: -1 }), /mtime/u);
  assert.equal(field(ustarHeader({ name: 'x'.repeat(100), size: 1 }), 0, 100), 'x'.repeat(100));
});

test('padding rounds a member up to whole 512-byte blocks', () => {
  assert.equal(padding(0).length, 0);
  assert.equal(padding(1).length, 511);
  assert.equal(padding(512).length, 0);
  assert.equal(padding(513).length, 511);
  assert.ok(padding(700).every((b) => b === 0));
});
