/**
 * Property-based tests (fast-check): random documents and values never crash ingest or
 * validation, and no control character ever reaches the configuration of a single-line property.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseOvfEnvironment } from '../../../src/ingest/ovf-env.js';
import { validateProperties } from '../../../src/config/validate.js';
import { PROPERTIES } from '../../../src/config/properties.js';
import { InputError } from '../../../src/errors.js';
import { SEED_PROPERTIES, ovfEnv } from '../../harness/ovf.js';
import { nasty } from '../../harness/generators.js';

const KEYS = PROPERTIES.map((p) => p.key);
const SINGLE_LINE = new Set(PROPERTIES.filter((p) => !p.multiline).map((p) => p.key));
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** Every string anywhere in a value. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => strings(v, out));
  return out;
}

test('random text never crashes the parser: a result or an InputError', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: fc.constantFrom('<', '>', '/', '=', '"', 'a', ' ', '&', ';', ':', 'Environment', 'Property') }),
      ),
      (text) => {
        try {
          parseOvfEnvironment(text, 'fuzz');
        } catch (e) {
          assert.ok(e instanceof InputError, String(e));
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test('random property values in a real document never crash and never let a control character through', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom(...KEYS, 'x.unknown'), nasty, { maxKeys: 8 }), (overrides) => {
      const env = parseOvfEnvironment(ovfEnv({ ...SEED_PROPERTIES, ...overrides }), 'fuzz');
      const r = validateProperties(env.properties);
      if (!r.config) {
        assert.ok(r.problems.length > 0);
        return;
      }
      const { caCert, caKey, ...singleLine } = r.config.appliance;
      for (const s of strings({ ...r.config, appliance: singleLine })) assert.ok(!CONTROL.test(s), `control character in ${JSON.stringify(s)}`);
      for (const pem of [caCert, caKey]) if (pem) assert.ok(!/[\u0000-\u0009\u000b-\u001f]/u.test(pem));
      for (const [k, v] of Object.entries(overrides)) {
        if (SINGLE_LINE.has(k) && CONTROL.test(v.trim()) && v.trim() !== 'null') {
          assert.ok(
            r.warnings.some((w) => w.at === k && w.code === 'ignored-in-deployment' && w.message.startsWith('ignored')),
            `${k}=${JSON.stringify(v)} was accepted`,
          );
        }
      }
    }),
    { numRuns: 1500 },
  );
});

test('random raw maps (no XML) never throw', () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string()), fc.string({ unit: 'binary' })),
      fc.option(fc.integer({ min: 0, max: 6 })),
      (raw, n) => {
        const r = validateProperties(raw, n === null ? {} : { adapterCount: n });
        assert.equal(r.config === undefined, r.problems.length > 0);
      },
    ),
    { numRuns: 1500 },
  );
});
