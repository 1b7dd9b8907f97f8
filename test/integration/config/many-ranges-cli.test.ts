/**
 * Issue #12, section 3: 8,000 service ranges, written each way of test/harness/many-ranges.ts,
 * through the built CLI (dist/bin.js). `validate` and `provision` give the same judgement: exit 2,
 * the same problems (property, code, message, severity), and provision changes nothing on an
 * appliance root it had provisioned before. How long the judgement takes is measured by
 * bench/scale-provision.bench.ts (no timed assertion here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Problem } from '../../../src/problems.js';
import { MAX_SERVICE_RANGES, MAX_VALUE } from '../../../src/config/limits.js';
import { cli } from '../../harness/cli.js';
import { envFile } from '../../harness/sandbox.js';
import { ProvisionedRoot } from '../../harness/netbed-appliance.js';
import { MANY, RANGE_CASES, rangeEnvironment } from '../../harness/many-ranges.js';
import { splitList } from '../../../src/config/normalize.js';

interface Doc {
  ok: boolean;
  problems: Problem[];
}

test('8,000 service ranges, however written: validate and provision refuse them alike, exit 2, nothing changed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-many-ranges-'));
  const app = new ProvisionedRoot();
  try {
    app.setEnv(envFile(dir));
    app.provision();
    const before = app.snapshot();
    for (const c of RANGE_CASES) {
      const value = c.value();
      assert.equal(splitList(value).length, MANY, `${c.name}: ${MANY} items`);
      // The cases cover both limits: over the value's length, and under it but over the count.
      assert.equal(value.length > MAX_VALUE, c.code === 'value-too-long', `${c.name}: ${value.length} characters`);
      const file = join(dir, `${c.name}.xml`);
      writeFileSync(file, rangeEnvironment(value));
      const v = cli(['validate', '--json', '--ovf-env', file]);
      const p = cli(['provision', '--json', '--root', app.root, '--ovf-env', file]);
      assert.equal(v.code, 2, `${c.name}: validate exit ${v.code}: ${v.stdout.slice(0, 500)}${v.stderr.slice(0, 500)}`);
      assert.equal(p.code, 2, `${c.name}: provision exit ${p.code}: ${p.stdout.slice(0, 500)}${p.stderr.slice(0, 500)}`);
      const vd = JSON.parse(v.stdout) as Doc;
      const pd = JSON.parse(p.stdout) as Doc;
      assert.equal(vd.ok, false);
      assert.equal(pd.ok, false);
      assert.deepEqual(pd.problems, vd.problems, `${c.name}: the same problems from both commands`);
      assert.deepEqual(
        vd.problems.map((x) => [x.at, x.code, x.severity]),
        [['loadbalance.service_ip_range', c.code, 'error']],
        c.name,
      );
      // The message names the limit (and never echoes the 8,000 items).
      const message = vd.problems[0]!.message;
      assert.ok(message.length < 200, `${c.name}: a short message: ${message.slice(0, 300)}`);
      assert.ok(message.includes(String(c.code === 'value-too-long' ? MAX_VALUE : MAX_SERVICE_RANGES)), `${c.name}: ${message}`);
      assert.deepEqual(app.snapshot(), before, `${c.name}: provision changed nothing`);
    }
  } finally {
    app.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});
