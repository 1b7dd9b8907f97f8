/**
 * Writing state.json (its format, the contract with the verifier: src/appliance/state.ts): after a
 * successful apply, with the hashes of the files as written, and only when what it says changed
 * (a rerun that changes nothing leaves it, and its time, as it was).
 */
import { isDeepStrictEqual } from 'node:util';
import type { ApplianceConfig } from '../config/types.js';
import { STATE_FILE } from '../appliance/paths.js';
import { appliedState, parseAppliedState } from '../appliance/state.js';

/** The state file apply writes: where, its text for the files' hashes, and whether the file on disk already says the same. */
export interface StateWriter {
  path: string;
  render: (files: Record<string, string>) => string;
  same: (existing: string, files: Record<string, string>) => boolean;
}

/** state.json for this configuration and agent version. */
export function stateWriter(config: ApplianceConfig, version: string): StateWriter {
  const body = (files: Record<string, string>) => appliedState(config, version, files);
  return {
    path: STATE_FILE,
    render: (files) => `${JSON.stringify({ ...body(files), appliedAt: new Date().toISOString() }, null, 2)}\n`,
    same: (existing, files) => {
      if (typeof parseAppliedState(existing) === 'string') return false;
      const { appliedAt: _at, ...old } = JSON.parse(existing) as Record<string, unknown>;
      return isDeepStrictEqual(old, JSON.parse(JSON.stringify(body(files))));
    },
  };
}
