/**
 * Makes key material with the real OpenSSL CLI: a CA when the properties give none, and the Data
 * Plane API's server certificate signed by it. Private keys go through files, never through argv
 * or a log, and those files live in a private 0700 work folder on the target file system
 * (`/var/lib/haproxy-appliance/pki-work`, under --root in a sandbox), never in the build host's
 * /tmp: each generation has its own subfolder, removed afterwards; one left by a killed run is
 * removed by the next run. The folders a run had to create for it are removed again once the keys
 * are made (so a dry run, or a run refused later, leaves the tree as it was). Returns PEM
 * text: writing it into place is the apply stage's job.
 */
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ApplyError } from '../errors.js';
import { failureDetail, run } from '../util/run.js';
import { crashPoint } from '../util/crash.js';
import type { KeyPair } from './types.js';
import { CERT_BACKDATE_S } from '../plan/certificates.js';

/** Where keys are made: the host path of the work folder, and what this run had to create. */
export interface PkiWorkspace {
  /** Host path of the work folder (confined under the root by the caller). */
  dir: string;
  /** The first folder this run created on the way to `dir` (removed again by `releaseWorkspace`). */
  created?: string;
}

const OWN = /^(\d+)-[A-Za-z0-9]{6}$/u;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what killed runs left in the work folder (subfolders of processes that are gone);
 * returns their names. Never follows a link: a link is removed itself.
 */
export async function cleanPkiLeftovers(ws: PkiWorkspace): Promise<string[]> {
  const names = await readdir(ws.dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [] as string[];
    throw err;
  });
  const removed: string[] = [];
  for (const name of names) {
    const m = OWN.exec(name);
    if (m && Number(m[1]) !== process.pid && alive(Number(m[1]))) continue; // another run at work
    await rm(join(ws.dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** Removes the folders this run created for its work folder (only while they are empty). */
export async function releaseWorkspace(ws: PkiWorkspace): Promise<void> {
  if (!ws.created) return;
  for (let d = ws.dir; ; d = dirname(d)) {
    const gone = await rmdir(d).then(
      () => true,
      () => false,
    );
    if (!gone || d === ws.created || d === dirname(d)) break;
  }
  delete ws.created;
}

async function withPrivateDir<T>(ws: PkiWorkspace, fn: (dir: string) => Promise<T>): Promise<T> {
  // Parents as any folder of the tree (0755), the work folder itself root only.
  const first = await mkdir(dirname(ws.dir), { recursive: true, mode: 0o755 });
  const made = await mkdir(ws.dir, { mode: 0o700 }).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
      return false;
    },
  );
  if (!ws.created && (first ?? (made ? ws.dir : undefined))) ws.created = first ?? ws.dir;
  const st = await lstat(ws.dir);
  if (!st.isDirectory()) throw new ApplyError(`${ws.dir} must be a directory for making keys`);
  await chmod(ws.dir, 0o700);
  const dir = await mkdtemp(join(ws.dir, `${process.pid}-`)); // mkdtemp creates it 0700
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An OpenSSL command that did not succeed: its reason, and whether its timeout fired. */
export class OpensslFailed extends ApplyError {
  readonly timedOut: boolean;
  constructor(message: string, timedOut: boolean) {
    super(message);
    this.name = 'OpensslFailed';
    this.timedOut = timedOut;
  }
}

async function openssl(args: string[], cwd?: string): Promise<void> {
  const r = await run(['openssl', ...args], cwd === undefined ? {} : { cwd });
  if (r.notFound) throw new OpensslFailed("openssl is not installed; it is needed to make the appliance's certificates", false);
  // failureDetail says "timed out after N s" when the timeout fired (src/util/run.ts).
  if (r.exitCode !== 0 || r.timedOut) throw new OpensslFailed(`openssl ${args[0]} failed: ${failureDetail(r)}`, r.timedOut);
}

/**
 * The key type of every key the appliance makes: ECDSA on the NIST P-256 curve (with SHA-256
 * signatures). It gives the security of RSA 3072 (128 bits, NIST SP 800-57) and OpenSSL makes one
 * in about a millisecond, where an RSA key is a random prime search that took seconds at first
 * boot in a slow VM, on the boot's critical path. Its clients take it: the Data Plane API's TLS
 * server (Go) prefers ECDSA suites and only offers the P-256 curve, the Supervisor (Go's
 * crypto/tls and crypto/x509) and curl verify it. Keys that exist already (an RSA CA from an
 * older version or from the properties) are kept: the CA signs with whatever key it has.
 */
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

/** OpenSSL's time form for `openssl ca -startdate/-enddate` (YYYYMMDDHHMMSSZ; OpenSSL writes UTCTime before 2050). */
function opensslTime(t: Date): string {
  return `${t.toISOString().replace(/[-:T]/gu, '').slice(0, 14)}Z`;
}

/**
 * `openssl ca` signs with a start date of its own (`-startdate`: `x509 -req` and `req -x509` take
 * none before OpenSSL 3.4, and bookworm has 3.0): its minimal configuration, a database of its
 * own in the private folder (relative paths: OpenSSL runs there, so no path of the tree, which
 * may hold a `$`, is read by its configuration parser), random serials, the subject kept as the
 * request has it.
 */
const CA_CONFIG = [
  '[ca]',
  'default_ca = appliance',
  '[appliance]',
  'database = index.txt',
  'new_certs_dir = .',
  'serial = serial',
  'rand_serial = yes',
  'default_md = sha256',
  'unique_subject = no',
  'policy = policy_any',
  '[policy_any]',
  'organizationName = optional',
  'commonName = supplied',
  '',
].join('\n');

/**
 * Signs the request `csr` (in `dir`) with `openssl ca`, valid from `now` minus the backdate
 * (CERT_BACKDATE_S) for `days` days from `now`: `-selfsign` for the CA itself, else with `ca.crt`
 * and `ca.key` in `dir`.
 */
async function sign(dir: string, csr: string, ext: string, out: string, now: Date, days: number, selfsignKey?: string): Promise<void> {
  const p = (n: string) => join(dir, n);
  await writeFile(p('ca.cnf'), CA_CONFIG);
  await writeFile(p('index.txt'), '');
  await openssl(
    [
      'ca',
      '-batch',
      '-notext',
      '-preserveDN',
      '-config',
      p('ca.cnf'),
      ...(selfsignKey ? ['-selfsign', '-keyfile', selfsignKey] : ['-cert', p('ca.crt'), '-keyfile', p('ca.key')]),
      '-startdate',
      opensslTime(new Date(now.getTime() - CERT_BACKDATE_S * 1000)),
      '-enddate',
      opensslTime(new Date(now.getTime() + days * 86_400_000)),
      '-in',
      csr,
      '-extfile',
      ext,
      '-out',
      out,
      '-outdir',
      dir,
    ],
    dir,
  ); // the configuration's relative paths (its database) are in the private folder
}

/**
 * A self-signed CA for the appliance, valid ten years from `now`, and from CERT_BACKDATE_S
 * before it (a skewed clock: docs/operations.md "Certificates and the clock").
 */
export async function generateCa(hostname: string, ws: PkiWorkspace, now: Date = new Date()): Promise<KeyPair> {
  return withPrivateDir(ws, async (dir) => {
    const key = join(dir, 'ca.key');
    const cert = join(dir, 'ca.crt');
    await writeFile(
      join(dir, 'ca-ext.cnf'),
      ['basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign', 'subjectKeyIdentifier=hash', ''].join('\n'),
    );
    await openssl([
      'req',
      '-new',
      ...NEW_KEY,
      '-nodes',
      '-sha256',
      '-keyout',
      key,
      '-out',
      join(dir, 'ca.csr'),
      '-subj',
      `/O=haproxy-appliance/CN=${hostname} CA`,
    ]);
    crashPoint('pki-ca-key');
    await sign(dir, join(dir, 'ca.csr'), join(dir, 'ca-ext.cnf'), cert, now, 3650, key);
    return { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
  });
}

/** The server certificate (two years from `now`, and from CERT_BACKDATE_S before it) for the given SANs, signed by the CA. */
export async function issueServerCert(
  ca: KeyPair,
  commonName: string,
  sans: { ips: string[]; dns: string[] },
  ws: PkiWorkspace,
  now: Date = new Date(),
): Promise<KeyPair> {
  return withPrivateDir(ws, async (dir) => {
    const p = (n: string) => join(dir, n);
    await writeFile(p('ca.crt'), ca.cert);
    await writeFile(p('ca.key'), ca.key, { mode: 0o600 });
    const san = [...sans.ips.map((i) => `IP:${i}`), ...sans.dns.map((d) => `DNS:${d}`)].join(',');
    await writeFile(
      p('ext.cnf'),
      [
        'basicConstraints=critical,CA:FALSE',
        // An ECDSA key signs the handshake; it never encrypts a key (that was RSA key transport).
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${san}`,
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
        '',
      ].join('\n'),
    );
    await openssl([
      'req',
      '-new',
      ...NEW_KEY,
      '-nodes',
      '-sha256',
      '-keyout',
      p('server.key'),
      '-out',
      p('server.csr'),
      '-subj',
      `/O=haproxy-appliance/CN=${commonName}`,
    ]);
    crashPoint('pki-server-key');
    await sign(dir, p('server.csr'), p('ext.cnf'), p('server.crt'), now, 730);
    return { cert: await readFile(p('server.crt'), 'utf8'), key: await readFile(p('server.key'), 'utf8') };
  });
}
