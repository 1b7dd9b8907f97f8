/**
 * Benchmark: what backdating the certificates costs at first boot (issue 13 §5). The agent made
 * the CA with one `openssl req -x509` and the server certificate with `req -new` + `x509 -req`;
 * to set a start date on OpenSSL 3.0 it now signs both with `openssl ca -startdate` (a request
 * first for the CA: one process more). Side by side, interleaved, N times each:
 *
 *   - before: the commands of src/facts/keys.ts before the change;
 *   - after: the agent's own generateCa + issueServerCert (src/facts/keys.ts, through
 *     src/util/run.ts as the agent runs them), which backdate by CERT_BACKDATE_S.
 *
 * "before" runs the same way (execa through src/util/run.ts) so that only the commands differ.
 *
 *   node --import tsx bench/pki.bench.ts [--runs N] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateCa, issueServerCert } from '../src/facts/keys.js';
import { run } from '../src/util/run.js';
import { median, p90 } from './common.js';

const args = process.argv.slice(2);
const i = args.indexOf('--runs');
const runs = i >= 0 && Number(args[i + 1]) > 0 ? Number(args[i + 1]) : 15;
const json = args.includes('--json');
const SANS = { ips: ['10.191.181.52', '192.168.1.2', '172.16.10.2', '127.0.0.1'], dns: ['localhost', 'haproxy.local', 'haproxy'] };
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

async function openssl(argv: string[]): Promise<void> {
  const r = await run(['openssl', ...argv]);
  if (r.exitCode !== 0) throw new Error(`openssl ${argv[0]}: ${r.stderr}`);
}

/** The commands before the change (req -x509; req -new + x509 -req), in a private folder. */
async function before(base: string): Promise<void> {
  const d = await mkdtemp(join(base, 'b-'));
  const p = (n: string) => join(d, n);
  await openssl([
    'req',
    '-x509',
    ...NEW_KEY,
    '-nodes',
    '-sha256',
    '-days',
    '3650',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-subj',
    '/O=haproxy-appliance/CN=haproxy.local CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-addext',
    'subjectKeyIdentifier=hash',
  ]);
  const san = [...SANS.ips.map((x) => `IP:${x}`), ...SANS.dns.map((x) => `DNS:${x}`)].join(',');
  await writeFile(
    p('ext.cnf'),
    [
      'basicConstraints=critical,CA:FALSE',
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
    '/O=haproxy-appliance/CN=10.191.181.52',
  ]);
  await openssl([
    'x509',
    '-req',
    '-sha256',
    '-days',
    '730',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-set_serial',
    '0x0123456789abcdef',
    '-extfile',
    p('ext.cnf'),
    '-out',
    p('server.crt'),
  ]);
  rmSync(d, { recursive: true, force: true });
}

/** The agent's code now. */
async function after(base: string): Promise<void> {
  const ws = { dir: join(base, 'work') };
  const ca = await generateCa('haproxy.local', ws);
  await issueServerCert(ca, '10.191.181.52', SANS, ws);
}

const base = mkdtempSync(join(tmpdir(), 'hpa-pki-bench-'));
try {
  const t: Record<'before' | 'after', number[]> = { before: [], after: [] };
  await before(base); // warm-up: page cache, execa loaded
  await after(base);
  for (let n = 0; n < runs; n++) {
    for (const [name, fn] of [
      ['before', before],
      ['after', after],
    ] as const) {
      const t0 = performance.now();
      await fn(base);
      t[name].push(performance.now() - t0);
    }
  }
  const row = (name: 'before' | 'after') => ({ median: median(t[name]), p90: p90(t[name]) });
  const out = { runs, before: row('before'), after: row('after'), ratio: median(t.after) / median(t.before) };
  if (json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  else {
    process.stdout.write(`CA + server certificate, ${runs} runs each, interleaved\n`);
    process.stdout.write(`  before (req -x509; req + x509 -req):      median ${out.before.median.toFixed(1)} ms, p90 ${out.before.p90.toFixed(1)} ms\n`);
    process.stdout.write(`  after  (req + ca -selfsign; req + ca):    median ${out.after.median.toFixed(1)} ms, p90 ${out.after.p90.toFixed(1)} ms\n`);
    process.stdout.write(`  after ÷ before: ${out.ratio.toFixed(2)}x\n`);
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
