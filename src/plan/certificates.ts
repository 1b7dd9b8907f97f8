/**
 * Decisions about the appliance's PKI, from the PEM text of what is on disk: whether the CA can be
 * kept, and whether the server certificate still fits the CA, the SANs and the calendar. Pure
 * (node's X509Certificate parses; nothing is read or written here).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { ApplianceConfig } from '../config/types.js';

/**
 * How far before the moment they are made the appliance's certificates (the generated CA and the
 * server certificate) start to be valid: 24 hours. A first boot makes them before any NTP server
 * can answer (the agent runs before the network is up), and a client whose clock is behind the
 * appliance's refuses a certificate that is "not yet valid" (Cluster API vSphere provider #875).
 * The largest skew seen in practice is a hardware clock kept in local time and read as UTC, up to
 * 14 hours (UTC+14); a day covers every time zone with room. Backdating grants nothing: the key
 * did not exist before, and the end of validity is counted from the real moment.
 */
export const CERT_BACKDATE_S = 24 * 3600;

/** Renew the server certificate when it expires within this many days. */
export const RENEW_DAYS = 30;
const DAY = 86_400_000;

/** The SANs the server certificate must carry: every appliance address, loopback, the host name. */
export function serverSans(config: ApplianceConfig): { ips: string[]; dns: string[] } {
  const nics = [config.network.management, config.network.workload, config.network.frontend];
  const ips = [...new Set([...nics.flatMap((n) => (n?.address ? [n.address.address] : [])), '127.0.0.1'])];
  const short = config.network.hostname.split('.')[0]!;
  const dns = [...new Set(['localhost', config.network.hostname, short])];
  return { ips, dns };
}

/** `IP Address:1.2.3.4, DNS:x` (node's subjectAltName) → sorted `IP:1.2.3.4`, `DNS:x`. */
export function sanList(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/u)
    .filter(Boolean)
    .map((s) => s.replace(/^IP Address:/u, 'IP:'))
    .sort();
}

export function wantedSanList(sans: { ips: string[]; dns: string[] }): string[] {
  return [...sans.ips.map((i) => `IP:${i}`), ...sans.dns.map((d) => `DNS:${d}`)].sort();
}

function tryCert(pem: string | undefined): X509Certificate | undefined {
  if (!pem) return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function keyMatches(cert: X509Certificate, keyPem: string | undefined): boolean {
  if (!keyPem) return false;
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** Whether the certificate `certPem` was issued by, and carries the signature of, the CA certificate `caPem`. */
export function signedBy(certPem: string | undefined, caPem: string | undefined): boolean {
  const cert = tryCert(certPem);
  const ca = tryCert(caPem);
  return cert !== undefined && ca !== undefined && ca.ca && cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/** A certificate made while the clock was further ahead than the backdate: clients would refuse it until then. */
function notYetValid(name: string, cert: X509Certificate): string {
  return `${name} is not valid before ${new Date(cert.validFrom).toISOString()} (the clock was ahead when it was made)`;
}

/** Why an existing generated CA cannot be kept, or undefined when it can. */
export function caProblem(certPem: string | undefined, keyPem: string | undefined, now: Date): string | undefined {
  const cert = tryCert(certPem);
  if (!cert) return certPem ? 'ca.crt is not a readable certificate' : 'there is no CA yet';
  if (!cert.ca) return 'ca.crt is not a CA certificate';
  if (!keyMatches(cert, keyPem)) return 'ca.key is missing or does not belong to ca.crt';
  if (new Date(cert.validFrom).getTime() > now.getTime()) return notYetValid('ca.crt', cert);
  if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_DAYS * DAY) return `the CA expires on ${new Date(cert.validTo).toISOString()}`;
  return undefined;
}

/** Why the server certificate must be (re)issued, or undefined when it still fits. */
export function serverCertProblem(
  certPem: string | undefined,
  keyPem: string | undefined,
  caPem: string,
  sans: { ips: string[]; dns: string[] },
  now: Date,
): string | undefined {
  const cert = tryCert(certPem);
  if (!cert) return certPem ? 'server.crt is not a readable certificate' : 'there is no server certificate yet';
  const ca = tryCert(caPem);
  if (!ca || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'server.crt was not signed by the current CA';
  if (!keyMatches(cert, keyPem)) return 'server.key is missing or does not belong to server.crt';
  if (new Date(cert.validFrom).getTime() > now.getTime()) return notYetValid('server.crt', cert);
  const have = sanList(cert).join(', ');
  const want = wantedSanList(sans).join(', ');
  if (have !== want) return `the SANs changed (have ${have || 'none'}; want ${want})`;
  if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_DAYS * DAY)
    return `server.crt expires on ${new Date(cert.validTo).toISOString()}, within ${RENEW_DAYS} days`;
  return undefined;
}
