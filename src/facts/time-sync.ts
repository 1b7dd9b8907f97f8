/**
 * Waiting, briefly, for systemd-timesyncd to synchronise the clock before certificates are made
 * (issue 13 §5; src/plan/pki.ts timeSyncWait decides when). Asks `timedatectl show` every
 * quarter second, at most TIME_SYNC_WAIT_S; a clock still not synchronised then is a warning,
 * never a failure: the certificates are made anyway (backdated: CERT_BACKDATE_S). The probe, the
 * sleep and the clock are parameters, so the bound is tested without touching a real clock.
 */
import { warning, type Problem } from '../problems.js';
import { run } from '../util/run.js';
import { TIME_SYNC_WAIT_S } from '../plan/pki.js';
import { CERT_BACKDATE_S } from '../plan/certificates.js';

/** What the probe sees: synchronised, not yet, or no NTP client running (nothing to wait for). */
export type SyncState = 'synchronized' | 'waiting' | 'no-ntp';

export type SyncProbe = () => Promise<SyncState>;

/** `timedatectl show -p NTP -p NTPSynchronized`: timesyncd active (`NTP=yes`) and synchronised. */
export const timedatectlProbe: SyncProbe = async () => {
  const r = await run(['timedatectl', 'show', '-p', 'NTP', '-p', 'NTPSynchronized'], { timeoutMs: 2000 });
  if (r.exitCode !== 0) return 'no-ntp';
  if (/^NTPSynchronized=yes$/mu.test(r.stdout)) return 'synchronized';
  return /^NTP=yes$/mu.test(r.stdout) ? 'waiting' : 'no-ntp';
};

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface WaitOutcome {
  state: SyncState;
  waitedMs: number;
}

/** Polls `probe` until it says synchronised or no NTP, or `timeoutMs` has passed (then: `waiting`). */
export async function waitForTimeSync(probe: SyncProbe, options: WaitOptions = {}): Promise<WaitOutcome> {
  const timeoutMs = options.timeoutMs ?? TIME_SYNC_WAIT_S * 1000;
  const intervalMs = options.intervalMs ?? 250;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const start = now();
  for (;;) {
    const state = await probe();
    const waitedMs = now() - start;
    if (state !== 'waiting' || waitedMs >= timeoutMs) return { state, waitedMs };
    await sleep(Math.min(intervalMs, timeoutMs - waitedMs));
  }
}

/** What the wait tells the admin: a note (synchronised, or no NTP client), or a warning (not in time). */
export function describeWait(outcome: WaitOutcome): { note?: string; warning?: Problem } {
  const s = (outcome.waitedMs / 1000).toFixed(1);
  if (outcome.state === 'synchronized') return { note: `the clock is synchronised by NTP (waited ${s} s) before the certificates are made` };
  if (outcome.state === 'no-ntp')
    return { note: `systemd-timesyncd is not running, so the certificates are made without waiting for NTP (backdated ${CERT_BACKDATE_S / 3600} h)` };
  return {
    warning: warning(
      'network.ntp_servers',
      'time-not-synchronized',
      `the clock was not synchronised by NTP within ${s} s; the certificates are made now anyway, valid from ${CERT_BACKDATE_S / 3600} h before this clock (check timedatectl timesync-status; a certificate this clock makes too far ahead is made again by the next run)`,
    ),
  };
}
