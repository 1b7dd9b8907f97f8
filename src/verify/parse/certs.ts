/**
 * Certificates: the script's `certs` section (`file PATH` then that file's certificate blocks,
 * or `unreadable`) and node's X509Certificate for dates, SANs and chaining. Pure (parsed
 * certificates and chaining results are kept, a bounded number, by their PEM text: one host's
 * certificates are looked at by several checks, and a fleet's appliances share one CA).
 */
import { X509Certificate } from 'node:crypto';
import type { CertInfo } from '../types.js';
import { sanList } from '../../plan/certificates.js';

/** How many parsed certificates and chaining results are kept (a fleet of this many hosts shares them). */
const KEEP = 512;
const parsed = new Map<string, X509Certificate | undefined>();
const chained = new Map<string, boolean>();

/** Longer texts are not kept (a certificate is 1-2 kB; a hostile appliance may send megabytes). */
const KEEP_CHARS = 64 * 1024;

function remember<V>(map: Map<string, V>, key: string, make: () => V): V {
  if (key.length > KEEP_CHARS) return make();
  if (map.has(key)) return map.get(key)!;
  const v = make();
  // Oldest first out: a Map iterates in insertion order.
  if (map.size >= KEEP) map.delete(map.keys().next().value!);
  map.set(key, v);
  return v;
}

/** node's X509Certificate of `pem`, parsed once; undefined when it is not a certificate. */
function x509(pem: string): X509Certificate | undefined {
  return remember(parsed, pem, () => {
    try {
      return new X509Certificate(pem);
    } catch {
      return undefined;
    }
  });
}

export function certInfo(pem: string, source: string): CertInfo | undefined {
  const cert = x509(pem);
  if (!cert) return undefined;
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
  return remember(chained, `${leafPem}\0${caPem}`, () => {
    const leaf = x509(leafPem);
    const ca = x509(caPem);
    if (!leaf || !ca) return false;
    try {
      return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
}
