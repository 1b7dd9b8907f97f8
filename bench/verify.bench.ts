/**
 * Benchmark: one host's `haproxy-appliance verify`, as an admin installs it, against OpenSSH
 * running the same commands — `ssh root@HOST 'LC_ALL=C exec /bin/sh -s' < <the collection
 * script>`, which is exactly what verify sends. Target: ≤ 1.2x.
 *
 *   npm run build && node --import tsx bench/verify.bench.ts [--runs N] [--json]
 *
 * As installed: the project is packed (`npm pack`, the files package.json ships) and the tarball
 * installed into a temporary prefix with its production dependencies only (`npm install -g
 * --prefix DIR --omit=dev --ignore-scripts`: ssh2's optional native binding is not built, as in
 * the development tree), and the timed command is that prefix's `bin/haproxy-appliance`. Its
 * first run (the warm-up) writes V8's code cache beside the build (scripts/start.cjs). For
 * comparison, the same install's compiled tree (`node …/dist/bin.js verify`, the ESM files and
 * node_modules' node-ssh/ssh2: what `bin` was before).
 *
 * The appliance is the seed one from test/harness/verify-bed.ts (network namespaces; real
 * sshd, haproxy, systemd-networkd; the Data Plane API stand-in). Every command runs as a fresh
 * process in the gateway namespace (`ip netns exec`), with a clean environment (PATH, HOME),
 * key authentication and a known_hosts file, interleaved; figures are medians and p90s of the
 * wall time, and medians of the CPU time (user + system, from wait4's rusage through
 * /usr/bin/time: the figure the machine's other load disturbs least). verify also does what
 * ssh does not: the TLS handshake and the authenticated GET /v2/info of the Data Plane API
 * (timed with and without API credentials), parsing and checks. The Node start-up floor
 * (`node -e 0`) is a row for scale, and the JSON report of one run splits verify's own time into
 * connect / collect. Needs root.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { validateProperties } from '../src/config/validate.js';
import { collectionScript, newMarker } from '../src/verify/script.js';
import { SEED_MACS, SEED_PROPERTIES } from '../test/harness/ovf.js';
import { ROOT, World, makePki, SEED_SANS, sshKeygen } from '../test/harness/verify-bed.js';
import { median, opensshCollect, p90 } from './common.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? NaN) || 15;
const asJson = args.includes('--json');

/** Packs the project and installs the tarball into `prefix` as `npm install -g` does; returns the installed bin. */
async function install(dir: string): Promise<{ bin: string; pkg: string; tarball: string; installMs: number }> {
  const t = performance.now();
  await mkdir(join(dir, 'pack'), { recursive: true });
  // --ignore-scripts: `prepare` would rebuild; the bench measures the build that is there (npm run build first).
  await execa('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', join(dir, 'pack')], { cwd: ROOT });
  const tarball = join(
    dir,
    'pack',
    (await readdir(join(dir, 'pack'))).find((f) => f.endsWith('.tgz'))!,
  );
  const prefix = join(dir, 'prefix');
  await execa('npm', ['install', '-g', '--prefix', prefix, '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
    cwd: dir,
  });
  const name = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { name: string }).name;
  return { bin: join(prefix, 'bin', name), pkg: join(prefix, 'lib/node_modules', name), tarball, installMs: performance.now() - t };
}

const config = validateProperties(SEED_PROPERTIES, { adapterCount: 3 }).config!;
const world = await World.create();
try {
  const installed = await install(join(world.dir, 'npm'));
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
  const rusage = join(world.dir, 'rusage');

  /** Wall ms of the command, and its CPU ms (user + system, its children included) from /usr/bin/time. */
  const timed = async (argv: string[], input?: string): Promise<{ wall: number; cpu: number }> => {
    const t = performance.now();
    const r = await execa('ip', ['netns', 'exec', gw, '/usr/bin/time', '-o', rusage, '-f', '%U %S', ...argv], {
      env,
      extendEnv: false,
      reject: false,
      cwd: ROOT,
      ...(input ? { inputFile: input } : { stdin: 'ignore' as const }),
    });
    const wall = performance.now() - t;
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: exit ${r.exitCode}\n${String(r.stdout).slice(0, 2000)}\n${String(r.stderr)}`);
    const [user, sys] = (await readFile(rusage, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
    return { wall, cpu: (user! + sys!) * 1000 };
  };
  const target = ['verify', '10.191.181.52', '--identity', client.path, '--known-hosts', kh];
  const verifyArgv = [installed.bin, ...target];
  const treeArgv = [process.execPath, join(installed.pkg, 'dist/bin.js'), ...target];
  const sshArgv = opensshCollect(client.path, kh, '10.191.181.52');
  const rows: Record<string, { wall: number; cpu: number }[]> = {
    ssh: [],
    'verify (installed)': [],
    'verify --api-password-env (installed)': [],
    'verify, the installed compiled tree (node dist/bin.js)': [],
    'node -e 0': [],
  };
  // Warm-up (page cache, sshd's first fork; the installed bin's first run writes its code cache).
  const first = await timed(verifyArgv);
  await timed(sshArgv, script);
  await timed(treeArgv);
  for (let i = 0; i < runs; i++) {
    rows.ssh!.push(await timed(sshArgv, script));
    rows['verify (installed)']!.push(await timed(verifyArgv));
    rows['verify --api-password-env (installed)']!.push(await timed([...verifyArgv, '--api-password-env', 'HPA_API_PW']));
    rows['verify, the installed compiled tree (node dist/bin.js)']!.push(await timed(treeArgv));
    rows['node -e 0']!.push(await timed([process.execPath, '-e', '0']));
  }
  const one = await execa('ip', ['netns', 'exec', gw, ...verifyArgv, '--json', '--api-password-env', 'HPA_API_PW'], {
    env,
    extendEnv: false,
    reject: false,
    cwd: ROOT,
    stdin: 'ignore',
  });
  const timings = (JSON.parse(String(one.stdout)) as { hosts: { timings: Record<string, number> }[] }).hosts[0]!.timings;
  const base = median(rows.ssh!.map((r) => r.wall));
  const table = Object.entries(rows).map(([name, xs]) => {
    const wall = xs.map((x) => x.wall);
    return { name, median: median(wall), p90: p90(wall), ratio: median(wall) / base, cpu: median(xs.map((x) => x.cpu)) };
  });
  const ratio = table[1]!.ratio;
  if (asJson) {
    process.stdout.write(`${JSON.stringify({ runs, installMs: installed.installMs, firstRunMs: first.wall, table, verifyTimings: timings }, null, 2)}\n`);
  } else {
    process.stdout.write(
      `one host, ${runs} interleaved runs, medians (ms); verify installed from ${installed.tarball.split('/').pop()} (pack + install ${(installed.installMs / 1000).toFixed(1)} s)\n\n`,
    );
    process.stdout.write('| command | median ms | p90 ms | x ssh | CPU ms (median) |\n|---|---:|---:|---:|---:|\n');
    for (const r of table) process.stdout.write(`| ${r.name} | ${r.median.toFixed(1)} | ${r.p90.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.cpu.toFixed(0)} |\n`);
    process.stdout.write(`\nfirst run of the installed bin (no code cache yet; it writes one): ${first.wall.toFixed(1)} ms\n`);
    process.stdout.write(
      `verify's own split (one run with API credentials): connect ${timings.connectMs?.toFixed(1)} ms, collect ${timings.collectMs?.toFixed(1)} ms, total in process ${timings.totalMs?.toFixed(1)} ms\n`,
    );
    process.stdout.write(
      `target ≤ 1.2x ssh: ${ratio <= 1.2 ? 'met' : 'NOT met'} (verify ${ratio.toFixed(2)}x, with the API check ${table[2]!.ratio.toFixed(2)}x)\n`,
    );
  }
} finally {
  await world.cleanup();
}
