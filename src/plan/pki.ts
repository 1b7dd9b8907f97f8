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

/** How long a run that makes certificates waits for NTP at most: short, a run must not hang on an unreachable server. */
export const TIME_SYNC_WAIT_S = 5;

/** How the run is made, for the decision to wait for the clock. */
export interface ClockContext {
  /** This machine (no --root). */
  live: boolean;
  /** systemd is PID 1. */
  systemd: boolean;
  /** The boot's run of the first-boot unit, before the network and systemd-timesyncd start. */
  boot: boolean;
}

/**
 * Whether the run waits (at most TIME_SYNC_WAIT_S) for systemd-timesyncd to synchronise the clock
 * before it makes certificates: only when it makes one, NTP servers are configured, and a
 * timesyncd can be running (this machine, under systemd, not the boot's run: at boot the agent
 * runs before the network and timesyncd, so there is nothing to wait for, and the backdate
 * covers the skew). Pure.
 */
export function timeSyncWait(config: ApplianceConfig, decision: PkiDecision, ctx: ClockContext): { wait: true } | { wait: false; why: string } {
  if (decision.ca.source !== 'generate' && !decision.server.issue) return { wait: false, why: 'no certificate is made' };
  if (config.network.ntpServers.length === 0) return { wait: false, why: 'network.ntp_servers is blank' };
  if (!ctx.live) return { wait: false, why: 'a --root sandbox has no clock of its own' };
  if (!ctx.systemd) return { wait: false, why: 'systemd is not running, so systemd-timesyncd is not either' };
  if (ctx.boot)
    return {
      wait: false,
      why: 'at boot the agent runs before the network and systemd-timesyncd start; the certificates are backdated instead',
    };
  return { wait: true };
}
