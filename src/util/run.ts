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
  /** With `bytes`: stdout exactly as the program wrote it (no decoding), and whether it passed the cap. */
  stdoutBytes?: Uint8Array;
  overflow?: boolean;
}

export async function run(argv: readonly string[], options: { input?: string; timeoutMs?: number; bytes?: { max: number } } = {}): Promise<RunResult> {
  const { execa } = await import('execa');
  const r = await execa(argv[0]!, argv.slice(1), {
    reject: false,
    timeout: options.timeoutMs ?? 60_000,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    // `bytes`: the caller decodes stdout itself (strictly), and reads at most `max` bytes of it.
    ...(options.bytes && { encoding: 'buffer' as const, maxBuffer: options.bytes.max + 1, stripFinalNewline: false }),
  });
  const text = (out: unknown) => (out instanceof Uint8Array ? Buffer.from(out).toString('utf8') : String(out ?? ''));
  return {
    exitCode: r.exitCode, stdout: text(r.stdout), stderr: text(r.stderr), notFound: (r as { code?: string }).code === 'ENOENT',
    ...(options.bytes && { stdoutBytes: r.stdout instanceof Uint8Array ? r.stdout : new Uint8Array(), overflow: r.isMaxBuffer }),
  };
}

/** The last meaningful line a failed command printed, for an error message. */
export function failureDetail(r: RunResult): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? `exit ${r.exitCode ?? 'unknown'}`;
}
