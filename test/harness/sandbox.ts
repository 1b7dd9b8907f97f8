/** Sandbox roots for provision tests: a temp folder, removed afterwards even on failure. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ovfEnv, SEED_PROPERTIES } from './ovf.js';
import { SEED_ADAPTERS } from './bad-inputs.js';

/** Runs `fn` with a fresh sandbox root (`dir/root`) and a scratch folder `dir`. */
export async function withSandbox<T>(fn: (root: string, dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-prov-'));
  const root = join(dir, 'root');
  mkdirSync(root, { mode: 0o755 });
  try {
    return await fn(root, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes an OVF environment with the seed's properties plus `over` into `dir`; returns its path. */
export function envFile(dir: string, over: Record<string, string> = {}, name = 'ovf-env.xml'): string {
  const file = join(dir, name);
  writeFileSync(file, ovfEnv({ ...SEED_PROPERTIES, ...over }, SEED_ADAPTERS));
  return file;
}

/** Every file under `root` (path on the appliance → content): the harness's one tree walk. */
export { tree } from './tree.js';
