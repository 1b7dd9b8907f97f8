/**
 * Planning and rendering are pure (docs/architecture.md): they run nothing, write nothing, read
 * nothing of the machine, and wait for nothing. Checked on the import graph the program really has:
 * every module under src/plan/ and src/render/, and everything it imports at run time, transitively
 * (type-only imports are erased by the compiler and do not count), parsed with the TypeScript
 * compiler, not with regular expressions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(ROOT, 'src');
const rel = (file: string) => relative(ROOT, file);

/** The modules a source file imports at run time: relative ones as absolute .ts paths, others as given. */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (!clause.name && named !== undefined && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.isTypeOnly) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      specifiers.push(arg && ts.isStringLiteral(arg) ? arg.text : '<computed import()>');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers.map((s) => (s.startsWith('.') ? resolve(dirname(file), s).replace(/\.js$/u, '.ts') : s));
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f))
    .sort();
}

const STAGES = [...tsFiles(join(SRC, 'plan')), ...tsFiles(join(SRC, 'render'))];

/** Every module reached from `start` at run time, with the chain that reaches it. */
function closure(start: string): Map<string, string[]> {
  const seen = new Map<string, string[]>([[start, [rel(start)]]]);
  const queue = [start];
  while (queue.length) {
    const file = queue.shift()!;
    for (const dep of runtimeImports(file)) {
      if (seen.has(dep)) continue;
      const chain = [...seen.get(file)!, dep.startsWith('/') ? rel(dep) : dep];
      seen.set(dep, chain);
      if (dep.startsWith('/')) queue.push(dep);
    }
  }
  return seen;
}

/** What pure code may use beyond its own folders; anything else (a program, the file system, the network, a clock) is an effect. */
const ALLOWED_PACKAGES = new Set(['unixcrypt', 'handlebars', 'ipaddr.js', 'zod']);
/** Node built-ins, each where it is pure. */
const ALLOWED_BUILTINS: Record<string, { by: string; why: string }> = {
  'node:crypto': { by: 'src/plan/certificates.ts', why: 'X509Certificate parses PEM text' },
  'node:fs': { by: 'src/render/templates.ts', why: "reads the package's own templates (readFileSync), never the machine" },
};
/** Built-ins imported without the node: prefix. */
const BARE_BUILTINS = new Set(['fs', 'fs/promises', 'child_process', 'net', 'os', 'http', 'https', 'dgram', 'crypto', 'process', 'worker_threads']);
/** Folders of src/ pure code may import from. */
const ALLOWED_SRC = [
  'src/plan/',
  'src/render/',
  'src/config/',
  'src/appliance/paths.ts',
  'src/appliance/network-scheme.ts',
  'src/errors.ts',
  'src/problems.ts',
];

test('the import graph finds run-time imports and skips type-only ones', () => {
  const gather = runtimeImports(join(SRC, 'facts/gather.ts'));
  assert.ok(gather.includes('node:fs/promises'));
  assert.ok(gather.includes(join(SRC, 'util/run.ts')));
  assert.ok(gather.includes(join(SRC, 'facts/pki.ts')), 'import { preparePki, type KeyMaterialFailed } stays');
  assert.ok(!gather.includes(join(SRC, 'facts/types.ts')), 'import type { ApplianceFacts, LiveContext } is erased');
  assert.ok(!runtimeImports(join(SRC, 'plan/pki.ts')).includes(join(SRC, 'facts/types.ts')), 'import type { KeptPki, PkiFacts } is erased');
});

test('src/plan/ and src/render/ import nothing that runs a program, touches the machine or waits', () => {
  assert.ok(STAGES.length >= 15, `${STAGES.length} modules found`);
  const problems: string[] = [];
  for (const start of STAGES) {
    for (const [dep, chain] of closure(start)) {
      const via = chain.join(' -> ');
      if (dep.startsWith('/')) {
        const r = rel(dep);
        if (!ALLOWED_SRC.some((a) => r.startsWith(a))) problems.push(`${via}: ${r} is not a pure module`);
        continue;
      }
      if (dep.startsWith('node:') || BARE_BUILTINS.has(dep)) {
        const allowed = ALLOWED_BUILTINS[dep];
        const importer = chain.at(-2);
        if (!allowed || importer !== allowed.by) problems.push(`${via}: ${dep}${allowed ? ` is allowed only in ${allowed.by} (${allowed.why})` : ''}`);
        continue;
      }
      const pkg = dep.startsWith('@') ? dep.split('/').slice(0, 2).join('/') : dep.split('/')[0]!;
      if (!ALLOWED_PACKAGES.has(pkg)) problems.push(`${via}: the package ${pkg}`);
    }
  }
  assert.deepEqual([...new Set(problems)], []);
});

test('src/plan/ and src/render/ have no asynchronous code, no clock and no randomness', () => {
  const problems: string[] = [];
  for (const file of STAGES) {
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gmu, '');
    for (const [what, re] of [
      ['async', /\basync\b/u],
      ['await', /\bawait\b/u],
      ['a Promise', /\bPromise\b/u],
      ['the clock', /\bDate\.now\b|new Date\(\s*\)/u],
      ['randomness', /\bMath\.random\b|\brandom(Bytes|UUID|Int)\b/u],
      ['the environment', /\bprocess\.(env|argv|cwd)\b/u],
    ] as const) {
      if (re.test(text)) problems.push(`${rel(file)}: ${what}`);
    }
  }
  assert.deepEqual(problems, []);
});
