/**
 * Kernel locks for apply: flock(2), taken by util-linux's flock(1) on an open file description
 * of ours (the `flock FD` form shells use as `exec 9>file; flock 9`). The lock belongs to that
 * open file description, not to the flock process: it stays held after flock(1) exits, for as
 * long as our descriptor is open, and the kernel drops it when we close it or die — SIGKILL and
 * power loss included. So there is no stale lock to take over, no PID to trust, and releasing
 * never touches anyone else's lock: the lock file itself is never deleted (deleting it would let
 * a newcomer lock a fresh inode while an old holder still holds the unlinked one).
 *
 * Node opens files close-on-exec, so the programs apply starts (haproxy -c, openssl, systemctl)
 * never inherit a lock.
 *
 * Two locks use this:
 * - the run lock, `/run/haproxy-appliance.lock` (under `--root`, the root directory itself): one
 *   provision run at a time, held from before the facts are read until the state file is written;
 * - haproxy.cfg itself, which the Data Plane API's config-parser locks the same way (flock on the
 *   file, then an atomic rename) while it saves: apply holds it for the compare-and-swap of its
 *   commit (apply.ts).
 */
import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ApplyError } from '../errors.js';
import { run } from '../util/run.js';
import { RUN_LOCK } from '../appliance/paths.js';

/** flock(1)'s exit status when the lock is busy (`-E`), apart from its own failures (1). */
const BUSY = 75;

/**
 * Takes an exclusive flock on `fh`'s open file description. `waitSeconds` 0 fails at once when
 * another holds it. Resolves true when taken, false when busy (or still busy at the deadline).
 */
export async function flockHandle(fh: FileHandle, waitSeconds: number): Promise<boolean> {
  const how = waitSeconds > 0 ? ['-w', String(waitSeconds)] : ['-n'];
  const r = await run(['flock', '-x', ...how, '-E', String(BUSY), '3'], { fds: [fh.fd], timeoutMs: (waitSeconds + 30) * 1000 });
  if (r.notFound) throw new ApplyError("flock (util-linux) is not installed; it is needed to lock the appliance's files");
  if (r.exitCode === 0) return true;
  if (r.exitCode === BUSY) return false;
  throw new ApplyError(`flock failed on a lock file: ${`${r.stderr}`.trim() || `exit ${r.exitCode ?? 'unknown'}`}`);
}

export interface HeldLock {
  /** The lock file (a full path). */
  file: string;
  /** Closes our descriptor, which drops the lock; the file stays. Idempotent. */
  release(): Promise<void>;
}

/**
 * Takes the run lock of `root` or fails at once. On the appliance (`/`) that is RUN_LOCK, which
 * also holds the holder's PID for the message (the kernel decides, not the PID). Under `--root`
 * it is the root directory itself: the lock leaves no file in the image, and it follows the root
 * when the folder is moved.
 */
export async function acquireRunLock(root: string): Promise<HeldLock> {
  return root === '/' ? lockPath(RUN_LOCK, 'file') : lockPath(root, 'directory');
}

/**
 * Locks `path` at once or fails: a lock `file` (made 0600 when missing, parents 0755; the PID of
 * the holder written in it for messages) or an existing `directory`.
 */
export async function lockPath(path: string, kind: 'file' | 'directory'): Promise<HeldLock> {
  const file = kind === 'file';
  if (file) await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const flags = file ? constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK : constants.O_RDONLY | constants.O_DIRECTORY;
  const fh = await open(path, flags, 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new ApplyError(`cannot open the lock ${path}: ${err.code === 'ELOOP' ? 'it is a symbolic link' : err.message}`);
  });
  let taken = false;
  try {
    if (file && !(await fh.stat()).isFile()) throw new ApplyError(`the lock file ${path} is not a regular file`);
    if (!(await flockHandle(fh, 0))) {
      const holder = file ? (await fh.readFile('utf8').catch(() => '')).trim() : '';
      throw new ApplyError(`another provision run${/^\d+$/u.test(holder) ? ` (pid ${holder})` : ''} holds the lock on ${path}; wait for it to finish`);
    }
    taken = true;
    if (file) {
      await fh.truncate(0);
      await fh.write(`${process.pid}\n`, 0);
    }
  } finally {
    if (!taken) await fh.close();
  }
  let held = true;
  return {
    file: path,
    release: async () => {
      if (!held) return;
      held = false;
      await fh.close();
    },
  };
}
