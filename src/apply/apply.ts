/**
 * Apply: the only stage with side effects. Compares the plan with what is on disk (under a root
 * prefix) and changes only what differs, under a lock, with backups and a journal (journal.ts):
 * new files are staged beside their targets, candidates are checked (`haproxy -c`), then renamed
 * into place; on the live system NICs are renamed and only the affected services reload, in
 * dependency order. A failed check leaves every file and service as it was (exit 1). A rerun
 * with nothing changed writes nothing and reloads nothing. A dry run computes the same changes,
 * returns them with a unified diff, and writes nothing.
 */
import { realpath, rm } from 'node:fs/promises';
import { ApplyError, InputError, inputError } from '../errors.js';
import type { DesiredFile, Plan } from '../plan/types.js';
import { BACKUP_DIR, JOURNAL_FILE, STATE_DIR, isSecretPath, ownedPaths } from '../appliance/paths.js';
import { writeAtomic, writeDurable } from './files.js';
import { PathRefused, confinedPath, readUnderRoot } from '../util/root.js';
import type { Checker, FileChange } from './changes.js';
import { describeAction, liveActions, runActions, type LiveAction, type Runner } from './live.js';
import type { LiveContext } from '../facts/types.js';
import {
  backupFiles,
  clearJournal,
  commitEntries,
  crashPoint,
  discardStaged,
  readJournal,
  resolveJournal,
  sha256,
  stagedName,
  writeJournal,
  type Journal,
  type JournalEntry,
  type Resolved,
} from './journal.js';
import { acquireRunLock } from './lock.js';
import type { StateWriter } from './state.js';

export interface ApplyOptions {
  /** Write under this directory instead of `/` (sandbox: no command runs). */
  root?: string;
  dryRun?: boolean;
  /**
   * At boot under Type=notify: tells systemd the agent is ready, before the live steps no service
   * of this boot waits for (see liveActions). The caller also calls it after a run with none.
   */
  ready?: () => Promise<void>;
  /** Runs live commands; tests pass a recorder. Default: execa. */
  runner?: Runner;
  /** How the live system runs (boot, systemd, vmtoolsd); ignored in the sandbox. */
  context?: LiveContext;
  /** Checks a candidate file before it replaces the live one; resolves to a reason when it fails. */
  checker?: Checker;
  /** Told each step as it happens (one plain line each), for the admin or the journal. */
  progress?: (line: string) => void;
  /** The state file's content for this plan, written after a successful apply when it differs (state.ts). */
  state?: StateWriter;
  /**
   * The run lock and recovery already done by the caller (`beginApply`), so that facts were read
   * under the lock. Without it, applyPlan takes the lock and recovers itself.
   */
  session?: ApplySession;
}

export interface ApplyResult {
  root: string;
  /** True when acting on this machine (no --root): NIC renames and service reloads happen. */
  live: boolean;
  dryRun: boolean;
  changes: FileChange[];
  /** Paths already as planned. */
  unchanged: string[];
  renames: Plan['renames'];
  /** The live actions run (or, in a dry run, that would run). */
  actions: LiveAction[];
  /** Dry run only: the unified diff of every change. */
  diff?: string;
  /** Where this run's backups of the replaced files are. */
  backupDir?: string;
  /** A previous run that had been killed and that this run finished or undid. */
  recovered?: string;
}

/** What a planned file needs: a change, or none (then the file's hash, as read). */
async function fileChange(root: string, f: DesiredFile): Promise<FileChange | { unchanged: string }> {
  const before = await readUnderRoot(root, f.path, { hash: true });
  let content = f.content;
  let merge = f.merge;
  if (merge && before?.content !== merge.base) {
    // Another writer (the Data Plane API) changed it since the plan read it: merge with what is there.
    content = merge.remerge(before?.content);
    merge = { ...merge, base: before?.content };
  }
  const base = {
    path: f.path,
    mode: f.mode,
    secret: f.secret === true || isSecretPath(f.path),
    affects: f.affects,
    interfaces: f.interfaces ?? [],
    content,
    ...(f.check && { check: f.check }),
    ...(f.dirMode !== undefined && { dirMode: f.dirMode }),
    ...(merge && { merge }),
  };
  if (!before) return { ...base, action: 'create' };
  if (before.content !== content) return { ...base, action: 'update', before };
  if (before.mode !== f.mode) return { ...base, action: 'mode', before };
  return { unchanged: before.sha256! };
}

/**
 * The changes that would make the tree under `root` match the plan. Reads only: every path
 * confined to the root, regular files only (else a `PathRefused`).
 */
export async function computeChanges(plan: Plan, root: string): Promise<{ changes: FileChange[]; unchanged: string[]; hashes: Map<string, string> }> {
  const changes: FileChange[] = [];
  const unchanged: string[] = [];
  // sha256 of each file already as planned, from the bytes read (fileHashes needs no second hash).
  const hashes = new Map<string, string>();
  for (const f of plan.files) {
    const c = await fileChange(root, f);
    if ('unchanged' in c) {
      unchanged.push(f.path);
      hashes.set(f.path, c.unchanged);
    } else changes.push(c);
  }
  for (const path of plan.remove) {
    const before = await readUnderRoot(root, path);
    if (before) {
      const networkd = path.startsWith('/etc/systemd/network/') && path.endsWith('.network');
      changes.push({
        path,
        action: 'remove',
        mode: before.mode,
        secret: isSecretPath(path),
        affects: networkd ? ['systemd-networkd'] : [],
        interfaces: [],
        before,
      });
    }
  }
  return { changes, unchanged, hashes };
}

/**
 * sha256 of every planned file (as written, when apply merged it again), for the state file;
 * `known`: those already hashed, as read (files that were already as planned).
 */
export function fileHashes(plan: Plan, changes: FileChange[] = [], known: ReadonlyMap<string, string> = new Map()): Record<string, string> {
  const written = new Map(changes.flatMap((c) => (c.content !== undefined ? [[c.path, c.content] as const] : [])));
  return Object.fromEntries(plan.files.map((f) => [f.path, written.has(f.path) ? sha256(written.get(f.path)!) : (known.get(f.path) ?? sha256(f.content))]));
}

/**
 * Finishes or undoes a run that was killed; returns what was done, for the report. The owed
 * service actions are run once each; one that fails is reported, not retried forever (the run
 * that follows recomputes everything it needs).
 */
async function recover(root: string, live: boolean, runner: Runner | undefined, owned: Set<string>): Promise<string | undefined> {
  const journal = await readJournal(root);
  if (!journal) return undefined;
  // Every entry checked (owned path, its own staging name, regular files) before anything is touched.
  const entries = await resolveJournal(root, journal, owned);
  if (journal.phase === 'staging') {
    await discardStaged(entries);
    await clearJournal(root);
    return `run ${journal.id} was stopped before it replaced any file: its staged files were discarded`;
  }
  const dropped: string[] = [];
  if (journal.phase === 'committing') {
    // A merged file another writer changed since is not overwritten: this run merges it again.
    await commitEntries(entries, { onDropped: (i) => dropped.push(entries[i]!.entry.path) });
    journal.phase = 'committed';
    await writeJournal(root, journal);
  }
  const failed: string[] = [];
  if (live) {
    for (const a of journal.actions as LiveAction[]) {
      await runActions([a], runner).catch((err: Error) => failed.push(err.message));
    }
  }
  await clearJournal(root);
  const kept = dropped.length
    ? `; ${dropped.join(', ')} had been changed by another writer since, so its candidate was dropped (this run merges it again)`
    : '';
  return `run ${journal.id} was stopped while it replaced files: it was completed${kept}${failed.length ? `; but ${failed.join('; ')}` : ''}`;
}

/** A sandbox root that is really `/` (`/tmp/..`, a link to `/`) is refused: exit 2. */
async function refuseLiveRoot(root: string): Promise<void> {
  if (root !== '/' && (await realpath(root).catch(() => root)) === '/') {
    throw inputError('--root', 'root-is-live-system', `${root} is the live system's root (/), not a sandbox; leave --root out to provision this machine`);
  }
}

/** The run lock, held, and what recovery did; from `beginApply`. */
export interface ApplySession {
  root: string;
  /** A previous run that had been killed and that this session finished or undid. */
  recovered?: string;
  /** Drops the lock (the kernel drops it too if the process dies). */
  release(): Promise<void>;
}

/**
 * Starts a run that will write: takes the run lock (one provision run at a time, a kernel lock:
 * see lock.ts) and finishes or undoes a run that was killed. Call it before reading the facts a
 * plan is made from, so that nothing read is changed by another run before this one commits.
 * Recovery checks the journal against every path the agent may own (it runs before any plan).
 */
export async function beginApply(root: string, options: { live: boolean; runner?: Runner; progress?: (line: string) => void }): Promise<ApplySession> {
  await refuseLiveRoot(root);
  const lock = await acquireRunLock(root).catch((err: Error) => {
    throw err instanceof ApplyError ? err : new ApplyError(`cannot take the lock under ${root}: ${err.message}`, { cause: err });
  });
  crashPoint('locked');
  try {
    const recovered = await recover(root, options.live, options.runner, ownedPaths());
    if (recovered) options.progress?.(recovered);
    return { root, ...(recovered && { recovered }), release: () => lock.release() };
  } catch (err) {
    await lock.release();
    if (err instanceof ApplyError || err instanceof InputError) throw err;
    throw new ApplyError(`apply under ${root} failed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The actions a journal may hold: no secret (chpasswd's input, the password marker) and no NIC
 * rename (a rename is not repeatable; the next run renames from what it finds).
 */
export function journaled(actions: LiveAction[]): LiveAction[] {
  return actions.filter((a) => !a.secret && !a.rename);
}

/** Writes every new file beside its target and checks the candidates; a reason when one fails. */
async function stageAndCheck(changes: FileChange[], entries: { staged?: string }[], checker: Checker | undefined): Promise<string | undefined> {
  for (const [i, c] of changes.entries()) {
    const staged = entries[i]!.staged;
    if (!staged) continue;
    try {
      await writeDurable(staged, c.content ?? c.before!.content, c.mode, c.dirMode);
    } catch (err) {
      return `cannot write ${c.path}: ${(err as Error).message}`;
    }
    crashPoint(`staged-${i}`);
  }
  for (const [i, c] of changes.entries()) {
    const staged = entries[i]!.staged;
    if (!c.check || !staged || !checker) continue;
    const problem = await checker(c.check, staged);
    if (problem) return `the new ${c.path} failed its check: ${problem}`;
  }
  return undefined;
}

/** The journal's `base` of a merged file: sha256 of the text it was merged from, '' for none. */
const baseHash = (text: string | undefined): string => (text === undefined ? '' : sha256(text));

/**
 * Merges change `c` again from `current` (what another writer left) and stages the result in
 * place of the old candidate (`r.staged`), checked again; `r.entry.base` follows. Nothing stays
 * staged when the merge leaves the file as it is, or when the new candidate fails its check
 * (then the reason is returned).
 */
async function remerge(c: FileChange, r: Resolved, current: string | undefined, checker: Checker | undefined): Promise<string | undefined> {
  const content = c.merge!.remerge(current);
  c.merge = { ...c.merge!, base: current };
  r.entry.base = baseHash(current);
  c.content = content;
  const staged = r.staged!;
  await rm(staged, { force: true });
  if (content === current) return undefined;
  await writeDurable(staged, content, c.mode, c.dirMode);
  const problem = c.check && checker ? await checker(c.check, staged) : undefined;
  if (problem) await rm(staged, { force: true });
  return problem;
}

/**
 * Merged files whose target another writer changed while this run staged and checked: merged,
 * staged and checked again before anything is replaced (the commit swaps them under the writer's
 * lock, and merges once more if it changed again).
 */
async function refreshMerged(root: string, changes: FileChange[], resolved: Resolved[], checker: Checker | undefined): Promise<string | undefined> {
  for (const [i, c] of changes.entries()) {
    if (!c.merge) continue;
    const current = (await readUnderRoot(root, c.path))?.content;
    if (current === c.merge.base) continue;
    const problem = await remerge(c, resolved[i]!, current, checker);
    if (problem) return `${c.path} was changed by another writer during this run, and the merge with it failed its check: ${problem}`;
  }
  return undefined;
}

function runId(): string {
  return (
    new Date()
      .toISOString()
      .replace(/[-:]/gu, '')
      .replace(/\.\d+Z$/u, 'Z') + `-${process.pid}`
  );
}

/**
 * Resolves, before anything is written, every path this run may touch under the root (targets,
 * the journal, the backups, the state file): a path leading out of the root fails here, when
 * nothing was changed yet.
 */
async function preflight(plan: Plan, root: string, state: ApplyOptions['state']): Promise<void> {
  if (root === '/') return;
  const paths = [...plan.files.map((f) => f.path), ...plan.remove, JOURNAL_FILE, BACKUP_DIR, STATE_DIR, ...(state ? [state.path] : [])];
  for (const p of paths) await confinedPath(root, p);
}

export async function applyPlan(plan: Plan, options: ApplyOptions = {}): Promise<ApplyResult> {
  const root = options.root ?? '/';
  const live = options.root === undefined;
  if (!live) await refuseLiveRoot(root);
  const dryRun = options.dryRun === true;
  const renames = live ? plan.renames : [];

  if (dryRun) {
    await preflight(plan, root, options.state);
    const { changes, unchanged } = await computeChanges(plan, root).catch((err: Error) => {
      throw err instanceof InputError ? err : new ApplyError(`cannot read the current files under ${root}: ${err.message}`, { cause: err });
    });
    const actions = live ? liveActions(plan, changes, options.context) : [];
    const { unifiedDiff } = await import('./diff.js');
    return { root, live, dryRun, changes, unchanged, renames, actions, diff: unifiedDiff(changes) };
  }

  const say = options.progress ?? (() => undefined);
  const session = options.session ?? (await beginApply(root, { live, ...(options.runner && { runner: options.runner }), progress: say }));
  const { recovered } = session;
  /** Set once this run may have changed something: a refusal after it is no longer "nothing changed". */
  let touched = recovered !== undefined;
  try {
    await preflight(plan, root, options.state);
    const { changes, unchanged, hashes: keptHashes } = await computeChanges(plan, root);
    const actions = live ? liveActions(plan, changes, options.context) : [];
    say(
      changes.length
        ? `${changes.length} file${changes.length === 1 ? '' : 's'} to change, ${unchanged.length} up to date`
        : `all ${unchanged.length} files are up to date`,
    );
    const result: ApplyResult = { root, live, dryRun, changes, unchanged, renames, actions, ...(recovered && { recovered }) };
    /** Problems found after files were replaced: reported (exit 1) once the services are done. */
    const late: string[] = [];

    if (changes.length || actions.length) {
      const id = runId();
      // Paths as on the appliance and staging names beside them: never a host path.
      const entries: JournalEntry[] = changes.map((c) =>
        c.action === 'remove'
          ? { path: c.path, remove: true }
          : { path: c.path, staged: stagedName(c.path, id), ...(c.merge && { base: baseHash(c.merge.base) }) },
      );
      // A run killed before it set the password leaves the marker unchanged: the next sets it.
      const journal: Journal = { id, phase: 'staging', entries, actions: journaled(actions) };
      const resolved = await resolveJournal(root, journal, ownedPaths(plan));
      touched = true;
      await writeJournal(root, journal);
      crashPoint('journal-staging');

      const problem =
        (await stageAndCheck(changes, resolved, options.checker).catch((err: Error) => `${err.message}`)) ??
        (await refreshMerged(root, changes, resolved, options.checker));
      if (problem) {
        await discardStaged(resolved);
        await clearJournal(root);
        throw new ApplyError(`nothing was changed and no service was touched: ${problem}`);
      }
      say(`staged the new files${changes.some((c) => c.check) && options.checker ? '; the candidate haproxy.cfg passed haproxy -c' : ''}`);
      const backupDir = await backupFiles(
        root,
        id,
        changes.flatMap((c) => (c.before ? [{ path: c.path, content: c.before.content, mode: c.before.mode }] : [])),
      );
      if (backupDir) {
        result.backupDir = backupDir;
        say(`backed up the files being replaced to ${backupDir}`);
      }
      crashPoint('backed-up');
      journal.phase = 'committing';
      await writeJournal(root, journal);
      crashPoint('journal-committing');
      await commitEntries(resolved, {
        onEach: (i) => crashPoint(`committed-${i}`),
        // Another writer saved a merged file since the last look: merge again, under its lock.
        remerge: async (i, current) => {
          const c = changes[i]!;
          const failed = await remerge(c, resolved[i]!, current, options.checker);
          if (failed)
            late.push(
              `${c.path} was changed by another writer during this run, and the merge with it failed its check, so it was left as the other writer made it: ${failed}`,
            );
        },
      }).catch((err: Error) => {
        throw new ApplyError(`replacing the files stopped half way (${err.message}); the journal keeps the rest, and the next run finishes it`, { cause: err });
      });
      journal.phase = 'committed';
      await writeJournal(root, journal);
      say(`replaced ${changes.length} file${changes.length === 1 ? '' : 's'}`);
      crashPoint('journal-committed');
      if (live) {
        await runActions(
          actions,
          options.runner,
          (i) => {
            say(`ran: ${describeAction(actions[i]!)} (${actions[i]!.why})`);
            crashPoint(`action-${i}`);
          },
          options.ready,
        );
      }
    }
    if (options.state) {
      const path = await confinedPath(root, options.state.path);
      const existing = await readUnderRoot(root, options.state.path);
      const hashes = fileHashes(plan, changes, keptHashes);
      if (changes.length || !existing || !options.state.same(existing.content, hashes)) {
        const ran = actions.filter((a) => !a.rename).map(describeAction);
        await writeAtomic(path, options.state.render(hashes, { files: changes, renames, ran }), 0o644);
      }
    }
    await clearJournal(root);
    crashPoint('done');
    if (late.length) throw new ApplyError(late.join('; '));
    return result;
  } catch (err) {
    if (err instanceof ApplyError) throw err;
    // Refused before this run changed anything: bad input (exit 2); after, a failed apply.
    if (err instanceof InputError && !touched) throw err;
    if (err instanceof PathRefused)
      throw new ApplyError(
        `${err.message.replace(/; nothing was changed$/u, '')}; the run stopped part way (the journal lets the next run finish or undo it)`,
        { cause: err },
      );
    throw new ApplyError(`apply under ${root} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    if (!options.session) await session.release();
  }
}
