/** Runs the compiled CLI (dist/bin.js, what ships) the way an admin or systemd does. */
import { spawnSync } from 'node:child_process';
import { ROOT } from './ovf.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `timeoutMs` (default 60 s): a run that hangs is killed, and `cli` throws (ETIMEDOUT). */
export function cli(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Run {
  refuseLiveProvision(args);
  const r = spawnSync(process.execPath, [`${ROOT}dist/bin.js`, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...options.env },
    input: options.input ?? '',
    timeout: options.timeoutMs ?? 60_000,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `provision` without `--root` provisions the machine it runs on: on a test host that would write
 * its /etc and /var/lib (a failed run records its outcome in state.json). Tests run it only in a
 * sandbox (`--root DIR`) or for help and version.
 */
export function refuseLiveProvision(args: readonly string[]): void {
  if (args[0] !== 'provision') return;
  const safe = ['--root', '--help', '-h', '--version', '-V'];
  if (!args.some((a) => safe.includes(a) || a.startsWith('--root='))) {
    throw new Error(`test harness: refusing to run provision without --root (it would provision this host): ${args.join(' ')}`);
  }
}
