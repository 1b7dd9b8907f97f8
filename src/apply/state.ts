/**
 * Writing state.json (its format, the contract with the verifier: src/appliance/state.ts): after a
 * successful apply, with the hashes of the files as written and the run's record (`lastRun`:
 * applied, and where the OVF environment came from), and only when what it says changed (a rerun
 * that changes nothing leaves it, and its time, as it was). After a failed run on the live system,
 * `recordRun` replaces the record alone.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ApplianceConfig } from '../config/types.js';
import { STATE_FILE } from '../appliance/paths.js';
import {
  MAX_RECORDED_CHANGES,
  MAX_RECORDED_PROBLEMS,
  STATE_FORMAT,
  appliedState,
  parseStateFile,
  type LastRun,
  type RecordedChange,
  type RecordedProblem,
  type RecordOnlyState,
} from '../appliance/state.js';
import { confinedPath, readUnderRoot } from '../util/root.js';
import { writeAtomic } from './files.js';
import { acquireRunLock } from './lock.js';

/** The state file apply writes: where, its text for the files' hashes, and whether the file on disk already says the same. */
export interface StateWriter {
  path: string;
  /** The file's text for these hashes; `run`: what the run changed, for the record. */
  render: (files: Record<string, string>, run?: RunChanges) => string;
  same: (existing: string, files: Record<string, string>) => boolean;
}

/** What a run changed, as apply knows it: files, NIC renames, and the commands it ran (already described, secrets not shown). */
export interface RunChanges {
  files: readonly { path: string; action: 'create' | 'update' | 'mode' | 'remove' }[];
  renames?: readonly { from: string; to: string }[];
  ran?: readonly string[];
}

/** The record's `changes` (and `moreChanges`): files, renames, commands, in that order, capped. */
export function recordedChanges(run: RunChanges): Pick<LastRun, 'changes' | 'moreChanges'> {
  const all: RecordedChange[] = [
    ...run.files.map((f) => ({ action: f.action, target: f.path })),
    ...(run.renames ?? []).map((r) => ({ action: 'rename' as const, target: `${r.from} to ${r.to}` })),
    ...(run.ran ?? []).map((target) => ({ action: 'run' as const, target })),
  ];
  const more = all.length - MAX_RECORDED_CHANGES;
  return { changes: all.slice(0, MAX_RECORDED_CHANGES), ...(more > 0 && { moreChanges: more }) };
}

/** Problems as recorded: at, code, message, capped (messages never quote a secret). */
export function recordedProblems(problems: readonly { at: string; code: string; message: string }[]): RecordedProblem[] {
  return problems.slice(0, MAX_RECORDED_PROBLEMS).map(({ at, code, message }) => ({ at, code, message }));
}

/**
 * state.json for this configuration and agent version; `source`: where the OVF environment came
 * from; `warnings`: the run's, for the record.
 */
export function stateWriter(
  config: ApplianceConfig,
  version: string,
  source?: string,
  warnings: readonly { at: string; code: string; message: string }[] = [],
): StateWriter {
  const body = (files: Record<string, string>) => appliedState(config, version, files);
  const record = (at: string, run?: RunChanges): LastRun => ({
    at,
    outcome: 'applied',
    ...(source !== undefined && { source }),
    ...(run && { version, ...recordedChanges(run) }),
    ...(warnings.length > 0 && { warnings: recordedProblems(warnings) }),
  });
  return {
    path: STATE_FILE,
    render: (files, run) => {
      const at = new Date().toISOString();
      return `${JSON.stringify({ ...body(files), appliedAt: at, lastRun: record(at, run) }, null, 2)}\n`;
    },
    same: (existing, files) => {
      const parsed = parseStateFile(existing);
      if (typeof parsed === 'string' || !parsed.applied) return false;
      const { appliedAt: _at, lastRun, ...old } = JSON.parse(existing) as Record<string, unknown> & { lastRun?: LastRun };
      // The record too: a run after a failure, or from another transport, says so.
      if (lastRun?.outcome !== 'applied' || lastRun.source !== source) return false;
      return isDeepStrictEqual(old, JSON.parse(JSON.stringify(body(files))));
    },
  };
}

/** The record of a failed run: its problems (and warnings) capped, messages as the run reported them (secret-free). */
export function failedRun(
  outcome: Exclude<LastRun['outcome'], 'applied'>,
  problems: readonly { at: string; code: string; message: string }[],
  source?: string,
  extra: { version?: string; warnings?: readonly { at: string; code: string; message: string }[] } = {},
): LastRun {
  return {
    at: new Date().toISOString(),
    outcome,
    ...(source !== undefined && { source }),
    problems: recordedProblems(problems),
    ...(extra.version !== undefined && { version: extra.version }),
    ...(extra.warnings?.length && { warnings: recordedProblems(extra.warnings) }),
  };
}

/**
 * Records `lastRun` in state.json under `root` (`/`: the live system) and changes nothing else:
 * the rest of the file (the last applied configuration) is kept as it is, key for key and byte
 * for byte as the agent wrote it; without a state file, one holding the record alone is written.
 * Atomic (the same writer as apply's), under the run lock unless the caller holds it
 * (`locked`). A file that is not a state file of this format is left alone. Resolves to undefined
 * when recorded, else to why not (for a note: a failed record never hides the run's own error).
 */
export async function recordRun(root: string, lastRun: LastRun, options: { locked?: boolean } = {}): Promise<string | undefined> {
  let lock;
  try {
    if (!options.locked) lock = await acquireRunLock(root);
    const path = await confinedPath(root, STATE_FILE);
    const existing = await readUnderRoot(root, STATE_FILE);
    let text: string;
    if (!existing) {
      const only: RecordOnlyState = { format: STATE_FORMAT, lastRun };
      text = `${JSON.stringify(only, null, 2)}\n`;
    } else {
      if (typeof parseStateFile(existing.content) === 'string') return `${STATE_FILE} is not a state file of format ${STATE_FORMAT}; it was left as it is`;
      const json = JSON.parse(existing.content) as Record<string, unknown>;
      json.lastRun = lastRun;
      text = `${JSON.stringify(json, null, 2)}\n`;
    }
    await writeAtomic(path, text, 0o644);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await lock?.release();
  }
}
