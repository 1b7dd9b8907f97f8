/**
 * The SSH side of the verifier (node-ssh on ssh2): connect with the host key checked against
 * known_hosts, authenticate (keys, agent, password), run the collection script once, and turn
 * every failure into one plain sentence of a known kind (unreachable, auth, hostkey). Passwords
 * are only ever handed to ssh2; no message here can contain one.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import type { Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { join } from 'node:path';
import { NodeSSH } from 'node-ssh';
// @ts-expect-error ssh2 ships no type declarations (node-ssh bundles its own for its API only)
import ssh2 from 'ssh2';
import {
  appendKnownHost,
  fingerprint,
  hostKeyAlgorithms,
  hostKeyName,
  keyTypeOf,
  knownHostsLine,
  knownKeyTypes,
  verifyHostKey,
  type KnownHostEntry,
} from './known-hosts.js';
import type { HostErrorKind } from './types.js';
import { APPLIANCE_PATHS } from './script.js';

// ssh2 (node-ssh's engine) is CommonJS without type declarations here: its key parser, typed.
const ssh2Utils = (ssh2 as unknown as { utils: { parseKey(data: string | Buffer, passphrase?: string): unknown } }).utils;

export class HostError extends Error {
  readonly kind: HostErrorKind;
  readonly remedy?: string;
  constructor(kind: HostErrorKind, message: string, remedy?: string) {
    super(message);
    this.name = 'HostError';
    this.kind = kind;
    if (remedy !== undefined) this.remedy = remedy;
  }
}

export interface SshTarget {
  host: string;
  port: number;
  user: string;
}

/** A private key read and checked before any connection. */
export interface LoadedKey {
  file: string;
  text: string;
}

export interface SshCredentials {
  keys: LoadedKey[];
  /** $SSH_AUTH_SOCK, when keys come from an agent. */
  agent?: string;
  password?: string;
}

export interface HostKeyPolicy {
  entries: KnownHostEntry[];
  acceptNew: boolean;
  /** Where --accept-new records a new key. */
  recordFile: string;
}

/** Reads and parses a private key; an unreadable or encrypted key is a usage error. */
export async function loadKey(file: string): Promise<LoadedKey> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new HostError('usage', `--identity ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const parsed = ssh2Utils.parseKey(text);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase/iu.test(parsed.message);
    throw new HostError(
      'usage',
      `--identity ${file}: ${encrypted ? 'the key is encrypted; load it into ssh-agent (ssh-add) and leave out --identity' : `not a private key ssh understands (${parsed.message})`}`,
    );
  }
  return { file, text };
}

/** The keys ssh would try by default (unencrypted ones only; encrypted keys belong in an agent). */
export async function defaultKeys(): Promise<LoadedKey[]> {
  const out: LoadedKey[] = [];
  for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    try {
      out.push(await loadKey(join(homedir(), '.ssh', name)));
    } catch {
      /* missing or encrypted: skip, as ssh would without a passphrase */
    }
  }
  return out;
}

type AuthMethod = Record<string, unknown> & { type: string };

function authHandler(
  user: string,
  creds: SshCredentials,
): (left: string[] | null, partial: boolean | null, cb: (m: AuthMethod | false) => void) => AuthMethod | false {
  const methods: AuthMethod[] = [
    ...creds.keys.map((k) => ({ type: 'publickey', username: user, key: k.text })),
    ...(creds.agent ? [{ type: 'agent', username: user, agent: creds.agent }] : []),
    ...(creds.password !== undefined
      ? [
          { type: 'password', username: user, password: creds.password },
          {
            type: 'keyboard-interactive',
            username: user,
            prompt: (_n: string, _i: string, _l: string, prompts: { prompt: string }[], finish: (r: string[]) => void) =>
              finish(prompts.map(() => creds.password!)),
          },
        ]
      : []),
  ];
  let i = 0;
  return (left) => {
    while (i < methods.length) {
      const m = methods[i++]!;
      if (!left || left.includes(m.type)) return m;
    }
    return false;
  };
}

function errCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; level?: unknown };
  return typeof e.code === 'string' ? e.code : undefined;
}

export interface Connected {
  ssh: NodeSSH;
  /** Set when --accept-new recorded the host's key. */
  recorded?: string;
}

/**
 * Connects and authenticates. Throws HostError: `hostkey` (unknown without --accept-new,
 * changed, revoked), `auth`, `unreachable`.
 */
export async function connect(
  target: SshTarget,
  creds: SshCredentials,
  policy: HostKeyPolicy,
  timeoutMs: number,
  preconnected?: Promise<Socket>,
): Promise<Connected> {
  const { host, port, user } = target;
  let sock: Socket | undefined;
  if (preconnected) {
    try {
      sock = await preconnected;
    } catch (err) {
      throw classify(err, target, creds, timeoutMs, []);
    }
  }
  const name = hostKeyName(host, port);
  let refusal: HostError | undefined;
  let recorded: string | undefined;
  const types = knownKeyTypes(policy.entries, host, port);
  const algorithms = types.length ? hostKeyAlgorithms(types) : undefined;

  const hostVerifier = (key: Buffer, verify: (ok: boolean) => void): undefined => {
    const v = verifyHostKey(policy.entries, host, port, key);
    const fp = fingerprint(key);
    if (v.status === 'known') {
      verify(true);
    } else if (v.status === 'revoked') {
      refusal = new HostError(
        'hostkey',
        `${name} presented a REVOKED host key ${keyTypeOf(key)} ${fp} (${v.entry.file}:${v.entry.line}); refusing to connect`,
        'do not use this host until its key is replaced',
      );
      verify(false);
    } else if (v.status === 'changed') {
      const known = v.known.map((e) => `${e.keyType} ${fingerprint(e.key)} (${e.file}:${e.line})`).join(', ');
      refusal = new HostError(
        'hostkey',
        `the host key of ${name} has CHANGED: it presented ${keyTypeOf(key)} ${fp}, known_hosts has ${known}; refusing to connect (someone may be intercepting the connection, or the appliance was redeployed)`,
        `if the appliance was redeployed, compare ${fp} with its console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then ssh-keygen -R '${name}'${v.known[0] ? ` -f ${v.known[0].file}` : ''} and verify again`,
      );
      verify(false);
    } else if (policy.acceptNew) {
      const line = knownHostsLine(host, port, key);
      appendKnownHost(policy.recordFile, line).then(
        () => {
          recorded = `${keyTypeOf(key)} ${fp} → ${policy.recordFile}`;
          policy.entries.push({ file: policy.recordFile, line: 0, keyType: keyTypeOf(key), key, patterns: [name] });
          verify(true);
        },
        (err: unknown) => {
          refusal = new HostError('usage', `cannot record the host key of ${name} in ${policy.recordFile}: ${(err as Error).message}`);
          verify(false);
        },
      );
    } else {
      refusal = new HostError(
        'hostkey',
        `${name} is not in known_hosts (it presented ${keyTypeOf(key)} ${fp}); refusing to connect`,
        `compare the fingerprint with the appliance console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then verify again with --accept-new to record it`,
      );
      verify(false);
    }
    return undefined;
  };

  const ssh = new NodeSSH();
  try {
    await ssh.connect({
      host,
      port,
      ...(sock && { sock }),
      username: user,
      readyTimeout: timeoutMs,
      hostVerifier,
      authHandler: authHandler(user, creds),
      tryKeyboard: creds.password !== undefined,
      ...(algorithms && { algorithms: { serverHostKey: algorithms } }),
    } as Parameters<NodeSSH['connect']>[0]);
  } catch (err) {
    ssh.dispose();
    if (refusal) throw refusal;
    throw classify(err, target, creds, timeoutMs, types);
  }
  return { ssh, ...(recorded && { recorded }) };
}

function classify(err: unknown, target: SshTarget, creds: SshCredentials, timeoutMs: number, knownTypes: string[]): HostError {
  const at = `${target.host}:${target.port}`;
  const code = errCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  const level = (err as { level?: string }).level;
  if (code === 'ECONNREFUSED')
    return new HostError(
      'unreachable',
      `${at}: connection refused (nothing listens on port ${target.port})`,
      'check that sshd runs on the appliance and that HOST and --port are right',
    );
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN')
    return new HostError('unreachable', `${at}: host unreachable (${code})`, 'check the address and the network path to the management network');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new HostError('unreachable', `${target.host}: cannot resolve the name (${code})`, 'check the host name or use the management IP address');
  if (code === 'ETIMEDOUT' || /Timed out while waiting for handshake|No response from server/u.test(msg)) {
    return new HostError(
      'unreachable',
      `${at}: no SSH answer within ${Math.round(timeoutMs / 1000)} s`,
      'check the address, the network path and firewalls; raise --timeout for a slow link',
    );
  }
  if (/All configured authentication methods failed/u.test(msg)) {
    const tried =
      [
        creds.keys.length ? `key${creds.keys.length > 1 ? 's' : ''} ${creds.keys.map((k) => k.file).join(', ')}` : '',
        creds.agent ? 'ssh-agent' : '',
        creds.password !== undefined ? 'password' : '',
      ]
        .filter(Boolean)
        .join(', ') || 'no credentials';
    return new HostError(
      'auth',
      `${target.user}@${at}: authentication failed (tried ${tried})`,
      `check the user (--user) and the credentials (--identity, --password-env); root logs in only when appliance.permit_root_login is True, and with a key of appliance.ssh_authorized_keys only when it is prohibit-password`,
    );
  }
  if (level === 'handshake' && /host key|no matching/iu.test(msg) && knownTypes.length) {
    return new HostError(
      'hostkey',
      `${at}: the host offers none of the host key types known_hosts has for it (${knownTypes.join(', ')}); its host key has changed; refusing to connect`,
      `if the appliance was redeployed, check its new key on the console, then ssh-keygen -R '${hostKeyName(target.host, target.port)}'`,
    );
  }
  if (code === 'ECONNRESET' || code === 'EPIPE')
    return new HostError(
      'unreachable',
      `${at}: the connection was closed during the SSH handshake (${code})`,
      'check sshd on the appliance (MaxStartups, TCP wrappers)',
    );
  return new HostError('unreachable', `${at}: ${msg}`);
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * The most the verifier takes from the appliance for one collection, stdout and stderr together:
 * 64 MiB. A real collection is about 15 kB (test/fixtures/verify/bed/collect-*.stdout); an
 * appliance whose haproxy.cfg holds 10,000 Data Plane API frontend/backend pairs sends about 3 MB
 * of haproxy.cfg's headers and binds (test/integration/verify/collect-limits.test.ts), plus about
 * 1–2 MB of `ss` lines for its listeners; the whole file (9.5–21 MB), where the appliance has no
 * grep, still fits three times over.
 * Past it the verifier stops reading (the connection is closed) instead of filling the
 * workstation's memory with what a hostile or broken appliance sends (a 2 GB state.json, an
 * endless command).
 */
export const MAX_COLLECT_BYTES = 64 * 1024 * 1024;

/** Bytes as "64 MiB" (whole MiB) or "1.5 MiB"; small values in bytes. */
export function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${n} bytes`;
  const mib = n / (1024 * 1024);
  return `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB`;
}

/** The block size the accumulator copies chunks into (a flood of tiny packets costs no more than bytes). */
const BLOCK = 256 * 1024;

class ByteBlocks {
  private readonly blocks: Buffer[] = [];
  private cur: Buffer | undefined;
  private used = 0;

  add(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (!this.cur || this.used === this.cur.length) {
        if (this.cur) this.blocks.push(this.cur);
        this.cur = Buffer.allocUnsafe(Math.max(BLOCK, Math.min(chunk.length - at, 16 * BLOCK)));
        this.used = 0;
      }
      const n = chunk.copy(this.cur, this.used, at);
      this.used += n;
      at += n;
    }
  }

  /** Everything added, decoded as UTF-8 once (a character split between chunks is whole). */
  text(): string {
    const parts = [...this.blocks, ...(this.cur ? [this.cur.subarray(0, this.used)] : [])];
    return parts.length === 1 ? parts[0]!.toString('utf8') : Buffer.concat(parts).toString('utf8');
  }

  clear(): void {
    this.blocks.length = 0;
    this.cur = undefined;
    this.used = 0;
  }
}

/**
 * A command's stdout and stderr as they arrive, bounded: `add` keeps a chunk while the two
 * streams together stay within `limit` bytes, and refuses it (keeping nothing more, and dropping
 * what it held) once they would not. The bytes are copied into large blocks (a chunk ssh2 hands
 * out may share memory with others, and a flood of one-byte packets must not cost an object
 * each) and decoded once, at the end, so a multibyte character split between two chunks, or
 * between two SSH packets, arrives whole.
 */
export class BoundedOutput {
  readonly limit: number;
  private readonly streams = { stdout: new ByteBlocks(), stderr: new ByteBlocks() };
  /** Bytes received, stdout and stderr together (past the limit too: what was refused counts). */
  received = 0;
  overflowed = false;

  constructor(limit = MAX_COLLECT_BYTES) {
    this.limit = limit;
  }

  /** Keeps `chunk`; false when it would take the total past the limit (then nothing is kept). */
  add(stream: 'stdout' | 'stderr', chunk: Buffer): boolean {
    this.received += chunk.length;
    if (this.overflowed) return false;
    if (this.received > this.limit) {
      this.overflowed = true;
      this.streams.stdout.clear();
      this.streams.stderr.clear();
      return false;
    }
    this.streams[stream].add(chunk);
    return true;
  }

  stdout(): string {
    return this.streams.stdout.text();
  }

  stderr(): string {
    return this.streams.stderr.text();
  }
}

/** Ends a connection at once: the socket is destroyed, so nothing more is read from it. */
export function hangUp(ssh: NodeSSH): void {
  (ssh.connection as unknown as { destroy?: () => void } | null)?.destroy?.();
  ssh.dispose();
}

/** What execChannel uses of ssh2's exec channel (ssh2 ships no type declarations here). */
interface ExecChannel {
  on(event: 'data', cb: (chunk: Buffer) => void): void;
  on(event: 'exit', cb: (code: number | null) => void): void;
  on(event: 'close', cb: () => void): void;
  stderr: { on(event: 'data', cb: (chunk: Buffer) => void): void };
  end(data: string): void;
}

/** What execChannel uses of ssh2's client. */
interface ExecConnection {
  once(event: 'error', cb: (err: Error) => void): void;
  removeListener(event: 'error', cb: (err: Error) => void): void;
  exec(command: string, opts: object, cb: (err: Error | undefined, channel: ExecChannel) => void): void;
}

export interface RunOptions {
  /**
   * Sees stdout as it comes, each newly decoded piece once, in order (a multibyte character
   * split between chunks comes whole, in the later piece).
   */
  onStdout?: (piece: string) => void;
  /** What the script was doing, for the message when the output passes the cap (e.g. `section state`). */
  where?: () => string | undefined;
  /** The cap on stdout and stderr together (default {@link MAX_COLLECT_BYTES}). */
  maxBytes?: number;
}

/** One command on its own exec channel: what goes in, how its output is taken, when it gives up. */
export interface ChannelRun {
  /** Written to the command's stdin, which is then closed. */
  input: string;
  /** Takes each chunk as it comes; an error returned stops the run (the connection is closed). */
  onChunk: (stream: 'stdout' | 'stderr', chunk: Buffer) => Error | undefined;
  /** The error when the command has not finished within the time given. */
  timedOut: () => Error;
}

/**
 * Runs `command` on one exec channel of the connection, bounded by `timeoutMs`: resolves with its
 * exit code once the channel closes; on an error (the connection's, the channel's, one
 * `onChunk` returns) or at the deadline, the connection is closed at once and nothing more is read.
 */
export function execChannel(ssh: NodeSSH, command: string, timeoutMs: number, run: ChannelRun): Promise<{ code: number | null }> {
  const connection = ssh.connection as unknown as ExecConnection | null;
  if (!connection) return Promise.reject(new HostError('collect', 'not connected'));
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      hangUp(ssh);
      reject(err);
    };
    const timer = setTimeout(() => fail(run.timedOut()), timeoutMs);
    connection.once('error', fail);
    const started = (err: Error | undefined, channel: ExecChannel) => {
      if (err) return fail(err);
      const take = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
        if (settled) return;
        const stop = run.onChunk(stream, chunk);
        if (stop) fail(stop);
      };
      channel.on('data', take('stdout'));
      channel.stderr.on('data', take('stderr'));
      let code: number | null = null;
      channel.on('exit', (c: number | null) => {
        code = c ?? null;
      });
      channel.on('close', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        connection.removeListener('error', fail);
        resolve({ code });
      });
      channel.end(run.input);
    };
    try {
      connection.exec(command, {}, started);
    } catch (err) {
      fail(err as Error);
    }
  });
}

/**
 * Runs `script` with `sh -s` (one channel), bounded by `timeoutMs` and by `maxBytes` of output:
 * past either the connection is closed and the host fails with a `collect` error.
 */
export async function runScript(ssh: NodeSSH, script: string, timeoutMs: number, opts: RunOptions = {}): Promise<ExecResult> {
  const limit = opts.maxBytes ?? MAX_COLLECT_BYTES;
  const out = new BoundedOutput(limit);
  const decoder = opts.onStdout ? new StringDecoder('utf8') : undefined;
  const { code } = await execChannel(ssh, 'LC_ALL=C exec /bin/sh -s', timeoutMs, {
    input: script,
    timedOut: () =>
      new HostError(
        'collect',
        `the collection did not finish within ${Math.round(timeoutMs / 1000)} s`,
        'raise --timeout, or check the appliance for a hanging command (haproxy -c, ss)',
      ),
    onChunk: (stream, chunk) => {
      if (!out.add(stream, chunk)) {
        const where = opts.where?.();
        return new HostError(
          'collect',
          `the appliance sent more than ${formatBytes(limit)} to the verifier (stdout and stderr of the collection together${where ? `; it was sending ${where}` : ''}); stopped reading and closed the connection`,
          `a real collection is a few kB, and tens of MB with thousands of Data Plane API services: check the size of ${APPLIANCE_PATHS.state}, ${APPLIANCE_PATHS.haproxyCfg} and the certificates in /etc/haproxy, and what ss -Htnlp and haproxy -c print on the appliance`,
        );
      }
      if (stream === 'stdout' && decoder) {
        const piece = decoder.write(chunk);
        try {
          if (piece) opts.onStdout!(piece);
        } catch (e) {
          return e as Error;
        }
      }
      return undefined;
    },
  });
  const rest = decoder?.end();
  if (rest) opts.onStdout!(rest);
  return { stdout: out.stdout(), stderr: out.stderr(), code };
}
