/**
 * Running the system's tools: one place that calls execa, loaded on first use (a run with
 * `--ovf-env FILE` and nothing to change starts no command, and start-up time is first-boot time).
 * Never through a shell; input (a secret, for chpasswd) goes on stdin, never in argv.
 */
export interface RunResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** The program is not installed. */
  notFound: boolean;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** Open file descriptors the program gets as its fds 3, 4, … (flock(1) locks one of ours). */
  fds?: number[];
}

export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { execa } = await import('execa');
  const stdin = options.input !== undefined ? 'pipe' as const : 'ignore' as const;
  const r = await execa(argv[0]!, argv.slice(1), {
    reject: false,
    timeout: options.timeoutMs ?? 60_000,
    ...(options.input !== undefined && { input: options.input }),
    // execa passes a number as an open descriptor at runtime; its types only allow that for 0-2.
    stdio: [stdin, 'pipe', 'pipe', ...(options.fds ?? [])] as unknown as ['pipe', 'pipe', 'pipe'],
  });
  return { exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), notFound: (r as { code?: string }).code === 'ENOENT' };
}

/** The last meaningful line a failed command printed, for an error message. */
export function failureDetail(r: RunResult): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? `exit ${r.exitCode ?? 'unknown'}`;
}
