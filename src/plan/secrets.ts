/**
 * Secret files marked: planAppliance marks every planned file that the one registry of secret
 * paths (SECRET_PATHS in src/appliance/paths.ts) names secret and 0600, so a dry run's diff,
 * `--json` and the backups never show its content. Apply asks the same registry whatever the plan
 * says. Pure.
 */
import type { DesiredFile } from './types.js';
import { isSecretPath } from '../appliance/paths.js';

/** The files with every registered secret marked secret and made 0600 (root only). */
export function markSecrets(files: DesiredFile[]): DesiredFile[] {
  return files.map((f) => (isSecretPath(f.path) ? { ...f, secret: true, mode: 0o600 } : f));
}
