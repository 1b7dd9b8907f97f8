// Issue #9, class 4, through the built CLI (dist/bin.js): validate and provision agree on the service-range limit (1,001 exit 2, 1,000 pass).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Problem } from '../../../src/problems.js';
import { cli } from '../../harness/cli.js';
import { SEED_PROPERTIES, ovfEnv } from '../../harness/ovf.js';
import { SEED_ADAPTERS, cidrs } from '../../harness/bad-inputs.js';

test('the CLI: 1,001 service ranges are exit 2 from validate and from provision; 1,000 pass both', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-agree-'));
  try {
    for (const [n, code] of [
      [1001, 2],
      [1000, 0],
    ] as const) {
      const file = join(dir, `env-${n}.xml`);
      writeFileSync(file, ovfEnv({ ...SEED_PROPERTIES, 'loadbalance.service_ip_range': cidrs(n, 100) }, SEED_ADAPTERS));
      const v = cli(['validate', '--json', '--ovf-env', file]);
      assert.equal(v.code, code, `validate, ${n} ranges: ${v.stdout.slice(0, 500)}`);
      if (code === 2)
        assert.deepEqual(
          JSON.parse(v.stdout).problems.map((p: Problem) => [p.at, p.code]),
          [['loadbalance.service_ip_range', 'too-many-items']],
        );
      const root = mkdtempSync(join(dir, 'root-'));
      const p = cli(['provision', '--root', root, '--dry-run', '--ovf-env', file]);
      assert.equal(p.code, code, `provision, ${n} ranges: ${p.stderr.slice(0, 500)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
