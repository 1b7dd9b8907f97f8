/**
 * The PKI in /etc/haproxy: which CA to use (the properties', the one generated earlier, or a new
 * one) and whether the server certificate must be issued again; then the files for given key
 * material. Pure. Making new material (OpenSSL) is `materializePki`, run before planning; when it
 * fails, planning gets no material and leaves every PKI file as it is (`keptPki` says what of it
 * stays in use).
 */
import type { ApplianceConfig } from '../config/types.js';
import type { DesiredFile } from './types.js';
import { caProblem, serverCertProblem, serverSans, signedBy } from './certificates.js';
import { ApplyError, InputError } from '../errors.js';
import { PKI_PATHS } from '../appliance/paths.js';
import { OpensslFailed, generateCa, issueServerCert, type KeyPair, type PkiWorkspace } from '../facts/keys.js';

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

/** Which making of key material failed. */
export type PkiStep = 'ca' | 'server';

const STEP_WORDS: Record<PkiStep, string> = {
  ca: 'generating the appliance CA (appliance.ca_cert is blank)',
  server: 'issuing the Data Plane API\'s server.crt',
};

/**
 * Key material could not be made (OpenSSL failed, timed out, or is missing; or its work folder
 * could not be used). Not bad input: an ApplyError (exit 1), carried to the end of the run while
 * everything that does not need the keys is applied.
 */
export class KeyMaterialFailed extends ApplyError {
  readonly step: PkiStep;
  /** OpenSSL's reason (its last line, "timed out after N s", ...). */
  readonly reason: string;
  readonly timedOut: boolean;
  constructor(step: PkiStep, reason: string, timedOut: boolean, cause: unknown) {
    super(`${STEP_WORDS[step]} failed: ${reason}`, { cause });
    this.name = 'KeyMaterialFailed';
    this.step = step;
    this.reason = reason;
    this.timedOut = timedOut;
  }
}

/** Runs one making step; its failure (other than a refused path: bad input) becomes a KeyMaterialFailed. */
async function making<T>(step: PkiStep, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new KeyMaterialFailed(step, (err as Error).message, err instanceof OpensslFailed && err.timedOut, err);
  }
}

/**
 * Makes whatever the decision says is missing (OpenSSL, in the private work folder `ws`; nothing
 * else is written). Rejects with {@link KeyMaterialFailed} naming the step that failed; then no
 * material at all is returned, so no PKI file is planned (none is half replaced).
 */
export async function materializePki(config: ApplianceConfig, facts: PkiFacts, decision: PkiDecision, ws: PkiWorkspace): Promise<PkiMaterial> {
  const ca: KeyPair =
    decision.ca.source === 'properties' ? { cert: config.appliance.caCert!, key: config.appliance.caKey! }
    : decision.ca.source === 'existing' ? { cert: facts.caCert!, key: facts.caKey! }
    : await making('ca', () => generateCa(config.network.hostname, ws));
  const commonName = config.network.management.address?.address ?? config.network.hostname;
  const server = decision.server.issue
    ? await making('server', () => issueServerCert(ca, commonName, serverSans(config), ws))
    : { cert: facts.serverCert!, key: facts.serverKey! };
  return { ca, server };
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

export interface KeptPki {
  /** The CA certificate on disk, kept as it is and in use: published. */
  caCert?: string;
  /** server.crt and server.key are both there (the Data Plane API can start with them). */
  serverKeyPair: boolean;
}

export function planPkiFiles(material: PkiMaterial): DesiredFile[] {
  // A new server certificate reaches the API only by a restart; haproxy itself does not use it.
  // The keys are secret by the registry in src/appliance/paths.ts.
  return [
    { path: PKI_PATHS.caCert, content: material.ca.cert, mode: 0o644, affects: ['dataplaneapi', 'ca-certificates'] },
    { path: PKI_PATHS.caKey, content: material.ca.key, mode: 0o600, affects: [] },
    { path: PKI_PATHS.serverCert, content: material.server.cert, mode: 0o644, affects: ['dataplaneapi'] },
    { path: PKI_PATHS.serverKey, content: material.server.key, mode: 0o600, affects: ['dataplaneapi'] },
    { path: PKI_PATHS.trustStore, content: material.ca.cert, mode: 0o644, affects: ['ca-certificates'] },
  ];
}
