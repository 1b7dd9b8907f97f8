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
 *
 * The journal names files by their path on the appliance and their staging name beside it, never
 * by a host path: a root that was moved recovers where it now is. Recovery first checks every
 * entry (an owned path, its exact staging name for that run, a regular file or nothing) and
 * refuses a journal that names anything else, touching nothing: a journal inside an untrusted
 * image cannot make the agent move or delete a file it does not own.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ApplyError } from '../errors.js';
import { BACKUP_DIR, JOURNAL_FILE } from '../appliance/paths.js';
import { removeFile, renameDurable, writeAtomic } from './files.js';
import { PathRefused, confinedPath, fileKind, readUnderRoot, underRoot } from '../util/root.js';
import { flockHandle } from './lock.js';

/** How many runs' backups are kept. */
export const BACKUPS_KEPT = 5;

export interface JournalEntry {
  /** Path on the appliance (absolute, as on the appliance; the root is not part of it). */
  path: string;
  /** The staged file's name, in the target's directory (`stagedName`); absent for a removal. */
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
export { crashPoint } from '../util/crash.js';

export async function readJournal(root: string): Promise<Journal | undefined> {
  const file = await confinedPath(root, JOURNAL_FILE);
  const current = await readUnderRoot(root, JOURNAL_FILE);
  if (!current) return undefined;
  try {
    return JSON.parse(current.content) as Journal;
  } catch (err) {
    // A torn journal cannot happen (it is written atomically); an unreadable one is reported.
    throw new ApplyError(`cannot read the journal ${file}: ${(err as Error).message}`);
  }
}

export async function writeJournal(root: string, journal: Journal): Promise<void> {
  await writeAtomic(await confinedPath(root, JOURNAL_FILE), `${JSON.stringify(journal, null, 2)}\n`, 0o600);
}

export async function clearJournal(root: string): Promise<void> {
  await removeFile(await confinedPath(root, JOURNAL_FILE));
}

/** A run's id: `YYYYMMDDTHHMMSSZ-<pid>` (also the name of its backup folder). */
export const RUN_ID = /^\d{8}T\d{6}Z-\d+$/u;

/** The staging name for a target: same directory, so the commit is a rename within one file system. */
export function stagedName(path: string, id: string): string {
  return `.${basename(path)}.hpa-stage-${id}`;
}

/** The host path of a staged file: beside the (confined) target. */
export function stagedPath(target: string, id: string): string {
  return join(dirname(target), stagedName(target, id));
}

/** A journal entry resolved to host paths under the root, after its checks. */
export interface Resolved {
  entry: JournalEntry;
  target: string;
  staged?: string;
}

/**
 * Checks every entry of a journal read from disk and resolves it under the root; refuses (a
 * `PathRefused`, nothing touched) an entry naming a path the agent does not own, a staging name
 * other than the one this run would use, or a staged file or target that is not a regular file.
 * `owned`: every path the agent may write.
 */
export async function resolveJournal(root: string, journal: Journal, owned: Set<string>): Promise<Resolved[]> {
  const where = `the journal ${JOURNAL_FILE}${root === '/' ? '' : ` under ${root}`}`;
  const bad = (why: string) => new PathRefused(`${where} ${why}; it was not written by this agent, so nothing was touched: check it, then remove it`);
  if (typeof journal !== 'object' || journal === null || typeof journal.id !== 'string' || !RUN_ID.test(journal.id)) throw bad('has no valid run id');
  if (!['staging', 'committing', 'committed'].includes(journal.phase) || !Array.isArray(journal.entries) || !Array.isArray(journal.actions))
    throw bad('is not a journal of this format');
  const out: Resolved[] = [];
  for (const e of journal.entries as unknown[]) {
    const entry = e as JournalEntry;
    if (typeof entry !== 'object' || entry === null || typeof entry.path !== 'string') throw bad('holds an entry without a path');
    if (!owned.has(entry.path)) throw bad(`names ${JSON.stringify(entry.path.slice(0, 200))}, which is not a file the agent owns`);
    const target = await confinedPath(root, entry.path);
    const kind = async (p: string) => {
      // The live system's links are the admin's (followed); under a root none is left to follow.
      const st = await (root === '/' ? stat(p) : lstat(p)).catch(() => undefined);
      return st && !st.isFile() ? fileKind(st) : undefined;
    };
    const targetKind = await kind(target);
    if (targetKind) throw bad(`names ${entry.path}, which is ${targetKind}, not a regular file`);
    if (entry.remove === true && entry.staged === undefined) {
      out.push({ entry, target });
      continue;
    }
    // A journal of an earlier agent holds the staged file's absolute path: accepted only when
    // it is exactly the staging file beside the target in this root.
    const legacy =
      typeof entry.staged === 'string' &&
      entry.staged.startsWith('/') &&
      [underRoot(root, dirname(entry.path)), dirname(target)].some((d) => entry.staged === join(d, stagedName(entry.path, journal.id)));
    if (entry.remove !== undefined || (entry.staged !== stagedName(entry.path, journal.id) && !legacy)) {
      throw bad(`stages ${entry.path} as ${JSON.stringify(String(entry.staged).slice(0, 200))}, not as ${stagedName(entry.path, journal.id)} beside it`);
    }
    const staged = stagedPath(target, journal.id);
    const stagedKind = await kind(staged);
    if (stagedKind) throw bad(`stages ${entry.path} in ${staged}, which is ${stagedKind}, not a regular file`);
    out.push({ entry, target, staged });
  }
  return out;
}

/** Characters hashed at a time (see {@link sha256}). */
export const HASH_CHUNK = 1 << 16;

/**
 * The SHA-256 of `text` as UTF-8, fed in chunks of HASH_CHUNK characters: hashing a string whole
 * makes a UTF-8 copy of all of it, 13 MB more peak memory for a haproxy.cfg with 10,000 API pairs.
 * A chunk never ends between the two halves of a surrogate pair, so the bytes hashed are exactly
 * the string's UTF-8.
 */
export function sha256(text: string): string {
  const hash = createHash('sha256');
  for (let i = 0; i < text.length;) {
    let end = Math.min(text.length, i + HASH_CHUNK);
    const last = text.charCodeAt(end - 1);
    const next = text.charCodeAt(end); // NaN at the end
    if (last >= 0xd800 && last <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) end++;
    hash.update(text.slice(i, end));
    i = end;
  }
  return hash.digest('hex');
}

/** How long apply waits for another writer (the Data Plane API saving) to release haproxy.cfg. */
const WRITER_WAIT_S = 30;

const isFile = async (p: string) => (await lstat(p).catch(() => undefined))?.isFile() === true;

/**
 * Compare-and-swap of a merged file: under the target's flock (the lock the Data Plane API's
 * config-parser takes while it saves), renames the staged candidate onto the target only while
 * the target still is the file with sha256 `entry.base` ('' = no file). When it is not, `remerge`
 * (still under the lock, so no save can come between) merges again from what is there, restages
 * the candidate and updates `entry.base`, or removes the candidate when nothing is left to write
 * or the new one failed its check; without `remerge` (recovery) the stale candidate is dropped.
 * Resolves whether the candidate was renamed into place.
 */
export async function swapMerged(r: Resolved, remerge?: (current: string | undefined) => Promise<void>): Promise<boolean> {
  const { target, staged, entry } = r;
  for (let attempt = 0; attempt < 100; attempt++) {
    const fh = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    try {
      if (fh) {
        const held = await fh.stat();
        if (!held.isFile()) throw new PathRefused(`${target} is ${fileKind(held)}, not a regular file`);
        if (!(await flockHandle(fh, WRITER_WAIT_S))) throw new ApplyError(`${target} stayed locked by another writer for ${WRITER_WAIT_S} s`);
        const now = await lstat(target).catch(() => undefined);
        if (!now || now.ino !== held.ino || now.dev !== held.dev) continue; // replaced while we waited: look again
      }
      const current = fh ? await fh.readFile('utf8') : undefined;
      if ((current === undefined ? '' : sha256(current)) !== entry.base) {
        if (remerge) await remerge(current);
        else await rm(staged!, { force: true });
        if (!remerge || !(await isFile(staged!))) return false;
      }
      await renameDurable(staged!, target);
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
  entries: Resolved[],
  hooks: {
    onEach?: (i: number) => void;
    remerge?: (i: number, current: string | undefined) => Promise<void>;
    onDropped?: (i: number) => void;
  } = {},
): Promise<void> {
  for (const [i, e] of entries.entries()) {
    if (e.entry.remove) await removeFile(e.target);
    else if (e.staged && (await isFile(e.staged))) {
      if (e.entry.base === undefined) await renameDurable(e.staged, e.target);
      else if (!(await swapMerged(e, hooks.remerge && ((current) => hooks.remerge!(i, current))))) hooks.onDropped?.(i);
    }
    hooks.onEach?.(i);
  }
}

/** Deletes staged files (roll back a run that had not started replacing files). */
export async function discardStaged(entries: Resolved[]): Promise<void> {
  for (const e of entries) {
    if (!e.staged) continue;
    await removeFile(e.staged).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTDIR') throw err; // its folder could never be made: nothing was staged
    });
  }
}

/** Copies the current files into a new backup folder for this run; keeps the last few runs. */
export async function backupFiles(root: string, id: string, files: { path: string; content: string; mode: number }[]): Promise<string | undefined> {
  if (files.length === 0) return undefined;
  const base = await confinedPath(root, BACKUP_DIR);
  await mkdir(base, { recursive: true, mode: 0o700 });
  await chmod(base, 0o700); // also when it was there already
  const dir = join(base, id);
  await mkdir(dir, { mode: 0o700 });
  for (const f of files) {
    // Backups may hold keys and hashes: the folder is 0700 and every copy 0600.
    await writeAtomic(await confinedPath(root, `${BACKUP_DIR}/${id}${f.path}`), f.content, 0o600);
  }
  // Only the agent's own run folders are rotated (never a link, never another name).
  const runs: string[] = [];
  for (const name of (await readdir(base)).sort()) {
    const st = await lstat(join(base, name)).catch(() => undefined);
    if (RUN_ID.test(name) && st?.isDirectory()) runs.push(name);
  }
  for (const old of runs.slice(0, Math.max(0, runs.length - BACKUPS_KEPT))) await rm(join(base, old), { recursive: true, force: true });
  return dir;
}
