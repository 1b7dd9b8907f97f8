#!/usr/bin/env node
/**
 * The single-file build of the agent: src/bin.ts and every dependency bundled by esbuild into
 * dist/haproxy-appliance.mjs (Node 20, ESM), which needs nothing but the `node` binary: no
 * node_modules, no package.json, no templates/ folder next to it.
 *
 *   node scripts/bundle.mjs            dist/haproxy-appliance.mjs (what `npm run build` makes)
 *   node scripts/bundle.mjs --sea      also dist/sea/haproxy-appliance.cjs, the CommonJS form a
 *                                      Node single executable application embeds (docs/image.md)
 *
 * Three things in src/ find files relative to their own module, which a bundle moves:
 *   - src/cli.ts reads ../package.json for VERSION          → the version is built in
 *   - src/render/templates.ts reads ../../templates/*.hbs    → the templates are built in
 *   - src/verify/ssh.ts require()s ssh2 through createRequire(import.meta.url), which esbuild
 *     cannot follow                                          → a plain require esbuild bundles
 * Each is handled here by a build-time rewrite of exactly that source text (the build fails if
 * the text is not found, rather than shipping a bundle that breaks at run time), or, once src/
 * reads the build-time constants __HPA_VERSION__ / __HPA_TEMPLATES__ itself, by `define` alone.
 * After building, the bundle is smoke-tested from an empty directory outside the tree.
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = join(ROOT, 'dist/haproxy-appliance.mjs');
const SEA_OUT = join(ROOT, 'dist/sea/haproxy-appliance.cjs');
const sea = process.argv.includes('--sea');

const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

/** templates/**\/*.hbs as { 'network/link.hbs': '...' }: the names templates.ts asks for. */
function templates() {
  const dir = join(ROOT, 'templates');
  const out = {};
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.hbs')) out[relative(dir, p).split('\\').join('/')] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

/**
 * Build-time rewrites: file → [{ find, replace, unless }]. `unless` is the text that shows src/
 * already does it itself (then the rewrite is skipped); otherwise `find` must be there.
 */
const REWRITES = {
  'src/cli.ts': [{
    find: "JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))",
    replace: '({ version: __HPA_VERSION__ })',
    unless: '__HPA_VERSION__',
  }],
  'src/render/templates.ts': [{
    find: "return readFileSync(new URL(name, TEMPLATES_DIR), 'utf8');",
    replace: "{ const t = __HPA_TEMPLATES__[name]; if (t === undefined) throw new Error(`template ${name} is not built in`); return t; }",
    unless: '__HPA_TEMPLATES__',
  }],
  'src/verify/ssh.ts': [{
    find: 'const require = createRequire(import.meta.url);',
    replace: '',
    unless: "from 'ssh2'",
  }],
};

const rewritePlugin = {
  name: 'hpa-rewrites',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => {
      const rel = relative(ROOT, args.path).split('\\').join('/');
      const rules = REWRITES[rel];
      if (!rules) return undefined;
      let text = readFileSync(args.path, 'utf8');
      for (const r of rules) {
        if (r.unless && text.includes(r.unless)) continue;
        if (!text.includes(r.find)) {
          throw new Error(`scripts/bundle.mjs: ${rel} no longer contains ${JSON.stringify(r.find)}; update REWRITES (see the comment at the top)`);
        }
        text = text.replace(r.find, r.replace);
      }
      return { contents: text, loader: 'ts' };
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
    __HPA_TEMPLATES__: JSON.stringify(templates()),
  },
  plugins: [rewritePlugin, optionalNativePlugin],
};

const t0 = performance.now();
await build({
  ...common,
  format: 'esm',
  outfile: OUT,
  // src/bin.ts's own `#!/usr/bin/env node` line is kept by esbuild. CommonJS dependencies
  // (ssh2, handlebars) call require(), and ssh2's WebAssembly poly1305 reads __dirname: an ES
  // module has to be given both.
  banner: {
    js: [
      "import { createRequire as __hpaCreateRequire } from 'node:module';",
      "import { fileURLToPath as __hpaFileURLToPath } from 'node:url';",
      "import { dirname as __hpaDirname } from 'node:path';",
      'const require = __hpaCreateRequire(import.meta.url);',
      'const __filename = __hpaFileURLToPath(import.meta.url);',
      'const __dirname = __hpaDirname(__filename);',
    ].join(' '),
  },
});
const head = readFileSync(OUT, 'utf8').slice(0, 200);
if (!head.startsWith('#!/usr/bin/env node\n')) {
  writeFileSync(OUT, `#!/usr/bin/env node\n${readFileSync(OUT, 'utf8')}`);
}
spawnSync('chmod', ['0755', OUT]);

if (sea) {
  mkdirSync(join(ROOT, 'dist/sea'), { recursive: true });
  await build({
    ...common,
    format: 'cjs',
    outfile: SEA_OUT,
    // A single executable runs one CommonJS script; import.meta does not exist there. The only
    // remaining use is templates.ts's TEMPLATES_DIR URL (unused once the templates are built in).
    define: { ...common.define, 'import.meta.url': '__hpaMetaUrl' },
    banner: { js: "var __hpaMetaUrl = require('node:url').pathToFileURL(process.execPath).href;" },
  });
}

// Smoke test: the bundle alone, copied to an empty directory, must start, know its version and
// render every kind of file (provision --dry-run into an empty sandbox root).
const dir = mkdtempSync(join(tmpdir(), 'hpa-bundle-'));
const tail = (s) => (s.length > 1500 ? `…${s.slice(-1500)}` : s);
try {
  const copy = join(dir, 'haproxy-appliance.mjs');
  cpSync(OUT, copy);
  mkdirSync(join(dir, 'root'));
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const v = spawnSync(process.execPath, [copy, '--version'], { cwd: dir, encoding: 'utf8', env });
  if (v.status !== 0 || v.stdout.trim() !== version) throw new Error(`bundle --version: exit ${v.status}: ${tail(v.stdout + v.stderr)}`);
  // The dry run makes the seed's CA with openssl; without it, only the other checks run.
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).error) {
    process.stderr.write('scripts/bundle.mjs: openssl is not installed: the bundle\'s provision --dry-run smoke test is skipped\n');
  } else {
    const p = spawnSync(process.execPath, [copy, 'provision', '--dry-run', '--root', join(dir, 'root'), '--ovf-env', join(ROOT, 'examples/ovf-env.xml')], {
      cwd: dir, encoding: 'utf8', env,
    });
    if (p.status !== 0 || !p.stdout.includes('+++ b/etc/systemd/network/20-management.network')) throw new Error(`bundle provision --dry-run: exit ${p.status}\n${tail(p.stderr)}`);
  }
  // Loads the verifier (ssh2 and all) and stops at the missing host: exit 2, not an internal error.
  const h = spawnSync(process.execPath, [copy, 'verify'], { cwd: dir, encoding: 'utf8', env });
  if (h.status !== 2 || !h.stderr.includes('no host given')) throw new Error(`bundle verify: exit ${h.status}\n${tail(h.stderr)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const size = (statSync(OUT).size / 1024).toFixed(0);
process.stderr.write(`scripts/bundle.mjs: ${relative(ROOT, OUT)} (${size} KiB, version ${version})${sea ? ` and ${relative(ROOT, SEA_OUT)}` : ''} in ${Math.round(performance.now() - t0)} ms\n`);
