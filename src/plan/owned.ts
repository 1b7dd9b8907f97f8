/**
 * Every path the agent may write or remove, for checking what a journal names before recovery
 * acts on it: a journal (read from the tree the agent works on, which may be an untrusted image)
 * may name only these. Pure.
 */
import { ownedNetworkPaths, PATHS } from './network-scheme.js';
import { HAPROXY_CFG } from './haproxy.js';
import { PKI_PATHS } from './pki.js';
import { DATAPLANEAPI_UNIT, DATAPLANEAPI_YAML } from './dataplane.js';
import { SSHD_DROPIN } from './access.js';
import type { Plan } from './types.js';

/** The fixed set, plus whatever the given plan writes or removes. */
export function ownedPaths(plan?: Pick<Plan, 'files' | 'remove'>): Set<string> {
  return new Set([
    ...ownedNetworkPaths(), PATHS.hostname, PATHS.hosts,
    ...Object.values(PKI_PATHS), HAPROXY_CFG, DATAPLANEAPI_UNIT, DATAPLANEAPI_YAML, SSHD_DROPIN,
    ...(plan?.files.map((f) => f.path) ?? []), ...(plan?.remove ?? []),
  ]);
}
