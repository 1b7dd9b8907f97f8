/**
 * apply's sha256 (src/apply/journal.ts) hashes a string in chunks to spare a UTF-8 copy of a large
 * haproxy.cfg: the digest must be that of the whole string's UTF-8, for any string, surrogate
 * pairs and lone surrogates across the chunk boundaries included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { HASH_CHUNK, sha256 } from '../../../src/apply/journal.js';

const whole = (text: string) => createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');

test('sha256 in chunks is the digest of the whole UTF-8, whatever falls on a chunk boundary', () => {
  const pieces = ['a', '\n', 'é', '€', '\u{1F600}', '\uD800', '\uDC00', '\uDBFF\uDFFF', ''];
  for (const at of [HASH_CHUNK - 2, HASH_CHUNK - 1, HASH_CHUNK, 2 * HASH_CHUNK - 1]) {
    for (const p of pieces) {
      for (const q of pieces) {
        const text = `${'x'.repeat(at)}${p}${q}${'y'.repeat(3)}`;
        assert.equal(sha256(text), whole(text), `${at} ${JSON.stringify(p)} ${JSON.stringify(q)}`);
      }
    }
  }
  assert.equal(sha256(''), whole(''));
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 50 }), fc.integer({ min: 0, max: 3 }), (s, k) => {
      const text = `${'z'.repeat(HASH_CHUNK - k)}${s}`;
      assert.equal(sha256(text), whole(text));
    }),
    { numRuns: 300 },
  );
});
