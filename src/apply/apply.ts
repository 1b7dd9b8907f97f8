/**
 * Apply: the only stage with side effects. Compares the plan with what is on disk (under a root
 * prefix), writes only what differs (atomically), removes files the agent no longer wants, and,
 * on the live system only, renames NICs and has the affected services pick up their files.
 * A dry run computes the same changes, returns them with a unified diff, and writes nothing.
 *
 * Kept small on purpose: a later issue grows it into a journaled engine with backups and locks.
 */
import { chmod } from 'node:fs/promises';
import { ApplyError } from '../errors.js';
import type { DesiredFile, Plan, Service } from '../plan/types.js';
import { readCurrent, removeFile, underRoot, writeAtomic, type Current } from './files.js';
import { liveActions, runActions, type LiveAction, type Runner } from './live.js';

export type ChangeAction = 'create' | 'update' | 'mode' | 'remove';

export interface FileChange {
  /** The path on the appliance (without the root prefix). */
  path: string;
  action: ChangeAction;
  /** Desired mode (for remove: the current one). */
  mode: number;
  secret: boolean;
  affects: Service[];
  interfaces: string[];
  /** Desired content; undefined for remove. */
  content?: string;
  /** What is there now; undefined for create. */
  before?: Current;
}

export interface ApplyOptions {
  /** Write under this directory instead of `/` (sandbox: no command runs). */
  root?: string;
  dryRun?: boolean;
  /** Runs live commands; tests pass a recorder. Default: execa. */
  runner?: Runner;
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
}

async function fileChange(root: string, f: DesiredFile): Promise<FileChange | undefined> {
  const before = await readCurrent(underRoot(root, f.path));
  const base = { path: f.path, mode: f.mode, secret: f.secret === true, affects: f.affects, interfaces: f.interfaces ?? [], content: f.content };
  if (!before) return { ...base, action: 'create' };
  if (before.content !== f.content) return { ...base, action: 'update', before };
  if (before.mode !== f.mode) return { ...base, action: 'mode', before };
  return undefined;
}

/** The changes that would make the tree under `root` match the plan. Reads only. */
export async function computeChanges(plan: Plan, root: string): Promise<{ changes: FileChange[]; unchanged: string[] }> {
  const changes: FileChange[] = [];
  const unchanged: string[] = [];
  for (const f of plan.files) {
    const c = await fileChange(root, f);
    if (c) changes.push(c);
    else unchanged.push(f.path);
  }
  for (const path of plan.remove) {
    const before = await readCurrent(underRoot(root, path));
    if (before) {
      const networkd = path.startsWith('/etc/systemd/network/') && path.endsWith('.network');
      changes.push({ path, action: 'remove', mode: before.mode, secret: false, affects: networkd ? ['systemd-networkd'] : [], interfaces: [], before });
    }
  }
  return { changes, unchanged };
}

async function writeChange(root: string, c: FileChange): Promise<void> {
  const file = underRoot(root, c.path);
  if (c.action === 'remove') await removeFile(file);
  else if (c.action === 'mode') await chmod(file, c.mode);
  else await writeAtomic(file, c.content!, c.mode);
}

export async function applyPlan(plan: Plan, options: ApplyOptions = {}): Promise<ApplyResult> {
  const root = options.root ?? '/';
  const live = options.root === undefined;
  const dryRun = options.dryRun === true;
  const { changes, unchanged } = await computeChanges(plan, root).catch((err: Error) => {
    throw new ApplyError(`cannot read the current files under ${root}: ${err.message}`, { cause: err });
  });
  const renames = live ? plan.renames : [];
  const actions = live ? liveActions(plan, changes) : [];
  const result: ApplyResult = { root, live, dryRun, changes, unchanged, renames, actions };

  if (dryRun) {
    const { unifiedDiff } = await import('./diff.js');
    return { ...result, diff: unifiedDiff(changes) };
  }

  const done: string[] = [];
  for (const c of changes) {
    try {
      await writeChange(root, c);
      done.push(c.path);
    } catch (err) {
      const already = done.length ? `; already changed: ${done.join(', ')}` : '; nothing was changed yet';
      throw new ApplyError(`cannot ${c.action === 'remove' ? 'remove' : 'write'} ${underRoot(root, c.path)}: ${(err as Error).message}${already}`, { cause: err });
    }
  }
  if (live) await runActions(actions, options.runner);
  return result;
}
