/**
 * `verify --support-bundle DIR`: over the verifier's SSH sessions (src/verify/ssh.ts: known
 * hosts, credentials, timeouts), runs `haproxy-appliance support --output -` on each host and
 * writes what it sends to DIR/<host>.tar.gz (0600), N hosts at a time. Every failure is one
 * sentence of a known kind per host: unreachable, auth, hostkey (as verify), or `collect` for a
 * host reached that gave no bundle (no agent on it, not root, a failed run, too much output).
 */
import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { NodeSSH } from 'node-ssh';
import type { HostSpec } from './inventory.js';
import { connect, execChannel, formatBytes, HostError, MAX_COLLECT_BYTES, type HostKeyPolicy, type SshCredentials } from './ssh.js';
import type { HostErrorKind } from './types.js';

export interface BundleOptions {
  user: string;
  port: number;
  credentials: SshCredentials;
  hostKeys: HostKeyPolicy;
  concurrency: number;
  /** Connecting; the support run gets at least {@link MIN_RUN_MS}. */
  timeoutMs: number;
  /** The folder the bundles go to (created 0700 if missing). */
  dir: string;
  preconnected?: Map<HostSpec, Promise<Socket>>;
  onDone?: (result: BundleResult, finished: number, total: number) => void;
}

export interface BundleResult {
  name: string;
  host: string;
  port: number;
  user: string;
  /** The bundle written. */
  file?: string;
  bytes?: number;
  ms: number;
  error?: { kind: HostErrorKind; message: string; remedy?: string };
  recordedHostKey?: string;
}

/** The support run takes a few seconds; a short --timeout (meant for connecting) does not cut it. */
export const MIN_RUN_MS = 60_000;

/** What runs on the appliance: the agent's launcher is in /usr/local/bin, which a non-login PATH may lack. */
export const REMOTE_COMMAND = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH LC_ALL=C exec haproxy-appliance support --output -';

/** The most stderr kept (for the message). */
const MAX_STDERR = 64 * 1024;

/** The bundle's file name for a host: its name, made safe; the port when it is not 22. */
export function bundleFileName(host: string, port: number): string {
  const safe = host.replace(/[^A-Za-z0-9._-]+/gu, '_').replace(/^\.+/u, '_');
  return `${safe}${port === 22 ? '' : `-${port}`}.tar.gz`;
}

/** Runs `command` and keeps its stdout as bytes, bounded by `maxBytes` and `timeoutMs`. */
async function execBytes(ssh: NodeSSH, command: string, timeoutMs: number, maxBytes: number): Promise<{ stdout: Buffer; stderr: string; code: number | null }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let stderr = '';
  const { code } = await execChannel(ssh, command, timeoutMs, {
    input: '',
    timedOut: () =>
      new HostError(
        'collect',
        `the support bundle was not sent within ${Math.round(timeoutMs / 1000)} s`,
        'raise --timeout, or run haproxy-appliance support on the appliance',
      ),
    onChunk: (stream, chunk) => {
      if (stream === 'stderr') {
        if (stderr.length < MAX_STDERR) stderr += chunk.toString('utf8');
        return undefined;
      }
      size += chunk.length;
      if (size > maxBytes)
        return new HostError(
          'collect',
          `the appliance sent more than ${formatBytes(maxBytes)}; stopped reading and closed the connection`,
          'a bundle is capped at 32 MiB before compression',
        );
      chunks.push(Buffer.from(chunk));
      return undefined;
    },
  });
  return { stdout: Buffer.concat(chunks), stderr, code };
}

/** Why a host reached gave no bundle, in one sentence, from the command's exit code and stderr. */
export function noBundleError(user: string, host: string, code: number | null, stderr: string, bytes: number): HostError {
  const last = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1);
  if (code === 127 || /haproxy-appliance: (?:command )?not found/u.test(stderr))
    return new HostError(
      'collect',
      `${host}: no haproxy-appliance agent on this host (${last ?? 'command not found'})`,
      'is this an appliance? The agent is /usr/local/bin/haproxy-appliance (firstboot/install.sh)',
    );
  if (/as root/u.test(stderr) || (code === 2 && user !== 'root'))
    return new HostError(
      'collect',
      `${user}@${host}: the support bundle needs root (${last ?? `exit ${code}`})`,
      'log in as root (--user root); appliance.permit_root_login must allow it',
    );
  if (/Unknown option '--output'|unknown command "support"/u.test(stderr))
    return new HostError('collect', `${host}: the agent on this host is too old for support bundles (${last})`, 'upgrade the agent on the appliance');
  return new HostError(
    'collect',
    `${host}: haproxy-appliance support ${code === 0 ? `exited 0 but sent no gzip archive (${bytes} bytes)` : `exited ${code ?? 'without a code'}`}${last ? `: ${last}` : ''}`,
    'run haproxy-appliance support on the appliance to see why',
  );
}

async function writeBundle(file: string, data: Buffer): Promise<void> {
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  try {
    await fh.chmod(0o600);
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}

export async function fetchBundle(spec: HostSpec, opts: BundleOptions, fileName: string): Promise<BundleResult> {
  const t0 = performance.now();
  const host = spec.host;
  const port = spec.port ?? opts.port;
  const user = spec.user ?? opts.user;
  const base = { name: spec.name, host, port, user };
  let connected: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    const sock = opts.preconnected?.get(spec);
    opts.preconnected?.delete(spec);
    connected = await connect({ host, port, user }, opts.credentials, opts.hostKeys, opts.timeoutMs, sock);
    const r = await execBytes(connected.ssh, REMOTE_COMMAND, Math.max(opts.timeoutMs, MIN_RUN_MS), MAX_COLLECT_BYTES);
    if (r.code !== 0 || r.stdout.length < 2 || r.stdout[0] !== 0x1f || r.stdout[1] !== 0x8b) throw noBundleError(user, host, r.code, r.stderr, r.stdout.length);
    const file = join(opts.dir, fileName);
    try {
      await writeBundle(file, r.stdout);
    } catch (err) {
      throw new HostError('usage', `cannot write ${file}: ${(err as Error).message}`);
    }
    return { ...base, file, bytes: r.stdout.length, ms: performance.now() - t0, ...(connected.recorded && { recordedHostKey: connected.recorded }) };
  } catch (err) {
    const e = err instanceof HostError ? err : new HostError('collect', (err as Error).message);
    return { ...base, error: { kind: e.kind, message: e.message, ...(e.remedy && { remedy: e.remedy }) }, ms: performance.now() - t0 };
  } finally {
    connected?.ssh.dispose();
  }
}

/**
 * Every host's bundle, `concurrency` at a time. Exit code: 0 every bundle written, 1 a host was
 * reached but gave no bundle, 2 a host could not be reached, authenticated or trusted (or a file
 * not written), as verify's.
 */
export async function fetchBundles(specs: HostSpec[], opts: BundleOptions): Promise<{ results: BundleResult[]; exitCode: number }> {
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  // One file per host: a second host of the same name (another port or user) gets a number.
  const names = new Map<string, number>();
  const files = specs.map((s) => {
    const f = bundleFileName(s.host, s.port ?? opts.port);
    const n = names.get(f) ?? 0;
    names.set(f, n + 1);
    return n === 0 ? f : f.replace(/\.tar\.gz$/u, `-${n + 1}.tar.gz`);
  });
  const results = new Array<BundleResult>(specs.length);
  let next = 0;
  let finished = 0;
  const worker = async () => {
    while (next < specs.length) {
      const i = next++;
      results[i] = await fetchBundle(specs[i]!, opts, files[i]!);
      finished++;
      opts.onDone?.(results[i], finished, specs.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, specs.length)) }, worker));
  const exitCode = results.some((r) => r.error && r.error.kind !== 'collect') ? 2 : results.some((r) => r.error) ? 1 : 0;
  return { results, exitCode };
}
