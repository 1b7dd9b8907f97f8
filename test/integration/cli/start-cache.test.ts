/**
 * scripts/start.cjs (dist/start.cjs, the installed `haproxy-appliance`): where V8's code cache of
 * the single-file build goes. Beside the build when that folder is writable; for another user
 * of a read-only install, that user's own cache folder (0700, files 0600), trusted only when the
 * user owns it and nobody else may write it; the build's text is part of the name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../harness/ovf.js';

const BUILD = join(ROOT, 'dist/haproxy-appliance.cjs');
const root = process.getuid?.() === 0;
/** nobody: a user who may not write the install. */
const NOBODY = 65534;

function install(): { dir: string; lib: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-start-'));
  chmodSync(dir, 0o755);
  const lib = join(dir, 'lib');
  mkdirSync(lib, { mode: 0o755 });
  copyFileSync(BUILD, join(lib, 'haproxy-appliance.cjs'));
  copyFileSync(join(ROOT, 'scripts/start.cjs'), join(lib, 'start.cjs'));
  return { dir, lib, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function run(lib: string, args: string[], opts: { uid?: number; home?: string } = {}) {
  const r = spawnSync(process.execPath, [join(lib, 'start.cjs'), ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(opts.home && { HOME: opts.home }) },
    ...(opts.uid !== undefined && { uid: opts.uid, gid: opts.uid }),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a writable install: the cache of each command beside the build, used as it is on the next run', () => {
  const { lib, cleanup } = install();
  try {
    const first = run(lib, ['verify']);
    assert.equal(first.code, 2, first.stderr);
    assert.match(first.stderr, /no host given/);
    const cache = join(lib, 'haproxy-appliance.cjs.verify.cache');
    assert.ok(existsSync(cache));
    const before = statSync(cache);
    assert.equal(run(lib, ['verify']).code, 2);
    const after = statSync(cache);
    // Accepted by V8, so not written again.
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(run(lib, ['--version']).code, 0);
    assert.ok(existsSync(join(lib, 'haproxy-appliance.cjs.other.cache')));
  } finally {
    cleanup();
  }
});

test(
  "a read-only install, another user: the cache in that user's own folder, trusted only when nobody else may write it",
  { skip: root ? false : 'needs root (runs as nobody)' },
  () => {
    const { dir, lib, cleanup } = install();
    try {
      const home = join(dir, 'home');
      mkdirSync(home, { mode: 0o755 });
      chownSync(home, NOBODY, NOBODY);
      const first = run(lib, ['verify'], { uid: NOBODY, home });
      assert.equal(first.code, 2, first.stderr);
      assert.match(first.stderr, /no host given/);
      // Nothing beside the build (root's folder).
      assert.deepEqual(readdirSync(lib).sort(), ['haproxy-appliance.cjs', 'start.cjs']);
      const folder = join(home, '.cache/haproxy-appliance');
      assert.equal(statSync(folder).mode & 0o777, 0o700);
      const [name, ...more] = readdirSync(folder);
      assert.equal(more.length, 0);
      assert.match(name!, /^verify-[0-9a-f]{32}\.cache$/);
      const cache = join(folder, name!);
      const st = statSync(cache);
      assert.equal(st.uid, NOBODY);
      assert.equal(st.mode & 0o777, 0o600);

      // The next run uses it: V8 accepts it, so it is not written again.
      assert.equal(run(lib, ['verify'], { uid: NOBODY, home }).code, 2);
      assert.equal(statSync(cache).ino, st.ino);

      // A cache others may write is not read (it is made again, 0600).
      chmodSync(cache, 0o666);
      assert.equal(run(lib, ['verify'], { uid: NOBODY, home }).code, 2);
      const again = statSync(cache);
      assert.notEqual(again.ino, st.ino);
      assert.equal(again.mode & 0o777, 0o600);

      // Another build (other text) has a cache of its own.
      appendFileSync(join(lib, 'haproxy-appliance.cjs'), '\n// another build\n');
      assert.equal(run(lib, ['verify'], { uid: NOBODY, home }).code, 2);
      assert.equal(readdirSync(folder).length, 2);

      // Root on the read-only install writes beside the build as before (root may write there).
      assert.equal(run(lib, ['verify']).code, 2);
      assert.ok(existsSync(join(lib, 'haproxy-appliance.cjs.verify.cache')));
    } finally {
      cleanup();
    }
  },
);

test('the npm package: its bin is start.cjs, it ships the build beside it and no code cache', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  assert.deepEqual(pkg.bin, { 'haproxy-appliance': 'dist/start.cjs' });
  // A cache made by a run in this tree (another node, another build) must not reach an install.
  const stray = join(ROOT, 'dist/haproxy-appliance.cjs.pack-test.cache');
  writeFileSync(stray, 'not a cache');
  try {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    assert.ok(files.includes('dist/start.cjs'));
    assert.ok(files.includes('dist/haproxy-appliance.cjs'));
    assert.deepEqual(
      files.filter((f) => f.endsWith('.cache')),
      [],
    );
  } finally {
    rmSync(stray, { force: true });
  }
});
