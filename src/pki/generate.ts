/**
 * Makes key material with the real OpenSSL CLI: a CA when the properties give none, and the Data
 * Plane API's server certificate signed by it. Works in a private 0700 temporary folder that is
 * removed afterwards; private keys go through files there, never through argv or a log. Returns
 * PEM text: writing it into place is the apply stage's job.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplyError } from '../errors.js';
import { failureDetail, run } from '../util/run.js';

export interface KeyPair { cert: string; key: string }

async function withPrivateDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'hpa-pki-')); // mkdtemp creates it 0700
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function openssl(args: string[]): Promise<void> {
  const r = await run(['openssl', ...args]);
  if (r.notFound) throw new ApplyError('openssl is not installed; it is needed to make the appliance\'s certificates');
  if (r.exitCode !== 0) throw new ApplyError(`openssl ${args[0]} failed: ${failureDetail(r)}`);
}

/** A self-signed CA for the appliance, valid ten years. */
export async function generateCa(hostname: string): Promise<KeyPair> {
  return withPrivateDir(async (dir) => {
    const key = join(dir, 'ca.key');
    const cert = join(dir, 'ca.crt');
    await openssl(['req', '-x509', '-newkey', 'rsa:3072', '-nodes', '-sha256', '-days', '3650',
      '-keyout', key, '-out', cert, '-subj', `/O=haproxy-appliance/CN=${hostname} CA`,
      '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-addext', 'subjectKeyIdentifier=hash']);
    return { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
  });
}

/** The server certificate (two years) for the given SANs, signed by the CA. */
export async function issueServerCert(ca: KeyPair, commonName: string, sans: { ips: string[]; dns: string[] }): Promise<KeyPair> {
  return withPrivateDir(async (dir) => {
    const p = (n: string) => join(dir, n);
    await writeFile(p('ca.crt'), ca.cert);
    await writeFile(p('ca.key'), ca.key, { mode: 0o600 });
    const san = [...sans.ips.map((i) => `IP:${i}`), ...sans.dns.map((d) => `DNS:${d}`)].join(',');
    await writeFile(p('ext.cnf'), [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${san}`,
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      '',
    ].join('\n'));
    await openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', `/O=haproxy-appliance/CN=${commonName}`]);
    await openssl(['x509', '-req', '-sha256', '-days', '730', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'),
      '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-extfile', p('ext.cnf'), '-out', p('server.crt')]);
    return { cert: await readFile(p('server.crt'), 'utf8'), key: await readFile(p('server.key'), 'utf8') };
  });
}
