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

export async function run(argv: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const { execa } = await import('execa');
  const r = await execa(argv[0]!, argv.slice(1), {
    reject: false,
    timeout: options.timeoutMs ?? 60_000,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
  });
  return { exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), notFound: (r as { code?: string }).code === 'ENOENT' };
}

/** The last meaningful line a failed command printed, for an error message. */
export function failureDetail(r: RunResult): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? `exit ${r.exitCode ?? 'unknown'}`;
}
