/**
 * OpenSSH known_hosts, read and written the way ssh(1) does: plain and hashed (`|1|salt|hash`,
 * HMAC-SHA1) host patterns, `*`/`?` wildcards, `!` negation, `[host]:port` for ports other than
 * 22, `@revoked` keys. `@cert-authority` lines are skipped (host certificates are not supported).
 * Parsing and matching are pure; only {@link readKnownHosts} and {@link appendKnownHost} touch
 * files.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface KnownHostEntry {
  file: string;
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** Comma-separated patterns as written, or undefined for a hashed entry. */
  patterns?: string[];
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  /** The key blob (SSH wire format). */
  key: Buffer;
}

/** The name known_hosts files use for a host: `host`, or `[host]:port` when the port is not 22. */
export function hostKeyName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const words = line.split(/\s+/u);
    let marker: KnownHostEntry['marker'];
    if (words[0]!.startsWith('@')) {
      const m = words.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return;
    }
    const [hosts, keyType, keyB64] = words;
    if (!hosts || !keyType || !keyB64) return;
    const key = Buffer.from(keyB64, 'base64');
    if (key.length === 0) return;
    const entry: KnownHostEntry = { file, line: i + 1, keyType, key, ...(marker && { marker }) };
    const hashed = /^\|1\|([^|]+)\|([^|]+)$/u.exec(hosts);
    if (hashed) entry.hashed = { salt: Buffer.from(hashed[1]!, 'base64'), hash: Buffer.from(hashed[2]!, 'base64') };
    else entry.patterns = hosts.split(',');
    out.push(entry);
  });
  return out;
}

function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .toLowerCase()
      .replace(/[.+^${}()|[\]\\]/gu, '\\$&')
      .replace(/\*/gu, '.*')
      .replace(/\?/gu, '.')}$`,
    'u',
  );
  return re.test(text);
}

/** Whether the entry is for host name `name` (as from {@link hostKeyName}). */
export function entryMatches(e: KnownHostEntry, name: string): boolean {
  if (e.hashed) {
    const h = createHmac('sha1', e.hashed.salt).update(name).digest();
    return h.length === e.hashed.hash.length && h.equals(e.hashed.hash);
  }
  let positive = false;
  for (const p of e.patterns ?? []) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) positive = true;
  }
  return positive;
}

/** The key type named inside a key blob (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** `SHA256:…` as ssh-keygen -l prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/u, '')}`;
}

export type HostKeyVerdict =
  | { status: 'known'; entry: KnownHostEntry }
  | { status: 'unknown' }
  | { status: 'changed'; known: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry };

/** What known_hosts says about `key` presented by host:port. */
export function verifyHostKey(entries: KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = hostKeyName(host, port);
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', entry: revoked };
  const mine = entries.filter((e) => !e.marker && entryMatches(e, name));
  const hit = mine.find((e) => e.key.equals(key));
  if (hit) return { status: 'known', entry: hit };
  if (mine.length === 0) return { status: 'unknown' };
  return { status: 'changed', known: mine };
}

/** The key types known for host:port, to offer only those host key algorithms (as ssh does). */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const name = hostKeyName(host, port);
  return [...new Set(entries.filter((e) => !e.marker && entryMatches(e, name)).map((e) => e.keyType))];
}

/** ssh2 host key algorithm names for known_hosts key types, most preferred first. */
export function hostKeyAlgorithms(keyTypes: string[]): string[] {
  const order = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  const wanted = new Set(keyTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t])));
  return order.filter((a) => wanted.has(a));
}

/** A known_hosts line for host:port, hashed like ssh's HashKnownHosts=yes (Debian's default). */
export function knownHostsLine(host: string, port: number, key: Buffer, opts: { hashed?: boolean } = {}): string {
  const name = hostKeyName(host, port);
  let hosts = name;
  if (opts.hashed ?? true) {
    const salt = randomBytes(20);
    hosts = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  }
  return `${hosts} ${keyTypeOf(key)} ${key.toString('base64')}`;
}

/** Reads the files that exist; a missing file is an empty one. */
export async function readKnownHosts(files: string[]): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    all.push(...parseKnownHosts(text, file));
  }
  return all;
}

let appendChain: Promise<unknown> = Promise.resolve();

/** Appends one line (serialized within this process; O_APPEND across processes). */
export function appendKnownHost(file: string, line: string): Promise<void> {
  const job = appendChain.then(async () => {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    let prefix = '';
    try {
      const cur = await readFile(file, 'utf8');
      if (cur.length && !cur.endsWith('\n')) prefix = '\n';
    } catch {
      /* new file */
    }
    await appendFile(file, `${prefix}${line}\n`, { mode: 0o600 });
  });
  appendChain = job.catch(() => undefined);
  return job;
}
