/**
 * Checks of a candidate file before it replaces the live one (apply stages it, checks it, and only
 * then renames it into place; a failed check leaves every file and service as it was).
 */
import { run } from '../util/run.js';
import type { Checker } from './changes.js';

/**
 * `haproxy -c -f <candidate>`: the real haproxy judges a candidate before it goes live. Without
 * haproxy installed that is a failure on the appliance, and skipped in a sandbox (an image build
 * host need not have haproxy).
 */
export function haproxyChecker(required: boolean): Checker {
  return async (_kind, file) => {
    const r = await run(['haproxy', '-c', '-f', file]);
    if (r.notFound) return required ? 'haproxy is not installed, so the configuration cannot be checked' : undefined;
    if (r.exitCode === 0) return undefined;
    const alerts = `${r.stdout}\n${r.stderr}`
      .split('\n')
      .filter((l) => /ALERT|error/iu.test(l))
      .map((l) => l.trim())
      .slice(0, 5);
    return alerts.join('; ') || `haproxy -c exited ${r.exitCode}`;
  };
}
