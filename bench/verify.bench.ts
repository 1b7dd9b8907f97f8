/**
 * Benchmark: one host's `haproxy-appliance verify` wall time against OpenSSH running the same
 * commands — `ssh root@HOST 'LC_ALL=C exec /bin/sh -s' < <the collection script>`, which is
 * exactly what verify sends. Target: ≤ 1.3x.
 *
 *   npx tsc -p . && node --import tsx bench/verify.bench.ts [--runs N] [--json]
 *
 * The appliance is the seed one from test/harness/verify-bed.ts (network namespaces; real
 * sshd, haproxy, systemd-networkd; the Data Plane API stand-in). Both commands run as fresh
 * processes in the gateway namespace (`ip netns exec`), with a clean environment (PATH, HOME),
 * key authentication and a known_hosts file, interleaved; figures are medians. verify also does
 * what ssh does not: the TLS handshake and the authenticated GET /v2/info of the Data Plane API
 * (timed with and without API credentials), parsing and checks. A third row gives the Node
 * start-up floor (`node -e 0`) for scale, and the JSON report of one run splits verify's own
 * time into connect / collect. Needs root.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { validateProperties } from '../src/config/validate.js';
import { collectionScript, newMarker } from '../src/verify/script.js';
import { SEED_MACS, SEED_PROPERTIES } from '../test/harness/ovf.js';
import { ROOT, World, makePki, SEED_SANS, sshKeygen } from '../test/harness/verify-bed.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? NaN) || 15;
const asJson = args.includes('--json');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))]!;

const config = validateProperties(SEED_PROPERTIES, { adapterCount: 3 }).config!;
const world = await World.create();
try {
  const pki = await makePki(join(world.dir, 'pki'), SEED_SANS);
  const hostKey = await sshKeygen(join(world.dir, 'host_key'));
  const client = await sshKeygen(join(world.dir, 'client_key'));
  const app = await world.addAppliance({ name: 'app', config, macs: SEED_MACS, network: 'networkd', pki, hostKey, authorizedKeys: [client.pub] });
  const kh = join(world.dir, 'known_hosts');
  await writeFile(kh, `${app.knownHostsLine()}\n`);
  const script = join(world.dir, 'collect.sh');
  await writeFile(script, collectionScript(newMarker()));
  const gw = world.bed.nsName('gw');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(world.dir, 'home'), HPA_API_PW: 'vmware' };

  const timed = async (argv: string[], input?: string): Promise<number> => {
    const t = performance.now();
    const r = await execa('ip', ['netns', 'exec', gw, ...argv], {
      env,
      extendEnv: false,
      reject: false,
      cwd: ROOT,
      ...(input ? { inputFile: input } : { stdin: 'ignore' as const }),
    });
    const ms = performance.now() - t;
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: exit ${r.exitCode}\n${String(r.stdout).slice(0, 2000)}\n${String(r.stderr)}`);
    return ms;
  };
  const verifyArgv = [process.execPath, join(ROOT, 'dist/bin.js'), 'verify', '10.191.181.52', '--identity', client.path, '--known-hosts', kh];
  const sshArgv = [
    'ssh',
    '-q',
    '-i',
    client.path,
    '-o',
    `UserKnownHostsFile=${kh}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-F',
    '/dev/null',
    'root@10.191.181.52',
    'LC_ALL=C exec /bin/sh -s',
  ];
  const rows: Record<string, number[]> = { ssh: [], verify: [], 'verify --api-password-env': [], 'node -e 0': [] };
  // Warm-up (page cache, sshd's first fork).
  await timed(sshArgv, script);
  await timed(verifyArgv);
  for (let i = 0; i < runs; i++) {
    rows.ssh!.push(await timed(sshArgv, script));
    rows.verify!.push(await timed(verifyArgv));
    rows['verify --api-password-env']!.push(await timed([...verifyArgv, '--api-password-env', 'HPA_API_PW']));
    rows['node -e 0']!.push(await timed([process.execPath, '-e', '0']));
  }
  const one = await execa('ip', ['netns', 'exec', gw, ...verifyArgv.slice(0), '--json', '--api-password-env', 'HPA_API_PW'], {
    env,
    extendEnv: false,
    reject: false,
    cwd: ROOT,
    stdin: 'ignore',
  });
  const timings = (JSON.parse(String(one.stdout)) as { hosts: { timings: Record<string, number> }[] }).hosts[0]!.timings;
  const base = median(rows.ssh!);
  const table = Object.entries(rows).map(([name, xs]) => ({ name, median: median(xs), p90: p90(xs), ratio: median(xs) / base }));
  if (asJson) {
    process.stdout.write(`${JSON.stringify({ runs, table, verifyTimings: timings }, null, 2)}\n`);
  } else {
    process.stdout.write(`one host, ${runs} interleaved runs, medians (ms)\n\n| command | median ms | p90 ms | x ssh |\n|---|---:|---:|---:|\n`);
    for (const r of table) process.stdout.write(`| ${r.name} | ${r.median.toFixed(1)} | ${r.p90.toFixed(1)} | ${r.ratio.toFixed(2)} |\n`);
    process.stdout.write(
      `\nverify's own split (one run with API credentials): connect ${timings.connectMs?.toFixed(1)} ms, collect ${timings.collectMs?.toFixed(1)} ms, total in process ${timings.totalMs?.toFixed(1)} ms\n`,
    );
    process.stdout.write(
      `target ≤ 1.3x ssh: ${table[1]!.ratio <= 1.3 ? 'met' : 'NOT met'} (verify ${table[1]!.ratio.toFixed(2)}x, with the API check ${table[2]!.ratio.toFixed(2)}x)\n`,
    );
  }
} finally {
  await world.cleanup();
}
