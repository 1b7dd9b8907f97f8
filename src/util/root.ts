/**
 * The --root sandbox, for every stage that touches the target's files (facts, apply, the agent's
 * defaults): paths confined to a root, and reading what is there (regular files only).
 *
 * Confinement (`--root`): every path the agent touches under a root goes through
 * `confinedPath`, which walks it one component at a time (lstat) and follows a symbolic link only
 * while where it leads stays inside the root; a link (absolute or relative, at any depth) that
 * leads out of the root, or a `..` that climbs above it, is refused with a `PathRefused`
 * (exit 2: the tree given as --root is not a sandbox the agent can work in; every path of a run
 * is resolved before the first write, so nothing was changed). The path returned holds no
 * symbolic link, so the kernel cannot follow one out of the root when it is opened.
 */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { problem } from '../problems.js';

/**
 * The tree under --root (or the live file system) holds something the agent refuses to touch: a
 * path leading out of the root, or a non-regular file where a file is expected. Exit 2.
 */
export class PathRefused extends InputError {
  constructor(message: string) {
    super(message, [problem(message.startsWith('--root: ') ? '--root' : 'target files', 'path-refused', message.replace(/^--root: /u, ''))]);
    this.name = 'PathRefused';
  }
}

/** `path` (absolute, as on the appliance) lexically under `root`. Refuses relative paths and `..`. */
export function underRoot(root: string, path: string): string {
  if (!path.startsWith('/') || path.split('/').includes('..')) throw new Error(`internal: not a clean absolute path: ${path}`);
  return root === '/' ? path : join(resolve(root), path);
}

/** How many symbolic links one path may pass through (the kernel's limit too). */
const MAX_LINKS = 40;

const parts = (p: string) => p.split('/').filter((c) => c !== '' && c !== '.');

/** The root's real path (symlinks of the root itself resolved: the admin chose it). */
export async function realRoot(root: string): Promise<string> {
  return realpath(resolve(root));
}

/**
 * The host path of `path` (an absolute path on the appliance) under `root`, with every symbolic
 * link on the way resolved, checked to stay inside the root. Links that stay inside are followed,
 * wherever they are (an image may have /etc/ssl/certs-style links); components that do not exist
 * yet are kept as they are (writing creates them as directories). With root `/` (the live
 * system) the path is returned as it is. Throws `PathRefused` naming the link and its target.
 *
 * Use it for every path under a root: reads, writes, staging, backups, the journal, the state
 * file, the lock, the PKI work folder.
 */
export async function confinedPath(root: string, path: string): Promise<string> {
  if (!path.startsWith('/') || path.split('/').includes('..')) throw new Error(`internal: not a clean absolute path: ${path}`);
  if (root === '/') return path;
  const base = await realRoot(root);
  if (base === '/') throw new PathRefused(`--root: ${root} is the live system's root (/), not a sandbox`);
  const resolved: string[] = [];
  let pending = parts(path);
  let links = 0;
  let missing = false;
  let lastLink = '';
  while (pending.length > 0) {
    const c = pending.shift()!;
    if (c === '..') {
      if (resolved.length === 0)
        throw new PathRefused(
          `--root: ${path} leads out of the root: ${lastLink || 'a symbolic link on the way'} climbs above ${base} with ..; nothing was changed`,
        );
      resolved.pop();
      continue;
    }
    if (missing) {
      resolved.push(c);
      continue;
    }
    const host = join(base, ...resolved, c);
    let st: Stats;
    try {
      st = await lstat(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      missing = true; // created later (or reported by the open that needs it)
      resolved.push(c);
      continue;
    }
    if (!st.isSymbolicLink()) {
      resolved.push(c);
      continue;
    }
    if (++links > MAX_LINKS) throw new PathRefused(`--root: ${path}: more than ${MAX_LINKS} symbolic links on the way (a loop?); nothing was changed`);
    const target = await readlink(host);
    lastLink = `${host} (a symbolic link to ${target})`;
    if (target.startsWith('/')) {
      if (target !== base && !target.startsWith(`${base}/`)) {
        throw new PathRefused(`--root: ${path} leads out of the root: ${host} is a symbolic link to ${target}, outside ${base}; nothing was changed`);
      }
      resolved.length = 0;
      pending = [...parts(target.slice(base.length)), ...pending];
    } else {
      pending = [...parts(target), ...pending];
    }
  }
  return join(base, ...resolved);
}

/** What a non-regular file is, in words. */
export function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

export interface Current {
  content: string;
  mode: number;
  /** sha256 (hex) of the bytes read, when asked for (`ReadOptions.hash`). */
  sha256?: string;
}

export interface ReadOptions {
  /**
   * Also hash the bytes read (sha256, hex): apply records the hash of every file it keeps, and
   * hashing the bytes as read is half the cost of hashing the decoded text again (13 MB of
   * haproxy.cfg with 10,000 Data Plane API pairs: 12 against 27 ms).
   */
  hash?: boolean;
}

/**
 * The file's content and permission bits, or undefined when it does not exist. Opens only a
 * regular file: anything else (a FIFO, which would block forever, a device, a socket, a
 * directory) is a `PathRefused` saying which path and what it is. `display` is the path named in
 * that message (default: `file`). A symbolic link is refused too, unless `followLink` (the live
 * system, where links are the admin's: under a root, `confinedPath` has resolved them already).
 */
export async function readCurrent(file: string, display: string = file, followLink = false, opts: ReadOptions = {}): Promise<Current | undefined> {
  let st: Stats;
  try {
    st = followLink ? await stat(file) : await lstat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined; // writing it will tell why
    throw err;
  }
  const refuse = (s: Stats) => new PathRefused(`${display} is ${fileKind(s)}, not a regular file; nothing was changed`);
  if (!st.isFile()) throw refuse(st);
  // O_NONBLOCK: should it have become a FIFO since, the open does not wait for a writer.
  const fh = await open(file, constants.O_RDONLY | (followLink ? 0 : constants.O_NOFOLLOW) | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const now = await fh.stat();
    // Another writer may have renamed a new file into place since the lstat (the Data Plane API
    // saves haproxy.cfg that way): what counts is that the file opened is a regular one.
    if (!now.isFile()) throw refuse(now);
    const { text, sha256 } = await readText(fh, now.size, opts.hash === true);
    return { content: text, mode: now.mode & 0o7777, ...(sha256 !== undefined && { sha256 }) };
  } finally {
    await fh.close();
  }
}

/**
 * The whole file as UTF-8 text (invalid bytes as U+FFFD, as `readFile` decodes them), read into
 * one buffer of the size `fstat` gave (grown should the file have grown since) and decoded once.
 * `FileHandle.readFile` reads 512 KiB at a time and decodes chunk by chunk: for a haproxy.cfg of
 * 10,000 Data Plane API pairs (13 MB) that was 26 round trips to the thread pool and a stream
 * decoder, several times the cost of one read.
 */
async function readText(fh: FileHandle, size: number, hash: boolean): Promise<{ text: string; sha256?: string }> {
  // One byte more than the size: a read that fills it says the file grew.
  let buf = Buffer.allocUnsafe(size + 1);
  let n = 0;
  for (;;) {
    if (n === buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, n);
      buf = bigger;
    }
    const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
    if (bytesRead === 0) {
      const bytes = buf.subarray(0, n);
      return { text: bytes.toString('utf8'), ...(hash && { sha256: createHash('sha256').update(bytes).digest('hex') }) };
    }
    n += bytesRead;
  }
}

/** `readCurrent` of an appliance path under `root`, confined; errors name the appliance path. */
export async function readUnderRoot(root: string, path: string, opts: ReadOptions = {}): Promise<Current | undefined> {
  const file = await confinedPath(root, path);
  return root === '/' ? readCurrent(file, path, true, opts) : readCurrent(file, `${path} (${file})`, false, opts);
}
