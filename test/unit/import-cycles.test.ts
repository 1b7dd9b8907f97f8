/**
 * The import graph of src/ has no cycles, type-only imports and lazy `import()` included: each
 * stage depends only on the stages before it and on the shared folders (appliance/, util/), so a
 * module can be read, tested and moved without dragging its callers along.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Every relative module specifier a file imports (static, type-only, re-exports, dynamic). */
export function importsOf(text: string): string[] {
  const specs = new Set<string>();
  const patterns = [/\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/g, /\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g, /^\s*import\s+['"](\.{1,2}\/[^'"]+)['"]/gm];
  for (const re of patterns) for (const m of text.matchAll(re)) specs.add(m[1]!);
  return [...specs];
}

function graph(): Map<string, string[]> {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const edges = new Map<string, string[]>();
  for (const f of files) {
    const targets = importsOf(readFileSync(join(SRC, f), 'utf8')).map((s) => normalize(join(dirname(f), s)).replace(/\.js$/, '.ts'));
    edges.set(f, targets);
  }
  return edges;
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
function cycles(edges: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (edges.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of edges.keys()) if (!idx.has(v)) visit(v);
  return found;
}

test('the import graph of src/ has no cycles', () => {
  const edges = graph();
  assert.ok(edges.size > 50, `found ${edges.size} modules under ${relative(process.cwd(), SRC)}`);
  for (const [file, targets] of edges) {
    for (const t of targets) assert.ok(edges.has(t), `${file} imports ${t}, which is not a module of src/`);
  }
  assert.deepEqual(cycles(edges), [], 'modules that import each other, directly or around a loop');
});

test('the cycle finder finds a cycle (type-only and lazy imports count)', () => {
  assert.deepEqual(importsOf(`import type { A } from './a.js';\nconst b = await import('../b.js');\nexport { c } from './c.js';\nimport './d.js';`).sort(), [
    '../b.js',
    './a.js',
    './c.js',
    './d.js',
  ]);
  const edges = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['a.ts']],
  ]);
  assert.deepEqual(cycles(edges), [['a.ts', 'b.ts', 'c.ts']]);
});
