/**
 * The OVA the VM test boots: built by `npm run ova`'s own script (scripts/ova.ts → build-disk.sh)
 * and cached by what goes into it (the agent's build, firstboot/, the build scripts, the package
 * code, the Debian base's package list, the node copied into the image). A change to any of them
 * builds a new OVA; older ones are removed. Cache: $HPA_IMAGE_CACHE (default
 * /var/cache/haproxy-appliance-test), beside the Debian bases.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { ROOT } from './ovf.js';
import { tail } from './image.js';
import { walkTree } from './tree.js';

const CACHE = process.env.HPA_IMAGE_CACHE ?? '/var/cache/haproxy-appliance-test';

function filesUnder(dir: string): string[] {
  return walkTree(join(ROOT, dir))
    .filter((e) => e.dirent.isFile())
    .map((e) => e.path);
}

/** The cache key: a hash over every input of the OVA. */
export async function ovaKey(): Promise<string> {
  const h = createHash('sha256');
  const files = [
    'dist/haproxy-appliance.cjs',
    'dist/start.cjs',
    'package.json',
    'README.md',
    'examples/ovf-env.xml',
    'scripts/build-disk.sh',
    'scripts/ova.ts',
    'scripts/test-image.sh',
  ].map((f) => join(ROOT, f));
  for (const f of [...files, ...filesUnder('firstboot'), ...filesUnder('src/ova'), ...filesUnder('src/config')]) {
    h.update(f.slice(ROOT.length)).update('\0').update(readFileSync(f)).update('\0');
  }
  const base = await execa(join(ROOT, 'scripts/test-image.sh'), ['key', 'vm'], { stdin: 'ignore' });
  h.update(String(base.stdout));
  h.update(realpathSync(process.execPath)).update(process.version);
  return h.digest('hex').slice(0, 16);
}

/** The OVA (built on first use, ~1 min; the Debian base another ~2 min the first time). */
export async function cachedOva(log: (line: string) => void): Promise<{ ova: string; built: boolean; ms: number }> {
  const t0 = performance.now();
  const key = await ovaKey();
  const dir = join(CACHE, `ova-${key}`);
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const ova = join(dir, `haproxy-appliance-${version}.ova`);
  if (existsSync(ova)) return { ova, built: false, ms: performance.now() - t0 };
  log(`    building the OVA (npm run ova's scripts/ova.ts; cached in ${dir})`);
  await mkdir(CACHE, { recursive: true });
  const building = `${dir}.build-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await mkdir(building, { recursive: true });
  try {
    const r = await execa(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/ova.ts'), '--out', building], {
      cwd: ROOT,
      reject: false,
      stdin: 'ignore',
      timeout: 1_200_000,
    });
    if (r.exitCode !== 0) throw new Error(`scripts/ova.ts failed (exit ${r.exitCode}):\n${tail(String(r.stderr), 30)}`);
    if (String(r.stdout).trim().split('\n').at(-1) !== join(building, `haproxy-appliance-${version}.ova`))
      throw new Error(`scripts/ova.ts did not print the OVA's path last:\n${tail(String(r.stdout), 5)}`);
    // Older OVAs go: one cached OVA at a time.
    for (const old of readdirSync(CACHE).filter((n) => /^ova-[0-9a-f]{16}$/u.test(n))) await rm(join(CACHE, old), { recursive: true, force: true });
    await rename(building, dir);
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return { ova, built: true, ms: performance.now() - t0 };
}
