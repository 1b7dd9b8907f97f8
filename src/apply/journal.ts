/**
 * Crash safety for apply: backups of every file before it is replaced, and a journal that lets the
 * next run finish (or undo) a run that was killed. (The lock that keeps two runs apart: lock.ts.)
 *
 * A run stages every new file next to its target (`.name.hpa-stage`), records the plan of
 * renames in the journal, flips the journal to `committing`, renames the staged files into place
 * (each rename atomic), then flips it to `committed` and runs the service actions. Recovery:
 * - `staging`: nothing was replaced yet; staged files are deleted (the old configuration stays);
 * - `committing`: the remaining staged files are renamed into place (the new configuration);
 * - `committed`: files are in place; the recorded actions (reloads) are run again.
 * So whenever a run dies, the machine is on the old or the new configuration once the next run
 * has started, and every file was at every moment a complete old or new version.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ApplyError } from '../errors.js';
import { STATE_DIR } from '../state/state.js';
import { removeFile, renameDurable, underRoot, writeAtomic } from './files.js';
import { flockHandle } from './lock.js';

export const JOURNAL_FILE = `${STATE_DIR}/journal.json`;
export const BACKUP_DIR = `${STATE_DIR}/backups`;
/** How many runs' backups are kept. */
export const BACKUPS_KEPT = 5;

export interface JournalEntry {
  /** Path on the appliance. */
  path: string;
  /** Staged file (full path under the root), renamed onto the target at commit; absent for a removal. */
  staged?: string;
  remove?: boolean;
  /**
   * For a merged file (haproxy.cfg): sha256 (hex) of the file the staged one was merged from,
   * '' when there was none. It is renamed into place only while the target still is that file.
   */
  base?: string;
}

export interface Journal {
  id: string;
  phase: 'staging' | 'committing' | 'committed';
  entries: JournalEntry[];
  /** Service actions still owed once the files are in place (no secrets: see apply). */
  actions: unknown[];
}

/** Test hook: `HAPROXY_APPLIANCE_CRASH_AT=<step>` ends the process abruptly at that step. */
export function crashPoint(step: string): void {
  if (process.env.HAPROXY_APPLIANCE_CRASH_AT === step) {
    process.stderr.write(`haproxy-appliance: simulated crash at ${step}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}

export async function readJournal(root: string): Promise<Journal | undefined> {
  try {
    return JSON.parse(await readFile(underRoot(root, JOURNAL_FILE), 'utf8')) as Journal;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A torn journal cannot happen (it is written atomically); an unreadable one is reported.
    throw new ApplyError(`cannot read the journal ${underRoot(root, JOURNAL_FILE)}: ${(err as Error).message}`);
  }
}

export async function writeJournal(root: string, journal: Journal): Promise<void> {
  await writeAtomic(underRoot(root, JOURNAL_FILE), `${JSON.stringify(journal, null, 2)}\n`, 0o600);
}

export async function clearJournal(root: string): Promise<void> {
  await rm(underRoot(root, JOURNAL_FILE), { force: true });
}

/** The staging name for a target: same directory, so the commit is a rename within one file system. */
export function stagedPath(target: string, id: string): string {
  return join(dirname(target), `.${basename(target)}.hpa-stage-${id}`);
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** How long apply waits for another writer (the Data Plane API saving) to release haproxy.cfg. */
const WRITER_WAIT_S = 30;

/**
 * Compare-and-swap of a merged file: under the target's flock (the lock the Data Plane API's
 * config-parser takes while it saves), renames the staged candidate onto `target` only while the
 * target still is the file with sha256 `entry.base` ('' = no file). When it is not, `remerge`
 * (still under the lock, so no save can come between) merges again from what is there, restages
 * the candidate and updates `entry.base`, or clears `entry.staged` when nothing is left to write
 * or the new candidate failed its check; without `remerge` (recovery) the stale candidate is
 * dropped. Resolves whether the candidate was renamed into place.
 */
export async function swapMerged(
  target: string,
  entry: JournalEntry,
  remerge?: (current: string | undefined) => Promise<void>,
): Promise<boolean> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const fh = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    try {
      if (fh) {
        if (!(await flockHandle(fh, WRITER_WAIT_S))) throw new ApplyError(`${target} stayed locked by another writer for ${WRITER_WAIT_S} s`);
        const held = await fh.stat();
        const now = await lstat(target).catch(() => undefined);
        if (!now || now.ino !== held.ino || now.dev !== held.dev) continue; // replaced while we waited: look again
      }
      const current = fh ? await fh.readFile('utf8') : undefined;
      if ((current === undefined ? '' : sha256(current)) !== entry.base) {
        if (remerge) await remerge(current);
        else await rm(entry.staged!, { force: true });
        if (!remerge || !entry.staged) return false;
      }
      await renameDurable(entry.staged!, target);
      return true;
    } finally {
      await fh?.close(); // drops the lock
    }
  }
  throw new ApplyError(`${target} kept being replaced while apply waited to swap it`);
}

/**
 * Renames what is still staged into place (roll forward). Idempotent. A merged entry (`base`
 * set) goes through `swapMerged`, with `remerge` in a run; in recovery a stale one is dropped and
 * `onDropped` is told.
 */
export async function commitEntries(
  root: string,
  entries: JournalEntry[],
  hooks: {
    onEach?: (i: number) => void;
    remerge?: (i: number, current: string | undefined) => Promise<void>;
    onDropped?: (i: number) => void;
  } = {},
): Promise<void> {
  for (const [i, e] of entries.entries()) {
    const target = underRoot(root, e.path);
    if (e.remove) await removeFile(target);
    else if (e.staged && (await stat(e.staged).catch(() => undefined))) {
      if (e.base === undefined) await renameDurable(e.staged, target);
      else if (!(await swapMerged(target, e, hooks.remerge && ((current) => hooks.remerge!(i, current))))) hooks.onDropped?.(i);
    }
    hooks.onEach?.(i);
  }
}

/** Deletes staged files (roll back a run that had not started replacing files). */
export async function discardStaged(entries: JournalEntry[]): Promise<void> {
  for (const e of entries) {
    if (!e.staged) continue;
    await rm(e.staged, { force: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTDIR') throw err; // its folder could never be made: nothing was staged
    });
  }
}

/** Copies the current files into a new backup folder for this run; keeps the last few runs. */
export async function backupFiles(root: string, id: string, files: { path: string; content: string; mode: number }[]): Promise<string | undefined> {
  if (files.length === 0) return undefined;
  const base = underRoot(root, BACKUP_DIR);
  await mkdir(base, { recursive: true, mode: 0o700 });
  const dir = join(base, id);
  for (const f of files) {
    // Backups may hold keys and hashes: the folder is 0700 and every copy 0600.
    await writeAtomic(join(dir, f.path), f.content, 0o600);
  }
  const runs = (await readdir(base)).sort();
  for (const old of runs.slice(0, Math.max(0, runs.length - BACKUPS_KEPT))) await rm(join(base, old), { recursive: true, force: true });
  return dir;
}
