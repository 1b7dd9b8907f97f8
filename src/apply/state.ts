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
import { MAX_RECORDED_PROBLEMS, STATE_FORMAT, appliedState, parseStateFile, type LastRun, type RecordOnlyState } from '../appliance/state.js';
import { confinedPath, readUnderRoot } from '../util/root.js';
import { writeAtomic } from './files.js';
import { acquireRunLock } from './lock.js';

/** The state file apply writes: where, its text for the files' hashes, and whether the file on disk already says the same. */
export interface StateWriter {
  path: string;
  render: (files: Record<string, string>) => string;
  same: (existing: string, files: Record<string, string>) => boolean;
}

/** state.json for this configuration and agent version; `source`: where the OVF environment came from. */
export function stateWriter(config: ApplianceConfig, version: string, source?: string): StateWriter {
  const body = (files: Record<string, string>) => appliedState(config, version, files);
  const record = (at: string): LastRun => ({ at, outcome: 'applied', ...(source !== undefined && { source }) });
  return {
    path: STATE_FILE,
    render: (files) => {
      const at = new Date().toISOString();
      return `${JSON.stringify({ ...body(files), appliedAt: at, lastRun: record(at) }, null, 2)}\n`;
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

/** The record of a failed run: its problems capped, messages as the run reported them (secret-free). */
export function failedRun(
  outcome: Exclude<LastRun['outcome'], 'applied'>,
  problems: readonly { at: string; code: string; message: string }[],
  source?: string,
): LastRun {
  return {
    at: new Date().toISOString(),
    outcome,
    ...(source !== undefined && { source }),
    problems: problems.slice(0, MAX_RECORDED_PROBLEMS).map(({ at, code, message }) => ({ at, code, message })),
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
