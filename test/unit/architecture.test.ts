/**
 * docs/architecture.md's layout stays true: every folder of src/ is in its tables, every folder and
 * file they (and the layout prose above the first section) name exists, and the stages are listed
 * in pipeline order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
/** The table and the layout prose: everything before the first `## ` section. */
const LAYOUT = DOC.slice(0, DOC.search(/^## /mu));

interface Row {
  stage: string;
  folders: string[];
  does: string;
}

const code = (cell: string) => [...cell.matchAll(/`([^`]+)`/gu)].map((m) => m[1]!);

const ROWS: Row[] = LAYOUT.split('\n')
  .filter((l) => l.startsWith('|') && !/^\|\s*(stage|-)/u.test(l))
  .map((l) => {
    const [stage, folder, does] = l
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    return { stage: stage!, folders: code(folder!), does: does! };
  });

test('the layout tables are there', () => {
  assert.ok(ROWS.length >= 10, `${ROWS.length} rows`);
});

test('every folder of src/ is in the table, and every folder the table names exists', () => {
  const named = new Set(ROWS.flatMap((r) => r.folders).filter((f) => f.startsWith('src/')));
  const folders = readdirSync(join(ROOT, 'src'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => `src/${e.name}/`);
  assert.deepEqual(
    folders.filter((f) => !named.has(f)),
    [],
    'folders of src/ missing from docs/architecture.md',
  );
  for (const f of ROWS.flatMap((r) => r.folders)) assert.ok(existsSync(join(ROOT, f)), `docs/architecture.md names ${f}, which does not exist`);
});

test('the stages are listed in pipeline order', () => {
  const stages = ROWS.filter((r) => !r.stage.startsWith('(')).map((r) => r.stage);
  assert.deepEqual(stages, ['ingest', 'validate', 'facts', 'plan', 'render', 'apply', 'verify']);
});

test('every file and folder the layout names exists', () => {
  const missing: string[] = [];
  for (const row of ROWS) {
    const home = row.folders.find((f) => f.startsWith('src/'))!;
    for (const name of code(row.does).filter((c) => /^[\w./-]+(\.ts|\/)$/u.test(c))) {
      // `src/plan/pki.ts` from the repository, `gather.ts` or `parse/` from the row's folder, `templates/` from either.
      const there = name.startsWith('src/') ? existsSync(join(ROOT, name)) : existsSync(join(ROOT, home, name)) || existsSync(join(ROOT, name));
      if (!there) missing.push(`${row.stage}: ${name}`);
    }
  }
  for (const name of code(LAYOUT).filter((c) => /^(src|test|templates|firstboot)\/[\w./-]*$/u.test(c))) {
    if (!existsSync(join(ROOT, name))) missing.push(name);
  }
  assert.deepEqual(missing, []);
});
