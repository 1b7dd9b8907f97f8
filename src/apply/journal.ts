/**
 * Crash safety for apply: a lock that keeps two runs apart, backups of every file before it is
 * replaced, and a journal that lets the next run finish (or undo) a run that was killed.
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
import { constants } from 'node:fs';
import { mkdir, open, readFile, readdir, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ApplyError } from '../errors.js';
import { STATE_DIR } from '../state/state.js';
import { removeFile, renameDurable, underRoot, writeAtomic } from './files.js';

export const LOCK_FILE = `${STATE_DIR}/lock`;
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock (O_EXCL file holding our PID); a lock left by a dead process is taken over. */
export async function acquireLock(root: string): Promise<() => Promise<void>> {
  const file = underRoot(root, LOCK_FILE);
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return async () => {
        await unlink(file).catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (pid > 0 && pid !== process.pid && alive(pid)) {
        throw new ApplyError(`another provision run (pid ${pid}) holds ${file}; wait for it to finish`);
      }
      await unlink(file).catch(() => undefined); // stale: its process is gone
    }
  }
  throw new ApplyError(`cannot take the lock ${file}`);
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

/** Renames what is still staged into place (roll forward). Idempotent. */
export async function commitEntries(root: string, entries: JournalEntry[], onEach?: (i: number) => void): Promise<void> {
  for (const [i, e] of entries.entries()) {
    const target = underRoot(root, e.path);
    if (e.remove) await removeFile(target);
    else if (e.staged) {
      const st = await stat(e.staged).catch(() => undefined);
      if (st) await renameDurable(e.staged, target);
    }
    onEach?.(i);
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
