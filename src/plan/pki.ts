/**
 * The PKI in /etc/haproxy: which CA to use (the properties', the one generated earlier, or a new
 * one) and whether the server certificate must be issued again; what of the PKI on disk stays in
 * use when no new material could be made. Pure. Making new material (OpenSSL) is the facts stage's
 * (src/facts/pki.ts), run before planning; the files are src/render/pki.ts.
 */
import type { ApplianceConfig } from '../config/types.js';
import type { KeptPki, PkiFacts } from '../facts/types.js';
import { caProblem, serverCertProblem, serverSans, signedBy } from './certificates.js';

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
  const problem = caCert ? serverCertProblem(facts.serverCert, facts.serverKey, caCert, serverSans(config), facts.now) : 'a new CA is being made';
  return { ca, server: problem ? { issue: true, reason: problem } : { issue: false } };
}

/**
 * What of the PKI on disk stays in use when no new material could be made (the PKI files are left
 * exactly as they are): the CA to publish is the one on disk, when it is the valid CA kept from
 * earlier runs or the CA that signed the server.crt the API still serves (so never a CA that is
 * not there, nor one the properties give but that could not be installed); and whether the API's
 * certificate and key are there at all.
 */
export function keptPki(facts: PkiFacts, decision: PkiDecision): KeptPki {
  const publish = facts.caCert !== undefined && (decision.ca.source === 'existing' || signedBy(facts.serverCert, facts.caCert));
  return {
    ...(publish && { caCert: facts.caCert }),
    serverKeyPair: facts.serverCert !== undefined && facts.serverKey !== undefined,
  };
}
