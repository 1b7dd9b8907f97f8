// Issue #9, class 1 (`appliance.ca_cert`), through the built CLI (dist/bin.js): a key pasted into the certificate field is exit 2 and never echoed or written.
import type { Problem } from '../../../src/problems.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../../harness/cli.js';
import { SEED_PROPERTIES, fixture, ovfEnv } from '../../harness/ovf.js';
import { SEED_ADAPTERS } from '../../harness/bad-inputs.js';

/** The base64 body of a PEM block, on one line: what must never appear in any output. */
const body = (pem: string) =>
  pem
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');

test('a CA certificate with its key pasted into appliance.ca_cert: exit 2 naming the property; the key is never echoed or written', () => {
  const key = fixture('pki/ca.key');
  const keyLines = key.split('\n').filter((l) => l && !l.startsWith('-----'));
  const dir = mkdtempSync(join(tmpdir(), 'hpa-cacert-'));
  try {
    const file = join(dir, 'ovf-env.xml');
    for (const bundle of [fixture('pki/ca.crt') + key, (fixture('pki/ca.crt') + key).replace(/\n/g, ' ')]) {
      writeFileSync(file, ovfEnv({ ...SEED_PROPERTIES, 'appliance.ca_cert': bundle, 'appliance.ca_cert_key': key }, SEED_ADAPTERS));
      const runs = [
        cli(['validate', '--ovf-env', file]),
        cli(['validate', '--json', '--ovf-env', file]),
        cli(['provision', '--root', dir, '--dry-run', '--ovf-env', file]),
        cli(['provision', '--root', dir, '--json', '--ovf-env', file]),
      ];
      for (const r of runs) assert.equal(r.code, 2, r.stderr + r.stdout);
      const json = JSON.parse(runs[1]!.stdout) as { problems: Problem[] };
      assert.deepEqual(
        json.problems.map((p) => [p.at, p.code, p.severity]),
        [['appliance.ca_cert', 'pem-foreign-block', 'error']],
      );
      assert.match(json.problems[0]!.message, /holds a PRIVATE KEY block besides the certificate/u);
      const all = runs.map((r) => r.stdout + r.stderr).join('\n');
      for (const line of keyLines) assert.ok(!all.includes(line), 'a line of the key body was printed');
      assert.ok(!all.replace(/\s+/gu, '').includes(body(key).slice(0, 40)), 'the key body was printed');
    }
    assert.deepEqual(readdirSync(dir).sort(), ['ovf-env.xml'], 'provision wrote nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
