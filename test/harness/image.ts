/**
 * The appliance image of the end-to-end bed: whether this machine can run the bed (Debian packages,
 * root, namespaces, the bundle), and the image root itself — the cached Debian bookworm base
 * (scripts/test-image.sh, debootstrap on first use; cached under /var/cache/haproxy-appliance-test)
 * copied with the agent installed (firstboot/install.sh).
 */
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { canRunNetworkBeds } from './netns.js';
import { ROOT } from './ovf.js';

export { ROOT };

export const BUNDLE = join(ROOT, 'dist/start.cjs');
const TEST_IMAGE = join(ROOT, 'scripts/test-image.sh');
const DEPS = join(ROOT, 'scripts/install-deps.sh');
export const HOST_PATH = process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The last `lines` lines of a text. */
export function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** `systemctl show` output (`Key=value` lines) as a record. */
export function parseShow(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

export type Readiness = { ok: true; installed: string[] } | { ok: false; reason: string; fix: string };

function have(cmd: string): boolean {
  if (cmd.startsWith('/')) {
    try {
      accessSync(cmd, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
  return HOST_PATH.split(':').some((d) => {
    try {
      accessSync(join(d, cmd), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Which Debian packages the bed needs and lacks (debootstrap only while the image cache is cold). */
function missingPackages(cacheWarm: boolean): string[] {
  const need: string[] = [];
  if (!have('systemd-nspawn')) need.push('systemd-container');
  if (!cacheWarm && !have('debootstrap')) need.push('debootstrap');
  if (!have('nsenter') || !have('unshare') || !have('setpriv')) need.push('util-linux');
  if (!have('ip')) need.push('iproute2');
  if (!have('/lib/systemd/systemd-networkd')) need.push('systemd');
  return need;
}

async function imageCacheWarm(): Promise<boolean> {
  const r = await execa(TEST_IMAGE, ['cached'], { reject: false, stdin: 'ignore' });
  return r.exitCode === 0;
}

/**
 * Whether the end-to-end bed can run here, installing the Debian packages it lacks when it may
 * (`install`, root, apt-get). When it cannot, `fix` says exactly what to do.
 */
export async function checkReadiness(opts: { install: boolean }): Promise<Readiness> {
  if (process.platform !== 'linux')
    return {
      ok: false,
      reason: 'the end-to-end bed needs Linux (network namespaces, systemd-nspawn)',
      fix: 'run it on a Linux machine (Debian bookworm, as CI does)',
    };
  if (process.getuid?.() !== 0) {
    return {
      ok: false,
      reason: 'the end-to-end bed needs root: it creates network namespaces and boots a container with systemd-nspawn',
      fix: 'run it as root, e.g. sudo env "PATH=$PATH" npm run demo',
    };
  }
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) return { ok: false, reason: `node ${process.versions.node} is too old`, fix: 'use Node.js 20 or later' };
  const installed: string[] = [];
  let missing = missingPackages(await imageCacheWarm());
  if (missing.length && opts.install && have('apt-get')) {
    const r = await execa('sh', [DEPS], { reject: false, stdin: 'ignore', all: true, timeout: 600_000 });
    if (r.exitCode !== 0) {
      return {
        ok: false,
        reason: `installing ${missing.join(' ')} failed:\n${tail(String(r.all ?? ''), 15)}`,
        fix: `apt-get update && apt-get install ${missing.join(' ')}`,
      };
    }
    installed.push(...missing);
    missing = missingPackages(await imageCacheWarm());
  }
  if (missing.length) {
    return {
      ok: false,
      reason: `missing Debian packages: ${missing.join(' ')}`,
      fix: `as root: sh scripts/install-deps.sh (or apt-get install ${missing.join(' ')})`,
    };
  }
  const can = await canRunNetworkBeds();
  if (!can.ok)
    return {
      ok: false,
      reason: `cannot create network namespaces here: ${can.reason}`,
      fix: 'run on a Linux machine where root may create network namespaces (not inside an unprivileged container)',
    };
  if (!existsSync(BUNDLE)) return { ok: false, reason: `${BUNDLE} is missing`, fix: 'npm run build' };
  return { ok: true, installed };
}

/**
 * The image root at `root` (in a fresh `work` dir): the cached Debian base (built on first use),
 * copied, with the agent installed and `--set` lines for its defaults file.
 */
export async function prepareImage(
  work: string,
  root: string,
  set: string[],
  log: (line: string) => void,
): Promise<{ baseMs: number; built: boolean; copyMs: number; base: string }> {
  await mkdir(work, { recursive: true, mode: 0o700 });
  const t0 = performance.now();
  const warm = await imageCacheWarm();
  if (!warm)
    log(
      `    building the Debian bookworm image (debootstrap, first run only; cached under ${process.env.HPA_IMAGE_CACHE ?? '/var/cache/haproxy-appliance-test'})`,
    );
  const base = await execa(TEST_IMAGE, ['base'], { reject: false, stdin: 'ignore', timeout: 900_000 });
  if (base.exitCode !== 0) throw new Error(`scripts/test-image.sh base failed (exit ${base.exitCode}):\n${tail(String(base.stderr), 30)}`);
  const baseMs = performance.now() - t0;
  const t1 = performance.now();
  const r = await execa(TEST_IMAGE, ['root', root, ...set.flatMap((s) => ['--set', s])], { reject: false, stdin: 'ignore', timeout: 300_000 });
  if (r.exitCode !== 0) throw new Error(`scripts/test-image.sh root failed (exit ${r.exitCode}):\n${tail(String(r.stderr), 30)}`);
  for (const line of String(r.stderr).split('\n')) if (line.startsWith('firstboot/install.sh: installed into')) log(`    ${line}`);
  return { baseMs, built: !warm, copyMs: performance.now() - t1, base: String(base.stdout).trim() };
}
