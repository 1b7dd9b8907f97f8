/**
 * What apply computes from a plan and the tree: one change per file that differs (and how a
 * candidate is checked before it replaces the live file). Types only, shared by apply.ts, live.ts
 * (which services a change affects), diff.ts and check.ts.
 */
import type { DesiredFile, Service } from '../plan/types.js';
import type { Current } from '../util/root.js';

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
  check?: DesiredFile['check'];
  /** The private mode of its folder (see DesiredFile). */
  dirMode?: number;
  /** What is there now; undefined for create. */
  before?: Current;
  /** A merged file (haproxy.cfg): `base` is what `content` was merged from (see DesiredFile). */
  merge?: DesiredFile['merge'];
}

/** Checks the staged candidate at `file` (a full path); resolves undefined when it is fine. */
export type Checker = (kind: NonNullable<DesiredFile['check']>, file: string) => Promise<string | undefined>;
