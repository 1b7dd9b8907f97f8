/**
 * The one registry of files that can hold a secret (a password, a hash of one, a private key):
 * planAppliance marks every planned file found here secret and 0600, and apply treats a path
 * found here as secret whatever the plan says, so a dry run's diff, `--json` and the backups
 * never show its content (backups are 0600 in a 0700 folder anyway). Pure.
 *
 * - haproxy.cfg: the userlist's crypt of the API password;
 * - ca.key, server.key: private keys;
 * - dataplaneapi.yaml: the API 2.9+ reads users and passwords from it (`users:`), so an existing
 *   one may hold the API password in clear text even where the agent's own holds none;
 * - root-password.applied: the crypt of the root password.
 */
import type { DesiredFile } from './types.js';
import { HAPROXY_CFG } from './haproxy.js';
import { PKI_PATHS } from './pki.js';
import { DATAPLANEAPI_YAML } from './dataplane.js';
import { ROOT_PASSWORD_MARKER } from './access.js';

export const SECRET_PATHS: readonly string[] = [HAPROXY_CFG, PKI_PATHS.caKey, PKI_PATHS.serverKey, DATAPLANEAPI_YAML, ROOT_PASSWORD_MARKER];

const secretSet = new Set(SECRET_PATHS);

export function isSecretPath(path: string): boolean {
  return secretSet.has(path);
}

/** The files with every registered secret marked secret and made 0600 (root only). */
export function markSecrets(files: DesiredFile[]): DesiredFile[] {
  return files.map((f) => (isSecretPath(f.path) ? { ...f, secret: true, mode: 0o600 } : f));
}
