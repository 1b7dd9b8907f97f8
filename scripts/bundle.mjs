#!/usr/bin/env node
/**
 * The single-file build of the agent: src/bin.ts and every dependency bundled by esbuild into
 * dist/haproxy-appliance.cjs (Node 20, CommonJS), which needs nothing but the `node` binary: no
 * node_modules, no package.json, no templates/ folder next to it. dist/start.cjs runs it with
 * V8's code cache (`node dist/start.cjs …`); a Node single executable embeds it as it is
 * (scripts/sea.sh, docs/image.md).
 *
 *   node scripts/bundle.mjs            (what `npm run build` runs)
 *
 * Two things in src/ find files relative to their own module, which a bundle moves; the build
 * provides them instead:
 *   - src/cli/version.ts reads ../../package.json for VERSION unless __HPA_VERSION__ is defined (`define`);
 *   - src/render/templates.ts compiles ../../templates/*.hbs unless src/render/precompiled.ts
 *     provides them, which the build replaces with every template precompiled.
 * After building, the bundle is smoke-tested from an empty directory outside the tree.
 */
import { build } from 'esbuild';
import Handlebars from 'handlebars';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = join(ROOT, 'dist/haproxy-appliance.cjs');
/** The start script: runs OUT with V8's code cache (scripts/start.cjs). */
const START = join(ROOT, 'dist/start.cjs');

/** The options src/render/templates.ts compiles with (COMPILE_OPTIONS there). */
const COMPILE_OPTIONS = { noEscape: true, knownHelpersOnly: true };

const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

/** templates/**\/*.hbs as { 'network/link.hbs': '...' }: the names templates.ts asks for. */
function templates() {
  const dir = join(ROOT, 'templates');
  const out = {};
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.hbs'));
  for (const p of files.map((e) => join(e.parentPath, e.name)).sort()) out[relative(dir, p).split('\\').join('/')] = readFileSync(p, 'utf8');
  return out;
}

/**
 * src/render/precompiled.ts, which is empty in the source tree, becomes every template
 * precompiled by Handlebars with the options the agent compiles with at run time.
 */
const precompiledPlugin = {
  name: 'hpa-precompiled-templates',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]render[\\/]precompiled\.ts$/ }, () => {
      const entries = Object.entries(templates()).map(([name, source]) => `${JSON.stringify(name)}: ${Handlebars.precompile(source, COMPILE_OPTIONS)}`);
      return { contents: `export const PRECOMPILED = {\n${entries.join(',\n')}\n};\n`, loader: 'js' };
    });
  },
};

/**
 * ssh2's optional native crypto binding (`…/sshcrypto.node`) and cpu-features: not built here
 * (allowScripts), required by ssh2 in a try/catch, after which it uses its JavaScript/WebAssembly
 * code. In the bundle they become a module that throws, so nothing is looked up on disk (and a
 * single executable does not warn about require()ing a non-built-in module).
 */
const optionalNativePlugin = {
  name: 'hpa-optional-native',
  setup(b) {
    b.onResolve({ filter: /\.node$|^cpu-features$/ }, (args) => ({ path: args.path, namespace: 'hpa-optional-native' }));
    b.onLoad({ filter: /.*/, namespace: 'hpa-optional-native' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the single-file build`)});`,
      loader: 'js',
    }));
  },
};

const common = {
  entryPoints: [join(ROOT, 'src/bin.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
  define: {
    __HPA_VERSION__: JSON.stringify(version),
  },
  plugins: [precompiledPlugin, optionalNativePlugin],
};

const t0 = performance.now();
await build({
  ...common,
  // CommonJS: V8's code cache (vm.Script cachedData, used by start.cjs) and a Node single
  // executable both take one CommonJS script. import.meta does not exist there; the only use left
  // is templates.ts's TEMPLATES_DIR URL, unused once the templates are precompiled.
  format: 'cjs',
  outfile: OUT,
  define: { ...common.define, 'import.meta.url': '__hpaMetaUrl' },
  banner: { js: "var __hpaMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
cpSync(join(ROOT, 'scripts/start.cjs'), START);
// Code caches of an earlier build go: V8 checks a cache against the length of the text only, and
// a rebuild (a version bump) can keep the length. The first run of this build makes new ones.
for (const f of readdirSync(join(ROOT, 'dist'))) if (/^haproxy-appliance\.cjs\..*\.cache$/u.test(f)) rmSync(join(ROOT, 'dist', f), { force: true });
spawnSync('chmod', ['0755', START]);

// Smoke test: the bundle alone, copied to an empty directory, must start, know its version and
// render every kind of file (provision --dry-run into an empty sandbox root).
const dir = mkdtempSync(join(tmpdir(), 'hpa-bundle-'));
const tail = (s) => (s.length > 1500 ? `…${s.slice(-1500)}` : s);
try {
  cpSync(OUT, join(dir, 'haproxy-appliance.cjs'));
  cpSync(START, join(dir, 'start.cjs'));
  const copy = join(dir, 'start.cjs');
  mkdirSync(join(dir, 'root'));
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const v = spawnSync(process.execPath, [copy, '--version'], { cwd: dir, encoding: 'utf8', env });
  if (v.status !== 0 || v.stdout.trim() !== version) throw new Error(`bundle --version: exit ${v.status}: ${tail(v.stdout + v.stderr)}`);
  // The dry run makes the seed's CA with openssl; without it, only the other checks run.
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).error) {
    process.stderr.write("scripts/bundle.mjs: openssl is not installed: the bundle's provision --dry-run smoke test is skipped\n");
  } else {
    const p = spawnSync(process.execPath, [copy, 'provision', '--dry-run', '--root', join(dir, 'root'), '--ovf-env', join(ROOT, 'examples/ovf-env.xml')], {
      cwd: dir,
      encoding: 'utf8',
      env,
    });
    if (p.status !== 0 || !p.stdout.includes('+++ b/etc/systemd/network/20-management.network'))
      throw new Error(`bundle provision --dry-run: exit ${p.status}\n${tail(p.stderr)}`);
  }
  // Loads the verifier (ssh2 and all) and stops at the missing host: exit 2, not an internal error.
  const h = spawnSync(process.execPath, [copy, 'verify'], { cwd: dir, encoding: 'utf8', env });
  if (h.status !== 2 || !h.stderr.includes('no host given')) throw new Error(`bundle verify: exit ${h.status}\n${tail(h.stderr)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const size = (statSync(OUT).size / 1024).toFixed(0);
process.stderr.write(
  `scripts/bundle.mjs: ${relative(ROOT, OUT)} (${size} KiB, version ${version}) and ${relative(ROOT, START)} in ${Math.round(performance.now() - t0)} ms\n`,
);
