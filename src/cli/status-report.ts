/**
 * `haproxy-appliance status`, the pure part: from what was read (src/facts/status.ts) to the
 * verdict, its exit code, and the text or JSON shown. No I/O.
 *
 * The verdict:
 * - `running`: a provision run is in progress (the run lock is held, or the first-boot unit is
 *   activating or has a start job queued); exit 3 (status without --wait, or --wait's bound
 *   expired while it still ran);
 * - `ok`: the last run applied its configuration (exit 0); also a state.json of an older agent
 *   without the record of the last run, which was written by a successful apply (older agents
 *   recorded nothing else), with a note;
 * - `failed`: the last run refused the OVF environment or failed to apply (exit 1), its errors
 *   each naming the property (or the step) it was about;
 * - `not-run`: no run recorded (no state.json, or one that is not a state file); exit 2.
 */
import { parseStateFile, type AppliedState, type LastRun, type RecordedChange, type RecordedProblem } from '../appliance/state.js';
import { displaySafe, displaySafeDeep, jsonSafe } from '../verify/report.js';
import type { StatusFacts, UnitState } from '../facts/status.js';

export type StatusVerdict = 'ok' | 'failed' | 'running' | 'not-run';

/** The exit code of each verdict (docs/operations.md, `haproxy-appliance status --help`). */
export const STATUS_EXIT: Readonly<Record<StatusVerdict, number>> = { ok: 0, failed: 1, 'not-run': 2, running: 3 };

export interface StatusReport {
  status: StatusVerdict;
  exitCode: number;
  /** Why it is `running`: the lock's holder, the unit's state. */
  running?: string[];
  /** The record of the last run, as state.json has it. */
  lastRun?: LastRun;
  /** What state.json says was last applied. */
  applied?: { version: string; appliedAt: string };
  versions: StatusFacts['versions'];
  /** `haproxy.service` → `active`, `inactive (dead)`, `failed`, `not installed`, or `unknown`. */
  services: Record<string, string>;
  notes: string[];
}

function unitText(u: UnitState): string {
  if (u.load === 'not-found') return 'not installed';
  return u.sub && u.sub !== u.active ? `${u.active} (${u.sub})` : u.active;
}

/** Why a run is in progress, if it is: the lock, the first-boot unit. */
function runningNow(facts: StatusFacts): string[] {
  const why: string[] = [];
  if (facts.lock.held === true) why.push(`a provision run holds the run lock${facts.lock.pid !== undefined ? ` (pid ${facts.lock.pid})` : ''}`);
  const u = facts.agentUnit;
  if (u && ['activating', 'reloading'].includes(u.active)) why.push(`${u.unit} is ${unitText(u)}`);
  // `systemctl show -p Job` gives the queued job's id.
  else if (u?.job && u.active !== 'active') why.push(`${u.unit} has a job queued (job ${u.job})`);
  return why;
}

export function statusReport(facts: StatusFacts): StatusReport {
  const notes: string[] = [];

  let lastRun: LastRun | undefined;
  let applied: AppliedState | undefined;
  if (facts.stateProblem !== undefined) notes.push(facts.stateProblem);
  else if (facts.stateText === undefined) notes.push('no state.json: the agent has not run here yet');
  else {
    const parsed = parseStateFile(facts.stateText);
    if (typeof parsed === 'string') notes.push(`state.json ${parsed}`);
    else {
      lastRun = parsed.lastRun;
      applied = parsed.applied;
      if (!lastRun && applied)
        notes.push(
          `state.json (agent ${applied.version}) has no record of the last run: an older agent wrote it, and those recorded successful runs only; the last one applied at ${applied.appliedAt}`,
        );
    }
  }
  if (facts.lock.held === 'unknown') notes.push(`whether a run is in progress is not known from the lock: ${facts.lock.why}`);
  const services: Record<string, string> = {};
  for (const s of facts.services ?? []) services[s.unit.replace(/\.service$/u, '')] = unitText(s);
  if (facts.unitsUnknown !== undefined) notes.push(`services not read: ${facts.unitsUnknown}`);
  notes.push(...facts.notes);
  const running = runningNow(facts);
  const status: StatusVerdict = running.length ? 'running' : lastRun ? (lastRun.outcome === 'applied' ? 'ok' : 'failed') : applied ? 'ok' : 'not-run';
  return {
    status,
    exitCode: STATUS_EXIT[status],
    ...(running.length && { running }),
    ...(lastRun && { lastRun }),
    ...(applied && { applied: { version: applied.version, appliedAt: applied.appliedAt } }),
    versions: facts.versions,
    services,
    notes,
  };
}

const VERB: Record<RecordedChange['action'], string> = {
  create: 'created',
  update: 'updated',
  mode: 'changed mode of',
  remove: 'removed',
  rename: 'renamed',
  run: 'ran:',
};

const problemLine = (p: RecordedProblem) => `${p.at}: ${p.message} (${p.code})`;

function outcomeText(r: LastRun): string {
  if (r.outcome === 'applied') return 'applied the configuration';
  if (r.outcome === 'input-error') return 'refused the OVF environment (bad input; nothing was changed)';
  return 'failed to apply';
}

/** The text `status` prints: a few `key: value` lines, then lists indented (every value made safe to print). */
export function renderStatusText(report: StatusReport): string {
  const r = displaySafeDeep(report);
  const lines: string[] = [`status: ${r.status === 'not-run' ? 'not run' : r.status}`];
  for (const w of r.running ?? []) lines.push(`  ${w}`);
  const last = r.lastRun;
  if (last) {
    lines.push(`last run: ${last.at}${last.version ? ` (agent ${last.version})` : ''}: ${outcomeText(last)}`);
    if (last.source) lines.push(`OVF environment: ${last.source}`);
    if (last.changes) {
      const n = last.changes.length + (last.moreChanges ?? 0);
      lines.push(n === 0 ? 'changed: nothing' : `changed: ${n} item${n === 1 ? '' : 's'}`);
      for (const c of last.changes) lines.push(`  ${VERB[c.action]} ${c.target}`);
      if (last.moreChanges) lines.push(`  … and ${last.moreChanges} more`);
    } else if (last.outcome === 'applied') lines.push('changed: not recorded (an older agent wrote this record)');
    if (last.warnings?.length) {
      lines.push(`warnings: ${last.warnings.length}`);
      for (const w of last.warnings) lines.push(`  ${problemLine(w)}`);
    }
    if (last.problems?.length) {
      lines.push(`errors: ${last.problems.length}`);
      for (const p of last.problems) lines.push(`  ${problemLine(p)}`);
    }
  }
  if (r.applied && (!last || last.outcome !== 'applied')) lines.push(`last applied: ${r.applied.appliedAt} (agent ${r.applied.version})`);
  const v = r.versions;
  lines.push(`versions: agent ${v.agent}, haproxy ${v.haproxy ?? 'unknown'}, dataplaneapi ${v.dataplaneapi ?? 'unknown'}`);
  const services = Object.entries(r.services);
  if (services.length) lines.push(`services: ${services.map(([name, state]) => `${name} ${state}`).join(', ')}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return `${lines.join('\n')}\n`;
}

/** The JSON `status --json` prints: the report as it is (`status`, `exitCode`, `lastRun`, `versions`, `services`, …). */
export function renderStatusJson(report: StatusReport): string {
  return `${jsonSafe(JSON.stringify(report, null, 2))}\n`;
}

/** One line for `status --wait` progress on stderr. */
export function waitingLine(report: StatusReport, remainingMs: number | undefined): string {
  const why = report.running?.join('; ') ?? report.status;
  return displaySafe(`waiting for the provision run to finish (${why})${remainingMs === undefined ? '' : `; giving up in ${Math.ceil(remainingMs / 1000)} s`}`);
}
