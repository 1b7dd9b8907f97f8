/**
 * Process utilities of the harness: run a short command, wait, and the one way every bed ends a
 * process it started (SIGTERM, a grace period, then SIGKILL; by the child's own PID only).
 */
import type { ChildProcess } from 'node:child_process';
import { execa } from 'execa';

/** Result of a command run with {@link run} (or `TestBed.exec`). */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ExecOptions {
  /** Kill the command after this many ms (default 30 s). */
  timeoutMs?: number;
  /** Data written to the command's stdin. */
  input?: string;
  /** Throw when the exit code is not 0 (default true). */
  reject?: boolean;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** Runs a short command on the host side (only `ip`, `sysctl`-style tools are passed here). */
export async function run(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await execa(file, [...args], {
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    env: opts.env,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    stripFinalNewline: true,
  });
  const result: ExecResult = {
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    exitCode: r.exitCode ?? -1,
  };
  if ((opts.reject ?? true) && (result.exitCode !== 0 || r.timedOut)) {
    throw new Error(`command failed (${r.timedOut ? 'timed out' : `exit ${result.exitCode}`}): ${file} ${args.join(' ')}\n${result.stderr || result.stdout}`);
  }
  return result;
}

/** Environment for node children: no loaders/flags of the test runner leak into them. */
export function cleanNodeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  return env;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves true when `p` settles within `ms`, false otherwise; the timer never outlives it. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a process with this PID exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `process.kill`, ignoring a process that is already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** Whether the child still runs (no exit code, no signal yet). */
export function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves when the child has exited (immediately if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (!running(child)) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/**
 * Ends a child the harness started: SIGTERM, then SIGKILL when it has not exited after `graceMs`,
 * then waits up to `killWaitMs` more for its exit. Only ever signals this child's own PID; a no-op
 * when it has already exited. Every bed stops its processes with this.
 */
export async function terminate(child: ChildProcess, graceMs = 3_000, killWaitMs = 5_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || !running(child)) return;
  const done = exited(child);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (!(await within(done, graceMs))) {
    signal(pid, 'SIGKILL');
    await within(done, killWaitMs);
  }
}
