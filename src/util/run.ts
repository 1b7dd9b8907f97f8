/**
 * Running the system's tools: one place that calls execa, loaded on first use (a run with
 * `--ovf-env FILE` and nothing to change starts no command, and start-up time is first-boot time).
 * Never through a shell; input (a secret, for chpasswd) goes on stdin, never in argv.
 *
 * Every command has a timeout: `timeoutMs`, or {@link defaultTimeoutMs}. Callers give the work
 * its own (a trust-store rebuild, a service start that waits for the service); when one fires the
 * program is sent SIGTERM (SIGKILL 5 s later) and the result says `timedOut`, so the error can say
 * "timed out after N s" instead of a missing exit code.
 */
export interface RunResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** The program is not installed. */
  notFound: boolean;
  /** The timeout fired and the program was killed. */
  timedOut: boolean;
  /** The timeout it ran with (ms). */
  timeoutMs: number;
  /** The signal that ended it, when one did (SIGTERM after a timeout, or from elsewhere). */
  signal?: string;
  /** With `bytes`: stdout exactly as the program wrote it (no decoding), and whether it passed the cap. */
  stdoutBytes?: Uint8Array;
  overflow?: boolean;
}

/** A command's timeout when the caller gives none: generous for a quick tool on a slow machine. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Programs whose usual work is slow on a slow machine, and their default timeout: openssl makes
 * the appliance's keys and certificates. Its keys are ECDSA now (milliseconds), but the timeout
 * stays generous: an unaccelerated VM on a busy host runs it tens of times slower, and a timeout
 * that fires fails the first boot.
 */
const PROGRAM_TIMEOUT_MS: Readonly<Record<string, number>> = { openssl: 300_000 };

/** The timeout a command runs with when the caller gives none. */
export function defaultTimeoutMs(program: string): number {
  return PROGRAM_TIMEOUT_MS[program] ?? DEFAULT_TIMEOUT_MS;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** Open file descriptors the program gets as its fds 3, 4, … (flock(1) locks one of ours). */
  fds?: number[];
  /** The working directory (relative paths of the program's own configuration: `openssl ca`). */
  cwd?: string;
  /** The caller decodes stdout itself (strictly), and reads at most `max` bytes of it. */
  bytes?: { max: number };
}

export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { execa } = await import('execa');
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs(argv[0]!);
  const stdin = options.input !== undefined ? ('pipe' as const) : ('ignore' as const);
  const r = await execa(argv[0]!, argv.slice(1), {
    reject: false,
    timeout: timeoutMs,
    ...(options.input !== undefined && { input: options.input }),
    ...(options.cwd !== undefined && { cwd: options.cwd }),
    // execa passes a number as an open descriptor at runtime; its types only allow that for 0-2.
    stdio: [stdin, 'pipe', 'pipe', ...(options.fds ?? [])] as unknown as ['pipe', 'pipe', 'pipe'],
    ...(options.bytes && { encoding: 'buffer' as const, maxBuffer: options.bytes.max + 1, stripFinalNewline: false }),
  });
  const text = (out: string | Uint8Array | undefined) => (out instanceof Uint8Array ? Buffer.from(out).toString('utf8') : (out ?? ''));
  return {
    exitCode: r.exitCode,
    stdout: text(r.stdout),
    stderr: text(r.stderr),
    notFound: (r as { code?: string }).code === 'ENOENT',
    timedOut: r.timedOut === true,
    timeoutMs,
    ...(r.signal && { signal: r.signal }),
    ...(options.bytes && { stdoutBytes: r.stdout instanceof Uint8Array ? r.stdout : new Uint8Array(), overflow: r.isMaxBuffer }),
  };
}

/** `90 s`, `1.5 s`: a timeout as an admin reads it. */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/** Why a command did not succeed: a timeout, a signal, or its exit code. */
export function failureCause(r: RunResult): string {
  if (r.timedOut) return `timed out after ${seconds(r.timeoutMs)}`;
  if (r.exitCode === undefined) return r.signal ? `killed by ${r.signal}` : 'ended without an exit code';
  return `exit ${r.exitCode}`;
}

/**
 * The last meaningful line a failed command printed, for an error message; a timeout or a
 * signal is always named (what it printed before it was killed follows).
 */
export function failureDetail(r: RunResult): string {
  const lines = `${r.stderr}\n${r.stdout}`
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const last = lines.at(-1);
  if (r.timedOut || r.exitCode === undefined) return last ? `${failureCause(r)} (last output: ${last})` : failureCause(r);
  return last ?? failureCause(r);
}
