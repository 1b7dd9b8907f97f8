/**
 * Certificates: the script's `certs` section (`file PATH` then that file's certificate blocks,
 * or `unreadable`) and node's X509Certificate for dates, SANs and chaining. Pure.
 */
import { X509Certificate } from 'node:crypto';
import type { CertInfo } from '../types.js';
import { sanList } from '../../plan/certificates.js';

export function certInfo(pem: string, source: string): CertInfo | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  return {
    source,
    pem: cert.toString(),
    subject: cert.subject.replace(/\n/gu, ', '),
    issuer: cert.issuer.replace(/\n/gu, ', '),
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
    sans: sanList(cert),
    ca: cert.ca,
    fingerprint256: cert.fingerprint256,
  };
}

const BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/gu;

/** The `certs` section → certificates (the first of each file) and the files that were unreadable. */
export function parseCertSection(text: string): { certs: CertInfo[]; missing: string[] } {
  const certs: CertInfo[] = [];
  const missing: string[] = [];
  const parts = text.split(/^file /mu).slice(1);
  const seen = new Set<string>();
  for (const part of parts) {
    const nl = part.indexOf('\n');
    const file = (nl < 0 ? part : part.slice(0, nl)).trim();
    const body = nl < 0 ? '' : part.slice(nl + 1);
    if (seen.has(file)) continue;
    seen.add(file);
    const blocks = body.match(BLOCK) ?? [];
    if (blocks.length === 0) {
      missing.push(file);
      continue;
    }
    const info = certInfo(blocks[0]!, file);
    if (info) certs.push(info);
    else missing.push(file);
  }
  return { certs, missing };
}

/** Whether `leaf` was issued and signed by `ca`. */
export function chainsTo(leafPem: string, caPem: string): boolean {
  try {
    const leaf = new X509Certificate(leafPem);
    const ca = new X509Certificate(caPem);
    return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
  } catch {
    return false;
  }
}
