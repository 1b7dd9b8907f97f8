/**
 * `haproxy-appliance status [--wait [SECONDS]] [--json] [--root DIR]`, on the appliance (like
 * `cloud-init status`): the outcome of the last provision run (ok, failed, running), when it
 * ran, where its OVF environment came from, what it changed, its warnings and errors, the
 * versions of the agent, haproxy and the Data Plane API, and the state of haproxy, dataplaneapi
 * and systemd-networkd. Reads only (src/facts/status.ts); the verdict and its text are pure
 * (status-report.ts).
 *
 * `--wait` reads again every second until no run is in progress (the first-boot unit no longer
 * activating, the run lock free), for at most SECONDS when given. Exit: 0 ok, 1 the last run
 * failed, 2 no run recorded yet or usage, 3 still running (without --wait, or when the bound
 * expired first).
 */
import { realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inputError } from '../errors.js';
import type { Values } from './command.js';
import { readStatusFacts } from '../facts/status.js';
import { renderStatusJson, renderStatusText, statusReport, waitingLine, type StatusReport } from './status-report.js';
import { VERSION } from './version.js';

/** How often --wait reads again. */
export const WAIT_INTERVAL_MS = 1000;
/** The longest bound --wait takes (a day). */
const MAX_WAIT_S = 86_400;

/** `--root DIR`: an existing directory, by its real path (`/` is the live system, read as without it). */
async function statusRoot(value: unknown): Promise<string> {
  if (value === undefined) return '/';
  if (typeof value !== 'string' || value === '') throw inputError('--root', 'not-directory', 'give a directory');
  const given = resolve(value);
  const st = await stat(given).catch(() => undefined);
  if (!st?.isDirectory()) throw inputError('--root', 'not-directory', `${given} is not a directory`);
  return realpath(given);
}

/** The bound of `--wait [SECONDS]`: the one positional, a whole number of seconds, only with --wait. */
export function waitBound(values: Values, positionals: readonly string[]): number | undefined {
  if (positionals.length === 0) return undefined;
  if (values.wait !== true || positionals.length > 1) {
    const message = `unexpected argument ${JSON.stringify(positionals[values.wait === true ? 1 : 0]!.slice(0, 40))}; status takes only --wait [SECONDS]`;
    throw inputError('arguments', 'bad-usage', message, message);
  }
  const v = positionals[0]!;
  if (!/^\d+$/u.test(v) || Number(v) > MAX_WAIT_S)
    throw inputError('--wait', 'not-number', `${JSON.stringify(v.slice(0, 40))} is not a whole number of seconds from 0 to ${MAX_WAIT_S}`);
  return Number(v);
}

export async function statusCommand(values: Values, positionals: string[]): Promise<number> {
  const bound = waitBound(values, positionals);
  const root = await statusRoot(values.root);
  const wait = values.wait === true;
  const deadline = bound === undefined ? undefined : Date.now() + bound * 1000;
  let report: StatusReport;
  let said = '';
  for (;;) {
    report = statusReport(await readStatusFacts(root, VERSION));
    if (!wait || report.status !== 'running') break;
    const remaining = deadline === undefined ? undefined : deadline - Date.now();
    if (remaining !== undefined && remaining <= 0) break;
    // One line when what it waits for changes, not one per second.
    const line = waitingLine(report, undefined);
    if (line !== said && values.json !== true) process.stderr.write(`${waitingLine(report, remaining)}\n`);
    said = line;
    await sleep(Math.min(WAIT_INTERVAL_MS, remaining ?? WAIT_INTERVAL_MS));
  }
  process.stdout.write(values.json === true ? renderStatusJson(report) : renderStatusText(report));
  return report.exitCode;
}
