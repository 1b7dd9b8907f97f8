/**
 * The check registry (src/verify/checks/): ids unique and documented, docs/verify.md's tables
 * generated from it and up to date, dependencies in order, results carrying their check's id,
 * and nothing kept from one host's run to the next.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CHECKS, FAMILIES, runChecks } from '../../../src/verify/checks/index.js';
import { checkContext } from '../../../src/verify/checks/check.js';
import { CHECKS_BEGIN, CHECKS_END, renderChecksTables, withChecksTables } from '../../../src/verify/checks/docs.js';
import { expectedFor } from '../../../src/verify/expected.js';
import { observedFromSections } from '../../../src/verify/observed.js';
import { splitSections } from '../../../src/verify/script.js';
import type { CheckInput, CheckResult } from '../../../src/verify/types.js';

const ROOT = new URL('../../../', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, ROOT), 'utf8');
const MARKER = '@@hpa-0123456789abcdef@@';

function input(name: 'healthy' | 'broken'): CheckInput {
  const observed = observedFromSections(
    splitSections(MARKER, read(`test/fixtures/verify/bed/collect-${name}.stdout`), read(`test/fixtures/verify/bed/collect-${name}.stderr`)),
  );
  return { observed, ...expectedFor(observed, undefined), now: new Date(observed.remoteTime! * 1000) };
}

test('docs/verify.md holds the checks tables generated from the registry (npm run docs)', () => {
  const doc = read('docs/verify.md');
  assert.equal(withChecksTables(doc), doc, 'docs/verify.md is stale: run npm run docs');
  const region = doc.slice(doc.indexOf(CHECKS_BEGIN), doc.indexOf(CHECKS_END) + CHECKS_END.length);
  assert.equal(region, renderChecksTables());
  // Every registered check has its row, in registry order, and no row names an unknown check.
  const rows = [...region.matchAll(/^\| `([^`]+)` \|/gmu)].map((m) => m[1]);
  assert.deepEqual(
    rows,
    CHECKS.map((c) => c.id),
  );
});

test('a checks region that is missing or out of order is an error, not a silent no-op', () => {
  assert.throws(() => withChecksTables('# verify\n\nno region here\n'), /no <!-- checks:begin --> … <!-- checks:end --> region/u);
  assert.throws(() => withChecksTables(`${CHECKS_END}\n${CHECKS_BEGIN}\n`), /region/u);
  const stale = `before\n${CHECKS_BEGIN}\n| \`gone\` | | old | old |\n${CHECKS_END}\nafter\n`;
  assert.equal(withChecksTables(stale), `before\n${renderChecksTables()}\nafter\n`);
});

test('every check has a unique id, a known family and plain-words documentation', () => {
  const ids = CHECKS.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length, `duplicate ids: ${ids.filter((id, i) => ids.indexOf(id) !== i).join(', ')}`);
  const families = Object.keys(FAMILIES);
  for (const c of CHECKS) {
    assert.match(c.id, /^[a-z][a-z.-]*$/u, c.id);
    assert.ok(families.includes(c.family), `${c.id}: family ${c.family}`);
    assert.ok(c.doc.trim().length > 10, `${c.id}: no doc`);
    assert.ok(c.problems.trim().length > 5, `${c.id}: no problems text`);
  }
  // Families come one after another, in FAMILIES' order (the report order).
  const order = CHECKS.map((c) => families.indexOf(c.family));
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
  );
  assert.deepEqual([...new Set(CHECKS.map((c) => c.family))], families, 'every family has checks');
});

test('a check runs after the checks it needs', () => {
  CHECKS.forEach((c, i) => {
    for (const need of c.needs ?? []) {
      const at = CHECKS.findIndex((x) => x.id === need);
      assert.ok(at >= 0 && at < i, `${c.id} needs ${need}, which ${at < 0 ? 'is not registered' : 'runs after it'}`);
    }
  });
});

test('each check yields only results with its own id, and runChecks is the registry in order', () => {
  for (const name of ['healthy', 'broken'] as const) {
    const context = checkContext(input(name), 22);
    const earlier = new Map<string, readonly CheckResult[]>();
    const all: CheckResult[] = [];
    for (const c of CHECKS) {
      const rs = c.run(context, earlier);
      for (const r of rs) assert.equal(r.id, c.id, `${c.id} yielded a result with id ${r.id}`);
      earlier.set(c.id, rs);
      all.push(...rs);
    }
    assert.deepEqual(runChecks(input(name)), all);
    // Both collections give a result for most checks (route.additional, route.static and
    // dns.search need their properties: below, with them set, every check gives one).
    const seen = new Set(all.map((r) => r.id));
    assert.deepEqual(
      CHECKS.map((c) => c.id).filter((id) => !seen.has(id)),
      ['route.additional', 'route.static', 'dns.search'],
      name,
    );
    const base = input(name);
    const cfg = base.expected!.config;
    const withAll = {
      ...base,
      expected: {
        ...base.expected!,
        config: {
          ...cfg,
          network: {
            ...cfg.network,
            additionalWorkloadNetworks: ['10.50.0.0/16'],
            staticRoutes: [{ destination: '10.20.0.0/16', gateway: '192.168.1.254' }],
            searchDomains: ['corp.example.com'],
          },
        },
      },
    };
    const every = new Set(runChecks(withAll).map((r) => r.id));
    assert.deepEqual(
      CHECKS.map((c) => c.id).filter((id) => !every.has(id)),
      [],
      `${name}, with every optional property set`,
    );
  }
});

test('nothing is kept between runs: a host checked after another gets the same results as alone', () => {
  const healthy = runChecks(input('healthy'));
  const broken = runChecks(input('broken'));
  // The PID -> comm map comes from each host's own process list.
  const other = input('broken');
  other.observed.processes = (other.observed.processes ?? []).map((p) => ({ ...p, comm: `x${p.comm}` }));
  const renamed = runChecks(other);
  assert.deepEqual(runChecks(input('healthy')), healthy);
  assert.deepEqual(runChecks(input('broken')), broken);
  assert.notDeepEqual(renamed, broken);
  assert.deepEqual(runChecks(input('healthy')), healthy);
});

test('the context is derived from the input alone: model, SSH port, process names', () => {
  const base = input('healthy');
  const c = checkContext(base, 2222);
  assert.equal(c.sshPort, 2222);
  assert.ok(c.model, 'the seed state.json gives a network model');
  assert.equal(c.modelProblem, undefined);
  for (const p of base.observed.processes ?? []) assert.equal(c.commByPid.get(p.pid), p.comm);
  const none = checkContext({ observed: base.observed, now: base.now }, 22);
  assert.equal(none.model, undefined);
  assert.equal(none.modelProblem, undefined);
});
