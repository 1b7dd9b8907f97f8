/**
 * The PKI in /etc/haproxy: which CA to use (the properties', the one generated earlier, or a new
 * one) and whether the server certificate must be issued again; then the files for given key
 * material. Pure. Making new material (OpenSSL) is `materializePki`, run before planning.
 */
import type { ApplianceConfig } from '../config/types.js';
import type { DesiredFile } from '../plan/types.js';
import { caProblem, serverCertProblem, serverSans } from './inspect.js';
import { generateCa, issueServerCert, type KeyPair, type PkiWorkspace } from './generate.js';

export const PKI_PATHS = {
  caCert: '/etc/haproxy/ca.crt',
  caKey: '/etc/haproxy/ca.key',
  serverCert: '/etc/haproxy/server.crt',
  serverKey: '/etc/haproxy/server.key',
  /** Debian's place for local CAs; `update-ca-certificates` adds it to the system trust store. */
  trustStore: '/usr/local/share/ca-certificates/haproxy-appliance-ca.crt',
} as const;

export interface PkiFacts {
  caCert?: string;
  caKey?: string;
  serverCert?: string;
  serverKey?: string;
  now: Date;
}

export interface PkiDecision {
  ca: { source: 'properties' | 'existing' | 'generate'; reason?: string };
  server: { issue: boolean; reason?: string };
}

export function decidePki(config: ApplianceConfig, facts: PkiFacts): PkiDecision {
  let ca: PkiDecision['ca'];
  let caCert: string | undefined;
  if (config.appliance.caCert) {
    ca = { source: 'properties' };
    caCert = config.appliance.caCert;
  } else {
    const problem = caProblem(facts.caCert, facts.caKey, facts.now);
    ca = problem ? { source: 'generate', reason: problem } : { source: 'existing' };
    caCert = problem ? undefined : facts.caCert;
  }
  const problem = caCert
    ? serverCertProblem(facts.serverCert, facts.serverKey, caCert, serverSans(config), facts.now)
    : 'a new CA is being made';
  return { ca, server: problem ? { issue: true, reason: problem } : { issue: false } };
}

export interface PkiMaterial {
  ca: KeyPair;
  server: KeyPair;
}

/** Makes whatever the decision says is missing (OpenSSL, in the private work folder `ws`; nothing else is written). */
export async function materializePki(config: ApplianceConfig, facts: PkiFacts, decision: PkiDecision, ws: PkiWorkspace): Promise<PkiMaterial> {
  const ca: KeyPair =
    decision.ca.source === 'properties' ? { cert: config.appliance.caCert!, key: config.appliance.caKey! }
    : decision.ca.source === 'existing' ? { cert: facts.caCert!, key: facts.caKey! }
    : await generateCa(config.network.hostname, ws);
  const commonName = config.network.management.address?.address ?? config.network.hostname;
  const server = decision.server.issue
    ? await issueServerCert(ca, commonName, serverSans(config), ws)
    : { cert: facts.serverCert!, key: facts.serverKey! };
  return { ca, server };
}

export function planPkiFiles(material: PkiMaterial): DesiredFile[] {
  // A new server certificate reaches the API only by a restart; haproxy itself does not use it.
  // The keys are secret by the registry in src/plan/secrets.ts.
  return [
    { path: PKI_PATHS.caCert, content: material.ca.cert, mode: 0o644, affects: ['dataplaneapi', 'ca-certificates'] },
    { path: PKI_PATHS.caKey, content: material.ca.key, mode: 0o600, affects: [] },
    { path: PKI_PATHS.serverCert, content: material.server.cert, mode: 0o644, affects: ['dataplaneapi'] },
    { path: PKI_PATHS.serverKey, content: material.server.key, mode: 0o600, affects: ['dataplaneapi'] },
    { path: PKI_PATHS.trustStore, content: material.ca.cert, mode: 0o644, affects: ['ca-certificates'] },
  ];
}
