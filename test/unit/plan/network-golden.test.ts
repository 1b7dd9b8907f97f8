/**
 * Golden files: every file the network plan renders, for every scenario, byte for byte.
 * `UPDATE_GOLDEN=1 node --import tsx --test test/unit/plan/network-golden.test.ts` rewrites them; review
 * the diff before committing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { planNetwork } from '../../../src/plan/appliance.js';
import { SCENARIOS, scenarioConfig, scenarioNics } from '../../harness/scenarios.js';

const GOLDEN = fileURLToPath(new URL('../../golden/network/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(`/${relative(dir, p)}`);
    }
  };
  try {
    walk(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return out.sort();
}

for (const s of SCENARIOS) {
  test(`golden: ${s.name} (${s.what})`, () => {
    const config = scenarioConfig(s);
    const plan = planNetwork(config, scenarioNics(s, config));
    const dir = join(GOLDEN, s.name);
    if (UPDATE) {
      rmSync(dir, { recursive: true, force: true });
      for (const f of plan.files) {
        const p = join(dir, f.path);
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, f.content);
      }
    }
    const expected = listFiles(dir);
    assert.ok(expected.length > 0, `no golden files in ${dir}; run with UPDATE_GOLDEN=1`);
    assert.deepEqual(plan.files.map((f) => f.path).sort(), expected, 'the set of rendered files');
    for (const f of plan.files) {
      assert.equal(f.content, readFileSync(join(dir, f.path), 'utf8'), `${s.name}${f.path} differs from its golden file`);
    }
  });
}
