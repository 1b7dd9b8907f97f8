/**
 * The Data Plane API from the workstation, as its real client (vCenter) reaches it: a TLS
 * handshake with <management ip>:<dataplane_port> to see the certificate it serves, then, given
 * credentials and only when that certificate chains to the appliance CA, an authenticated
 * GET /v2/info (/v3/info for 3.x). When the workstation cannot reach the management address
 * directly, both go through the SSH connection (a direct-tcpip channel).
 */
import { request } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { NodeSSH } from 'node-ssh';
import { certInfo, chainsTo } from './parse/certs.js';
import type { ApiProbe } from './types.js';

/** Network errors after which the probe goes through the SSH connection instead. */
const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EHOSTDOWN', 'EADDRNOTAVAIL']);

interface Target {
  address: string;
  port: number;
  timeoutMs: number;
  ssh?: NodeSSH;
}

function derToPem(der: Buffer): string {
  const b64 = der
    .toString('base64')
    .match(/.{1,64}/gu)!
    .join('\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** Opens a TLS socket, directly or through SSH; resolves once the handshake is done. */
async function openTls(t: Target, via: 'direct' | 'ssh', tlsOpts: { ca?: string; verify: boolean }): Promise<TLSSocket> {
  let stream: Duplex | undefined;
  if (via === 'ssh') {
    if (!t.ssh) throw Object.assign(new Error('no SSH connection'), { code: 'ENOSSH' });
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- ssh2 has no types here, so forwardOut's ClientChannel is an error type (any); the cast gives it one
    stream = (await t.ssh.forwardOut('127.0.0.1', 0, t.address, t.port)) as unknown as Duplex;
  }
  return new Promise<TLSSocket>((resolve, reject) => {
    const sock = tlsConnect({
      ...(stream ? { socket: stream } : { host: t.address, port: t.port }),
      rejectUnauthorized: tlsOpts.verify,
      // Only the appliance CA is ever trusted here; without a CA (phase 1 reads the certificate
      // and trusts nothing), an empty list, so node does not build its store of public root
      // certificates (100-150 ms of CPU) for a connection that never uses it.
      ca: tlsOpts.ca ? [tlsOpts.ca] : [],
      // An IP address: no SNI; the identity check matches IP SANs.
    });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(Object.assign(new Error(`no TLS handshake within ${Math.round(t.timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }));
    }, t.timeoutMs);
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (err: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    });
  });
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ECONNRESET') return 'connection reset (is it TLS? the Data Plane API must run with --scheme=https)';
  if (e.code === 'EPROTO' || /wrong version number|packet length too long/u.test(e.message))
    return `not TLS (${e.message.split('\n')[0]}): the Data Plane API must run with --scheme=https`;
  return e.code ? `${e.code}: ${e.message}` : e.message;
}

/** Phase 1: the certificate the API serves. */
export async function probeTls(t: Target): Promise<ApiProbe> {
  const base = { address: t.address, port: t.port };
  let via: 'direct' | 'ssh' = 'direct';
  let sock: TLSSocket;
  try {
    sock = await openTls(t, via, { verify: false });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!t.ssh || !code || !UNREACHABLE.has(code)) return { ...base, via, error: describe(err) };
    via = 'ssh';
    try {
      sock = await openTls(t, via, { verify: false });
    } catch (err2) {
      const m = (err2 as Error).message;
      return { ...base, via, error: /open failed|Connection refused/iu.test(m) ? 'connection refused (through SSH)' : describe(err2) };
    }
  }
  const peer = sock.getPeerCertificate(false);
  sock.destroy();
  const info = peer?.raw ? certInfo(derToPem(peer.raw), `served by ${t.address}:${t.port}`) : undefined;
  return { ...base, via, ...(info && { peer: info }) };
}

/**
 * Phase 2: GET /v2/info (then /v3/info) with Basic auth, over a connection that only completes
 * when the server's certificate chains to `caPem` and names the address. Adds `info` to `probe`.
 */
export async function probeApiInfo(probe: ApiProbe, t: Target, caPem: string, user: string, password: string): Promise<ApiProbe> {
  if (probe.error || !probe.peer || !chainsTo(probe.peer.pem, caPem)) return probe;
  const auth = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const sock = await openTls(t, probe.via, { ca: caPem, verify: true });
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: t.address,
          port: t.port,
          path,
          method: 'GET',
          headers: { Authorization: auth, Accept: 'application/json', Host: `${t.address}:${t.port}`, Connection: 'close' },
          createConnection: () => sock,
          timeout: t.timeoutMs,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            if (body.length < 65536) body += d;
          });
          res.on('end', () => {
            sock.destroy();
            resolve({ status: res.statusCode ?? 0, body });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round(t.timeoutMs / 1000)} s`)));
      req.on('error', (err) => {
        sock.destroy();
        reject(err);
      });
      req.end();
    });
  };
  let path = '/v2/info';
  try {
    let res = await get(path);
    if (res.status === 404) {
      path = '/v3/info';
      res = await get(path);
    }
    let version: string | undefined;
    if (res.status === 200) {
      try {
        const v = (JSON.parse(res.body) as { api?: { version?: unknown } }).api?.version;
        if (typeof v === 'string') version = v;
      } catch {
        /* not JSON: reported without a version */
      }
    }
    return { ...probe, info: { path, status: res.status, ...(version && { version }) } };
  } catch (err) {
    return { ...probe, info: { path, status: 0, error: describe(err) } };
  }
}
