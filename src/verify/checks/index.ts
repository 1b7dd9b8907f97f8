/**
 * The check registry: every check as data, in report order, one family after another
 * (docs/verify.md's table is generated from it: `npm run docs`). `runChecks` runs them all over
 * one host's input; checks are pure functions from what was observed and the expected
 * configuration to results {id, subject, status, message, remedy}. Messages name the cause
 * ("nothing listens: no AnyIP route covers 192.168.0.3"), remedies say what to do.
 */
import type { CheckInput, CheckResult } from '../types.js';
import { checkContext, type Check } from './check.js';
import { MANAGEMENT_CHECKS } from './management.js';
import { NETWORK_CHECKS } from './network.js';
import { STATE_CHECKS } from './state.js';
import { SYSTEM_CHECKS } from './system.js';
import { VIP_CHECKS } from './vips.js';

export { CERT_WARN_DAYS, CLOCK_SKEW_WARN_S } from './system.js';
export { FAMILIES, type Check, type CheckContext, type Family } from './check.js';
export type { CheckInput } from '../types.js';

export const CHECKS: readonly Check[] = [...STATE_CHECKS, ...MANAGEMENT_CHECKS, ...NETWORK_CHECKS, ...VIP_CHECKS, ...SYSTEM_CHECKS];

/** Runs every check of the registry, in order. `sshPort` is the port the verifier logged in on. */
export function runChecks(input: CheckInput, sshPort = 22): CheckResult[] {
  const context = checkContext(input, sshPort);
  const earlier = new Map<string, readonly CheckResult[]>();
  const out: CheckResult[] = [];
  for (const check of CHECKS) {
    const results = check.run(context, earlier);
    earlier.set(check.id, results);
    out.push(...results);
  }
  return out;
}
