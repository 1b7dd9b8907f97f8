/**
 * File primitives for apply: paths under a root prefix, reading what is there, atomic writes
 * (a temporary file in the same directory, fsync, chmod, rename, fsync of the directory) and
 * removal. A reader never sees a half-written unit, and a crash leaves the old or the new file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** `path` (absolute, as on the appliance) under `root`. Refuses relative paths and `..`. */
export function underRoot(root: string, path: string): string {
  if (!path.startsWith('/') || path.split('/').includes('..')) throw new Error(`internal: not a clean absolute path: ${path}`);
  return root === '/' ? path : join(resolve(root), path);
}

export interface Current {
  content: string;
  mode: number;
}

/** The file's content and permission bits, or undefined when it does not exist. */
export async function readCurrent(file: string): Promise<Current | undefined> {
  try {
    const [content, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    return { content, mode: st.mode & 0o7777 };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined; // writing it will tell why
    throw err;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `file` (new, exclusive) with `content` and `mode`, flushed to disk; parents made 0755. */
export async function writeDurable(file: string, content: string, mode: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const fh = await open(file, 'wx', mode);
  try {
    await fh.writeFile(content, 'utf8');
    await fh.chmod(mode); // open()'s mode is filtered by the umask
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Renames `from` onto `to` (same directory) and flushes the directory entry. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await fsyncDir(dirname(to));
}

/** Replaces `file` with `content` and `mode` atomically, creating parent directories (0755). */
export async function writeAtomic(file: string, content: string, mode: number): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.hpa-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeDurable(tmp, content, mode);
    await renameDurable(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Removes `file` if it exists; true when something was removed. */
export async function removeFile(file: string): Promise<boolean> {
  try {
    await unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await fsyncDir(dirname(file));
  return true;
}
