/**
 * `--json` is always complete: every input error (exit 2) of every command carries at least one
 * problem, each with `at`, `message`, `severity` and a `code` from the table in src/problems.ts,
 * for the bad-input fixtures and for usage errors alike. And the table has no dead codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROBLEM_CODES, type Problem } from '../../../src/problems.js';
import { cli } from '../../harness/cli.js';
import { BAD_INPUTS, SEED_ADAPTERS } from '../../harness/bad-inputs.js';
import { ROOT, SEED_ENV_FILE, SEED_MACS, SEED_PROPERTIES, ovfEnv } from '../../harness/ovf.js';

interface ErrorDoc {
  ok: false;
  error: string;
  problems: Problem[];
  warnings: Problem[];
}

/** Runs `args` (with --json), expects exit 2, and checks the document is complete. */
function refusedJson(args: string[], env?: Record<string, string>): ErrorDoc {
  const r = cli([...args, '--json'], env ? { env } : {});
  assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}: ${r.stdout}${r.stderr}`);
  assert.equal(r.stderr, '', `${args.join(' ')}: with --json nothing but the document: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as ErrorDoc;
  assert.equal(doc.ok, false);
  assert.ok(doc.error.length > 0);
  assert.ok(doc.problems.length > 0, `${args.join(' ')}: problems: [] (${doc.error})`);
  for (const p of [...doc.problems, ...doc.warnings]) {
    assert.deepEqual(Object.keys(p).sort(), ['at', 'code', 'message', 'severity'], JSON.stringify(p));
    assert.ok(Object.hasOwn(PROBLEM_CODES, p.code), `${args.join(' ')}: ${p.code} is not in src/problems.ts`);
    assert.ok(p.at.length > 0 && p.message.length > 0, JSON.stringify(p));
  }
  assert.ok(doc.problems.every((p) => p.severity === 'error'));
  assert.ok(doc.warnings.every((p) => p.severity === 'warning'));
  return doc;
}

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-problems-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test(`each of the ${BAD_INPUTS.length} bad-input fixtures: validate --json names its at and code`, () => {
  withDir((dir) => {
    for (const bad of BAD_INPUTS) {
      const props = { ...SEED_PROPERTIES, ...bad.set };
      for (const k of bad.unset ?? []) delete props[k];
      const file = join(dir, 'ovf-env.xml');
      writeFileSync(file, ovfEnv(props, bad.adapters ?? SEED_ADAPTERS));
      const doc = refusedJson(['validate', '--ovf-env', file, ...(bad.deployment ? ['--deployment', bad.deployment] : [])]);
      assert.ok(
        doc.problems.some((p) => p.at === bad.at && p.code === bad.code),
        `${bad.name}: ${JSON.stringify(doc.problems)}`,
      );
    }
  });
});

test('usage errors of every command, and documents that cannot be read, are complete in --json', () => {
  withDir((dir) => {
    const notXml = join(dir, 'not.xml');
    writeFileSync(notXml, 'hello');
    const cases: [string[], string, string][] = [
      [['frobnicate'], 'COMMAND', 'unknown-command'],
      [['validate', '--bogus'], '--bogus', 'unknown-option'],
      [['validate', 'stray'], 'arguments', 'bad-usage'],
      [['validate', '--ovf-env'], '--ovf-env', 'bad-usage'],
      [['validate', '--deployment', 'triple', '--ovf-env', SEED_ENV_FILE], '--deployment', 'not-deployment'],
      [['validate', '--ovf-env', join(dir, 'missing.xml')], 'OVF environment', 'no-environment'],
      [['validate', '--ovf-env', dir], 'OVF environment', 'not-a-file'],
      [['validate', '--ovf-env', notXml], 'OVF environment', 'not-xml'],
      [['provision', '--root', dir], '--root', 'root-needs-ovf-env'],
      [['provision', '--root', join(dir, 'nope'), '--ovf-env', SEED_ENV_FILE], '--root', 'not-directory'],
      [['provision', '--root', '/', '--ovf-env', SEED_ENV_FILE], '--root', 'root-is-live-system'],
      [['provision', '--root', dir, '--ovf-env', SEED_ENV_FILE, '--dataplaneapi-version', 'x'], '--dataplaneapi-version', 'not-version'],
      [['provision', '--root', dir, '--ovf-env', SEED_ENV_FILE, '--dry-run', '--nics', `management=${SEED_MACS.management}`], '--nics', 'nics-roles-mismatch'],
      [['provision', '--root', dir, '--ovf-env', SEED_ENV_FILE, '--dry-run', '--nics', 'workload'], '--nics', 'nics-not-role-mac'],
      [['verify'], 'HOST', 'no-host'],
      [['verify', 'h', '--port', 'x'], '--port', 'not-number'],
      [['verify', 'h', '--user', 'a b'], '--user', 'not-user-name'],
      [['verify', '@h'], 'HOST', 'empty-user'],
    ];
    for (const [args, at, code] of cases) {
      const doc = refusedJson(args, { HOME: dir, OVF_ENV: '' });
      assert.deepEqual(
        doc.problems.map((p) => [p.at, p.code]),
        [[at, code]],
        args.join(' '),
      );
    }
  });
});

test('the table of codes: kebab-case, a one-line meaning each, every code used in src/', () => {
  const src = join(ROOT, 'src');
  const text = readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && f !== 'problems.ts')
    .map((f) => readFileSync(join(src, f), 'utf8'))
    .join('\n');
  for (const [code, meaning] of Object.entries(PROBLEM_CODES)) {
    assert.match(code, /^[a-z0-9]+(?:-[a-z0-9]+)*$/u, code);
    assert.ok(meaning.length > 10 && !meaning.includes('\n'), code);
    assert.ok(text.includes(`'${code}'`), `${code} is in the table but never used`);
  }
  const docs = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
  assert.ok(docs.includes('src/problems.ts'), 'docs/architecture.md points to the table of codes');
});
