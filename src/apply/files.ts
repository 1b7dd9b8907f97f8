/**
 * File primitives for apply: atomic writes (a temporary file in the same directory, fsync, chmod,
 * rename, fsync of the directory) and removal, on paths confined by `src/util/root.ts`. A reader
 * never sees a half-written unit, and a crash leaves the old or the new file.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `file` (new, exclusive: never through a link) with `content` and `mode`, flushed to disk;
 * parents made 0755, or `dirMode` (root's .ssh: 0700), which its folder is then set to.
 */
export async function writeDurable(file: string, content: string, mode: number, dirMode?: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: dirMode ?? 0o755 });
  if (dirMode !== undefined) await chmod(dirname(file), dirMode);
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
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
