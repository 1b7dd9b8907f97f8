/**
 * The PKI before planning: which key material the run needs (src/plan/pki.ts decides, purely), and
 * making what is missing with OpenSSL (src/facts/keys.ts) in the private work folder of the target
 * file system. When making fails (or times out) the run goes on without new material: planning then
 * leaves every PKI file as it is, `keptPki` says what of it stays in use, and the failure is
 * reported at the end of the run (exit 1).
 */
import type { ApplianceConfig } from '../config/types.js';
import { ApplyError, InputError } from '../errors.js';
import { PKI_WORK_DIR } from '../appliance/paths.js';
import { confinedPath } from '../util/root.js';
import { CERT_BACKDATE_S, serverSans } from '../plan/certificates.js';
import { decidePki, keptPki, type PkiDecision } from '../plan/pki.js';
import { OpensslFailed, cleanPkiLeftovers, generateCa, issueServerCert, releaseWorkspace, type PkiWorkspace } from './keys.js';
import type { KeptPki, KeyPair, PkiFacts, PkiMaterial } from './types.js';

/** Which making of key material failed. */
export type PkiStep = 'ca' | 'server';

const STEP_WORDS: Record<PkiStep, string> = {
  ca: 'generating the appliance CA (appliance.ca_cert is blank)',
  server: "issuing the Data Plane API's server.crt",
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
    decision.ca.source === 'properties'
      ? { cert: config.appliance.caCert!, key: config.appliance.caKey! }
      : decision.ca.source === 'existing'
        ? { cert: facts.caCert!, key: facts.caKey! }
        : await making('ca', () => generateCa(config.network.hostname, ws, facts.now));
  const commonName = config.network.management.address?.address ?? config.network.hostname;
  const server = decision.server.issue
    ? await making('server', () => issueServerCert(ca, commonName, serverSans(config), ws, facts.now))
    : { cert: facts.serverCert!, key: facts.serverKey! };
  return { ca, server };
}

/** Plain words for what happens to the certificates (notes for the admin, not warnings). */
export function pkiNotes(d: PkiDecision): string[] {
  const notes: string[] = [];
  if (d.ca.source === 'generate') notes.push(`appliance.ca_cert: blank, so a CA is generated (${d.ca.reason})`);
  if (d.server.issue) notes.push(`server.crt is issued (${d.server.reason})`);
  if (d.ca.source === 'generate' || d.server.issue)
    notes.push(
      `the certificates made now are valid from ${CERT_BACKDATE_S / 3600} h before this clock (notBefore backdated), so a client whose clock is behind this one's accepts them`,
    );
  return notes;
}

/** The PKI as planning gets it: new or kept material, or what stays in use after a failure. */
export interface PkiOutcome {
  /** The key pairs to install; absent when making them failed. */
  material?: PkiMaterial;
  /** Without `material`: what of the PKI on disk stays in use. */
  kept?: KeptPki;
  /**
   * Key material the decision needed could not be made: `material` is then absent (the PKI files
   * are left as they are) and the run reports this at its end (exit 1), after applying the rest.
   */
  failure?: KeyMaterialFailed;
  /** What was made and why (empty when nothing was, or when making failed). */
  notes: string[];
}

/**
 * Decides which key material the run needs and makes what is missing, on the target file system
 * under `root` (its work folder; a killed run's leftovers there are removed first, and folders
 * made only for this are removed again, so a refused or dry run leaves the tree as it was).
 */
export async function preparePki(
  config: ApplianceConfig,
  root: string,
  onDisk: PkiFacts,
  options: { beforeMaking?: (decision: PkiDecision) => Promise<void> } = {},
): Promise<PkiOutcome> {
  const decision = decidePki(config, onDisk);
  // The clock, before anything is made (src/facts/time-sync.ts: only where NTP is set).
  await options.beforeMaking?.(decision);
  const ws: PkiWorkspace = { dir: await confinedPath(root, PKI_WORK_DIR) };
  await cleanPkiLeftovers(ws);
  try {
    return { material: await materializePki(config, onDisk, decision, ws), notes: pkiNotes(decision) };
  } catch (err) {
    // Not fatal here: the run plans and applies everything that does not need the new keys (the
    // root password, sshd, the network, haproxy), leaves the PKI files as they are, and fails at
    // the end naming this. The next run finds the keys still missing and tries again.
    if (!(err instanceof KeyMaterialFailed)) throw err;
    return { kept: keptPki(onDisk, decision), failure: err, notes: [] };
  } finally {
    await releaseWorkspace(ws);
  }
}
