/**
 * Benchmark: `haproxy-appliance verify` of an appliance whose haproxy.cfg holds 10,000
 * frontend/backend pairs as the Data Plane API writes them (one per Kubernetes LoadBalancer
 * service, each on its own VIP, the VIPs spread over three service ranges, every one listening),
 * side by side with the seed-size case (the seed's four frontends) over the same SSH.
 * Issue #12, section 3: collect + check ≤ 2x the seed case; peak RSS ≤ 150 MB.
 *
 *   npx tsc -p . && node --import tsx bench/scale-verify.bench.ts [--runs N] [--pairs 10000] [--json] [--save DIR]
 *
 * Two appliances from test/harness/verify-bed.ts (network namespaces; the real sshd, haproxy
 * 2.6, systemd-networkd, the Data Plane API stand-in), each in its own bed so both have the
 * same addresses and properties: only haproxy.cfg differs. Both are verified with the compiled
 * CLI (`dist/bin.js`) as fresh processes in their gateway namespace, with a clean environment
 * (PATH, HOME), key authentication and a known_hosts file, under `/usr/bin/time` (peak RSS),
 * interleaved (the order alternating each run), with API credentials; figures are medians.
 *
 * Two phases of runs: first as an appliance runs, haproxy having loaded haproxy.cfg as it is (the
 * Data Plane API reloads after every write), where the script does not run `haproxy -c` again
 * (src/verify/script.ts, `loaded`); then right after a change haproxy has not loaded (the same
 * text written again to both appliances, no reload), where every verify runs it.
 *
 * Per run: the wall time of the process, and the CLI's own split from the report's last line
 * (connect = SSH handshake and authentication; collect = the script's run and its output;
 * total = everything in process). "collect + check" is total − connect: the collection, parsing,
 * the API probe and the checks. Each run also times, for scale, OpenSSH running the same
 * collection script (`ssh root@HOST 'LC_ALL=C exec /bin/sh -s' < script`: the appliance's and
 * the transport's share, without the verifier's parsing and checks) and `haproxy -c` of the
 * appliance's haproxy.cfg alone (run inside it; the script runs it too). After the timed runs,
 * one run each of `--json` and `--verbose` gives their peak RSS and output size (they hold
 * every result).
 *
 * `--save DIR` also writes the 10k appliance's raw collection (stdout/stderr of the script run
 * by OpenSSH, marker in DIR/marker) for profiling the parsers and checks in process.
 *
 * Needs root. Every namespace and process is removed at the end, also on failure.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { validateProperties } from '../src/config/validate.js';
import { collectionScript, newMarker } from '../src/verify/script.js';
import { SEED_MACS, SEED_PROPERTIES } from '../test/harness/ovf.js';
import { ROOT, World, haproxyCfg, makePki, SEED_SANS, seedHaproxySections, sshKeygen, type Appliance } from '../test/harness/verify-bed.js';
import { median, opensshCollect } from './common.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || def : def);
const runs = opt('--runs', 7);
const pairs = opt('--pairs', 10_000);
const asJson = args.includes('--json');
const saveDir = args.includes('--save') ? args[args.indexOf('--save') + 1] : undefined;

/**
 * The seed's properties with two more service ranges (a /19 each, 8,190 VIPs apiece) beside the
 * seed's 192.168.0.0/24: room for 10,000 services with a VIP each. Both appliances get these.
 */
const RANGES = ['192.168.0.0/24', '192.168.32.0/19', '192.168.64.0/19'];
const config = validateProperties({ ...SEED_PROPERTIES, 'loadbalance.service_ip_range': RANGES.join(', ') }, { adapterCount: 3 }).config!;

/** The n-th VIP: host addresses of the ranges in turn (the seed's own VIPs, .0.1–.0.3, kept out). */
function vips(n: number): string[] {
  const out: string[] = [];
  const toInt = (a: string) => a.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  const toIp = (x: number) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
  for (const range of RANGES) {
    const [net, len] = range.split('/');
    const first = toInt(net!);
    const size = 2 ** (32 - Number(len));
    for (let h = range === '192.168.0.0/24' ? 10 : 1; h < size - 1 && out.length < n; h++) out.push(toIp(first + h));
  }
  if (out.length < n) throw new Error(`only ${out.length} VIPs in ${RANGES.join(', ')}`);
  return out;
}

/** n frontend/backend pairs as the Data Plane API writes them: one service each, on its own VIP, three endpoints. */
function apiPairs(n: number): string {
  const domain = 'domain-c50:b42f9558-a4eb-4e8f-8f0f-9a8f295f0a8e';
  const ports = [6443, 443, 80];
  const parts: string[] = [];
  vips(n).forEach((vip, i) => {
    const name = `${domain}-ns-${String(i % 400).padStart(3, '0')}-service-${i}-lb-svc`;
    const port = ports[i % ports.length]!;
    const tag = port === 6443 ? 'kube-apiserver' : port === 443 ? 'https' : 'http';
    parts.push(
      `frontend ${name}\n  mode tcp\n  bind ${vip}:${port} name ${name}-${vip}:${tag}\n  log-tag ${name}\n  option tcplog\n  default_backend ${name}-${tag}\n\n` +
        `backend ${name}-${tag}\n  mode tcp\n  balance roundrobin\n  log-tag ${name}-${tag}\n` +
        [3, 4, 5].map((h) => `  server ${name}-172.16.10.${h}:${port} 172.16.10.${h}:${port} weight 100\n`).join('') +
        '\n',
    );
  });
  return parts.join('');
}

interface Case {
  name: string;
  world: World;
  app: Appliance;
  client: string;
  knownHosts: string;
  env: Record<string, string>;
}

async function standUp(name: string, cfg?: string): Promise<Case> {
  const world = await World.create();
  try {
    const pki = await makePki(join(world.dir, 'pki'), SEED_SANS);
    const hostKey = await sshKeygen(join(world.dir, 'host_key'));
    const client = await sshKeygen(join(world.dir, 'client_key'));
    const app = await world.addAppliance({
      name: 'app',
      config,
      macs: SEED_MACS,
      network: 'networkd',
      pki,
      hostKey,
      authorizedKeys: [client.pub],
      ...(cfg !== undefined && { haproxyCfg: cfg }),
    });
    const knownHosts = join(world.dir, 'known_hosts');
    await writeFile(knownHosts, `${app.knownHostsLine()}\n`);
    const home = join(world.dir, 'home');
    await mkdir(home, { recursive: true });
    return { name, world, app, client: client.path, knownHosts, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HPA_API_PW: 'vmware' } };
  } catch (err) {
    await world.cleanup();
    throw err;
  }
}

/** How many TCP sockets listen on VIPs of the ranges (ss inside the appliance). */
async function vipListeners(c: Case): Promise<number> {
  const r = await c.app.exec(['sh', '-c', `ss -Htln | awk '$4 ~ /^192\\.168\\./' | wc -l`]);
  return Number(r.stdout.trim());
}

interface Run {
  code: number;
  wallMs: number;
  rssMb: number;
  connectMs: number;
  collectMs: number;
  totalMs: number;
  outBytes: number;
  lastLine: string;
  stdout: string;
}

/** The CLI's own split: from the JSON report, or from the text report's last line. */
function timingsOf(c: Case, stdout: string, json: boolean): { connectMs: number; collectMs: number; totalMs: number } {
  if (json) return (JSON.parse(stdout) as { hosts: { timings: { connectMs: number; collectMs: number; totalMs: number } }[] }).hosts[0]!.timings;
  // "(connect 62 ms, collect 203 ms, total 273 ms)", or seconds ("1.20 s").
  const m = /\(connect ([\d.]+) (ms|s), collect ([\d.]+) (ms|s), total ([\d.]+) (ms|s)\)\s*$/u.exec(stdout);
  if (!m) throw new Error(`${c.name}: no timings in the report:\n${stdout.slice(-3000)}`);
  const v = (n: string, u: string) => Number(n) * (u === 's' ? 1000 : 1);
  return { connectMs: v(m[1]!, m[2]!), collectMs: v(m[3]!, m[4]!), totalMs: v(m[5]!, m[6]!) };
}

async function verify(c: Case, extra: string[] = []): Promise<Run> {
  const argv = [
    '/usr/bin/time',
    '-f',
    'hpa-maxrss-kb=%M',
    process.execPath,
    join(ROOT, 'dist/bin.js'),
    'verify',
    '10.191.181.52',
    '--identity',
    c.client,
    '--known-hosts',
    c.knownHosts,
    '--api-password-env',
    'HPA_API_PW',
    '--timeout',
    '120',
    ...extra,
  ];
  const t = performance.now();
  const r = await execa('ip', ['netns', 'exec', c.world.bed.nsName('gw'), ...argv], {
    env: c.env,
    extendEnv: false,
    reject: false,
    cwd: ROOT,
    stdin: 'ignore',
  });
  const wallMs = performance.now() - t;
  const stdout = String(r.stdout);
  const stderr = String(r.stderr);
  const rss = /hpa-maxrss-kb=(\d+)/u.exec(stderr);
  if (!rss) throw new Error(`${c.name}: no peak RSS (exit ${r.exitCode}): ${stderr.slice(-2000)}`);
  const { connectMs, collectMs, totalMs } = timingsOf(c, stdout, extra.includes('--json'));
  const lines = stdout.trimEnd().split('\n');
  return {
    code: r.exitCode ?? -1,
    wallMs,
    rssMb: Number(rss[1]) / 1024,
    connectMs,
    collectMs,
    totalMs,
    outBytes: Buffer.byteLength(stdout),
    lastLine: lines[lines.length - 1]!,
    stdout,
  };
}

const cases: Case[] = [];
try {
  const tBuild = performance.now();
  const seedSections = seedHaproxySections();
  // The agent's global and defaults log (templates/haproxy/managed.cfg.hbs); without a log
  // address `haproxy -c` warns once per frontend (1.7 MB of warnings at 10,000).
  const withLog = (cfg: string) =>
    cfg.replace(/^global\n/mu, 'global\n  log stdout format raw local0 info\n').replace(/^defaults\n/mu, 'defaults\n  log global\n');
  const user = config.loadbalance.haproxyUser;
  const password = config.loadbalance.haproxyPassword;
  const big = withLog(haproxyCfg(user, password, `${seedSections}\n${apiPairs(pairs)}`));
  const seed = await standUp('seed', withLog(haproxyCfg(user, password, seedSections)));
  cases.push(seed);
  const scale = await standUp(`${pairs} pairs`, big);
  cases.push(scale);
  // haproxy binds every listener before it is ready; wait until ss shows them all.
  const want = pairs + 4;
  const t0 = Date.now();
  let have = 0;
  while ((have = await vipListeners(scale)) < want && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 500));
  if (have < want) throw new Error(`only ${have} of ${want} VIP listeners after 120 s`);
  const seedListeners = await vipListeners(seed);
  const setupS = (performance.now() - tBuild) / 1000;

  // OpenSSH running the same collection script: what the appliance and the transport take,
  // without the verifier's parsing and checks.
  const scripts = new Map<Case, { marker: string; file: string }>();
  for (const c of cases) {
    const marker = newMarker();
    const file = join(c.world.dir, 'collect.sh');
    await writeFile(file, collectionScript(marker));
    scripts.set(c, { marker, file });
  }
  const ssh = async (c: Case) => {
    const t = performance.now();
    const r = await execa('ip', ['netns', 'exec', c.world.bed.nsName('gw'), ...opensshCollect(c.client, c.knownHosts, '10.191.181.52')], {
      inputFile: scripts.get(c)!.file,
      reject: false,
      env: c.env,
      extendEnv: false,
      maxBuffer: 256 * 1024 * 1024,
    });
    const ms = performance.now() - t;
    if (r.exitCode !== 0) throw new Error(`${c.name}: ssh exit ${r.exitCode}: ${String(r.stderr).slice(-2000)}`);
    return { ms, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  /** `haproxy -c` of the appliance's haproxy.cfg, run inside it (nsenter), as the script runs it. */
  const haproxyCheck = async (c: Case) => {
    const t = performance.now();
    const r = await c.app.exec(['/usr/sbin/haproxy', '-c', '-f', '/etc/haproxy/haproxy.cfg']);
    if (r.code !== 0) throw new Error(`${c.name}: haproxy -c exit ${r.code}: ${r.stderr.slice(-2000)}`);
    return performance.now() - t;
  };

  if (saveDir) {
    await mkdir(saveDir, { recursive: true });
    const r = await ssh(scale);
    await writeFile(join(saveDir, 'marker'), scripts.get(scale)!.marker);
    await writeFile(join(saveDir, 'collect.stdout'), r.stdout);
    await writeFile(join(saveDir, 'collect.stderr'), r.stderr);
  }

  // Warm-up (page cache, sshd's first fork).
  const first = { seed: await verify(seed), scale: await verify(scale) };
  for (const [k, r] of Object.entries(first)) {
    if (r.code !== 0) throw new Error(`${k}: verify exit ${r.code}:\n${r.stdout.slice(-4000)}`);
  }
  await ssh(seed);
  await ssh(scale);
  /** `runs` interleaved runs of each case (the order alternating), with their medians and ratios. */
  const phase = async () => {
    const rows = new Map<Case, Run[]>(cases.map((c) => [c, []]));
    const sshRows = new Map<Case, number[]>(cases.map((c) => [c, []]));
    const checkRows = new Map<Case, number[]>(cases.map((c) => [c, []]));
    for (let i = 0; i < runs; i++) {
      const order = i % 2 ? [scale, seed] : [seed, scale];
      for (const c of order) {
        const r = await verify(c);
        if (r.code !== 0) throw new Error(`${c.name}: verify exit ${r.code}:\n${r.stdout.slice(-4000)}`);
        rows.get(c)!.push(r);
        sshRows.get(c)!.push((await ssh(c)).ms);
        checkRows.get(c)!.push(await haproxyCheck(c));
      }
    }
    const stat = (c: Case) => {
      const xs = rows.get(c)!;
      const m = (f: (r: Run) => number) => median(xs.map(f));
      return {
        case: c.name,
        runs: xs.length,
        wallMs: m((r) => r.wallMs),
        connectMs: m((r) => r.connectMs),
        collectMs: m((r) => r.collectMs),
        totalMs: m((r) => r.totalMs),
        collectCheckMs: m((r) => r.totalMs - r.connectMs),
        sshMs: median(sshRows.get(c)!),
        haproxyCheckMs: median(checkRows.get(c)!),
        rssMb: m((r) => r.rssMb),
        rssMaxMb: Math.max(...xs.map((r) => r.rssMb)),
        outBytes: xs[0]!.outBytes,
        lastLine: xs[0]!.lastLine,
        configCheck:
          /"id":"haproxy\.config"[^}]*"message":"([^"]*)"/u.exec(xs[0]!.stdout)?.[1] ??
          xs[0]!.stdout
            .split('\n')
            .find((l) => l.includes('haproxy.config'))
            ?.trim(),
      };
    };
    const a = stat(seed);
    const b = stat(scale);
    const ratio = {
      collectCheck: b.collectCheckMs / a.collectCheckMs,
      wall: b.wallMs / a.wallMs,
      collect: b.collectMs / a.collectMs,
      ssh: b.sshMs / a.sshMs,
      haproxyCheck: b.haproxyCheckMs / a.haproxyCheckMs,
    };
    return { a, b, ratio };
  };
  const f = (x: number) => x.toFixed(0);
  const cfgBytes = Buffer.byteLength(big);
  const print = (title: string, p: Awaited<ReturnType<typeof phase>>) => {
    const { a, b, ratio } = p;
    const machine = { cpus: cpus().length, loadavg: loadavg().map((x) => Number(x.toFixed(2))), node: process.version };
    process.stdout.write(
      `${title}\n` +
        `verify, seed-size vs ${pairs.toLocaleString('en-US')} API-written pairs (${have} VIP listeners, haproxy.cfg ${(cfgBytes / 1e6).toFixed(1)} MB; ranges ${RANGES.join(', ')})\n` +
        `${runs} interleaved runs, medians; ${machine.cpus} CPUs, load ${machine.loadavg.join(' ')}, Node ${machine.node}; set-up ${setupS.toFixed(0)} s\n\n` +
        `| case | wall ms | connect ms | collect ms | collect + check ms | total in process ms | peak RSS MB (max) | report bytes | ssh, same script: wall ms | haproxy -c alone ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n`,
    );
    for (const s of [a, b])
      process.stdout.write(
        `| ${s.case} | ${f(s.wallMs)} | ${f(s.connectMs)} | ${f(s.collectMs)} | ${f(s.collectCheckMs)} | ${f(s.totalMs)} | ${s.rssMb.toFixed(0)} (${s.rssMaxMb.toFixed(0)}) | ${s.outBytes} | ${f(s.sshMs)} | ${f(s.haproxyCheckMs)} |\n`,
      );
    process.stdout.write(
      `\nratio ${pairs} / seed: collect + check ${ratio.collectCheck.toFixed(2)}x (goal ≤ 2x: ${ratio.collectCheck <= 2 ? 'met' : 'NOT met'}), collect ${ratio.collect.toFixed(2)}x, wall ${ratio.wall.toFixed(2)}x, OpenSSH with the same script ${ratio.ssh.toFixed(2)}x, haproxy -c alone ${ratio.haproxyCheck.toFixed(2)}x; peak RSS ${b.rssMaxMb.toFixed(0)} MB (goal ≤ 150 MB: ${b.rssMaxMb <= 150 ? 'met' : 'NOT met'})\n`,
    );
    process.stdout.write(`haproxy.config says (${pairs}): ${b.configCheck ?? '?'}\nthe ${pairs} case's text report ends:\n${b.lastLine}\n\n`);
  };
  // 1. As an appliance runs: haproxy has loaded haproxy.cfg as it is (the Data Plane API reloads
  // after each write), so the script does not run haproxy -c again.
  const loaded = await phase();
  if (!asJson) print('## haproxy has loaded haproxy.cfg as it is (haproxy -c not rerun)', loaded);
  // 2. Right after a change haproxy has not loaded (the same text written again, no reload):
  // every verify runs haproxy -c, beside the rest of the script.
  for (const c of cases) await c.app.writeHaproxyCfg(await c.app.readHaproxyCfg());
  const changed = await phase();
  if (!asJson) print('## haproxy.cfg changed since haproxy loaded it (haproxy -c runs)', changed);
  const machine = { cpus: cpus().length, loadavg: loadavg().map((x) => Number(x.toFixed(2))), node: process.version };
  const { a, b, ratio } = loaded;
  const extras = [];
  for (const [c, flag] of [
    [seed, '--json'],
    [scale, '--json'],
    [seed, '--verbose'],
    [scale, '--verbose'],
  ] as const) {
    const r = await verify(c, [flag]);
    extras.push({ flag, case: c.name, code: r.code, rssMb: r.rssMb, wallMs: r.wallMs, outBytes: r.outBytes, lines: r.stdout.split('\n').length - 1 });
  }
  if (asJson) {
    process.stdout.write(
      `${JSON.stringify({ runs, pairs, ranges: RANGES, listeners: { seed: seedListeners, scale: have }, haproxyCfgBytes: cfgBytes, setupS, seed: a, scale: b, ratio, changed, extras, machine }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(`| one run | case | exit | peak RSS MB | wall ms | report bytes | lines |\n|---|---|---:|---:|---:|---:|---:|\n`);
    for (const e of extras)
      process.stdout.write(`| ${e.flag} | ${e.case} | ${e.code} | ${e.rssMb.toFixed(0)} | ${f(e.wallMs)} | ${e.outBytes} | ${e.lines} |\n`);
  }
} finally {
  for (const c of cases) await c.world.cleanup();
}
