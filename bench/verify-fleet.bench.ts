/**
 * Benchmark: a fleet of 20 appliances, each in its own network namespace with its own real
 * sshd, real haproxy and Data Plane API stand-in (test/harness/verify-bed.ts; network set up
 * the real systemd-networkd on the units the agent renders, default deployment), verified by one
 * `haproxy-appliance verify --inventory FILE --concurrency 20` from the gateway namespace (the
 * shipped build, dist/start.cjs: what the npm package's bin runs). Reports the total wall time
 * and the per-host figures (the CLI's own JSON timings), next to --concurrency 1 for scale and to
 * one host alone, and to OpenSSH running the same collection script on every host at once (one
 * `ssh` process per host: the same sshd and appliance-side work, with OpenSSH's client).
 *
 * Where the time goes: for every run, the CPU time (user + system) of
 *   - the verifier (wait4's rusage, through /usr/bin/time);
 *   - the appliances: every process in their network namespaces (sshd with the per-connection
 *     sshd processes, shells, haproxy -c, ss, ip, ps it has waited for; haproxy; the Data Plane API
 *     stand-in; networkd), from /proc/PID/stat (utime + stime + cutime + cstime), before and after;
 *   - the whole machine (/proc/stat), so the rest is the machine's other load;
 * against the CPU time the machine had (its CPUs × the wall time).
 *
 *   npm run build && node --import tsx bench/verify-fleet.bench.ts [--hosts 20] [--runs 3] [--timeout S] [--json] [--cpu-prof DIR]
 *
 * Needs root. Every namespace and process is removed at the end, also on failure.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { validateProperties } from '../src/config/validate.js';
import { collectionScript, newMarker } from '../src/verify/script.js';
import { ROOT, World, makePki, sshKeygen, type Appliance } from '../test/harness/verify-bed.js';
import { median, opensshCollect } from './common.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => Number(args[args.indexOf(name) + 1] ?? NaN) || def;
const hosts = opt('--hosts', 20);
const runs = opt('--runs', 3);
/** verify's --timeout (s) per host: the default 15 s is too short for 50 hosts at once on 2 busy vCPUs. */
const timeoutS = opt('--timeout', 60);
const asJson = args.includes('--json');
/** --cpu-prof DIR: V8 CPU profiles of the verifier's --concurrency N runs, written to DIR. */
const profDir = args.includes('--cpu-prof') ? args[args.indexOf('--cpu-prof') + 1] : undefined;

/** Clock ticks per second of /proc's CPU times. */
const TICK_MS = 1000 / Number((await execa('getconf', ['CLK_TCK'])).stdout.trim());

/**
 * CPU ms of the processes in these network namespaces (their waited-for children included), by
 * process name (sshd holds its per-connection processes and what their shells ran).
 */
async function namespaceCpuMs(nsNames: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const ns of nsNames) {
    const pids = String((await execa('ip', ['netns', 'pids', ns], { reject: false })).stdout)
      .split('\n')
      .filter(Boolean);
    for (const pid of pids) {
      try {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        // Fields after "(comm)": state is field 3; utime..cstime are fields 14..17.
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out[comm] = (out[comm] ?? 0) + (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS;
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return out;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const minus = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]));

/** The whole machine's busy and total CPU ms so far (/proc/stat). */
async function machineCpuMs(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.split(/\s+/u).slice(1, 9).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line as [number, number, number, number, number, number, number, number];
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy * TICK_MS, total: (busy + idle + iowait) * TICK_MS };
}

function properties(i: number): Record<string, string> {
  return {
    'network.hostname': `haproxy-${String(i).padStart(2, '0')}.local`,
    'network.management_ip': `10.191.181.${60 + i}/20`,
    'network.management_gateway': '10.191.191.254',
    'network.workload_ip': `192.168.1.${10 + i}/16`,
    'network.workload_gateway': '192.168.1.1',
    'network.nameservers': '10.170.16.48, 10.142.7.1',
    'loadbalance.service_ip_range': '192.168.0.0/24',
    'loadbalance.dataplane_port': '5556',
    'loadbalance.haproxy_user': 'wcp',
    'loadbalance.haproxy_pwd': 'vmware',
    'appliance.root_pwd': 'vmware',
  };
}

interface CpuSplit {
  /** CPU ms the machine had during the run (CPUs × wall). */
  available: number;
  verifier: number;
  appliances: number;
  /** The appliances' CPU ms by process name (sshd includes its sessions' commands). */
  byProcess: Record<string, number>;
  /** Everything else busy meanwhile: other engineers' runs, the bench itself. */
  other: number;
  idle: number;
}

interface HostJson {
  name: string;
  error?: { kind: string; message: string };
  counts: Record<string, number>;
  timings: { connectMs?: number; collectMs?: number; totalMs: number };
}

const world = await World.create();
try {
  const tBuild = performance.now();
  const sans = Array.from({ length: hosts }, (_, i) => [
    `IP:10.191.181.${60 + i}`,
    `IP:192.168.1.${10 + i}`,
    `DNS:haproxy-${String(i).padStart(2, '0')}.local`,
  ]).flat();
  const pki = await makePki(join(world.dir, 'pki'), [...sans, 'IP:127.0.0.1', 'DNS:localhost']);
  const client = await sshKeygen(join(world.dir, 'client_key'));
  const apps: Appliance[] = [];
  for (let i = 0; i < hosts; i++) {
    const config = validateProperties(properties(i), { adapterCount: 2 }).config!;
    const hostKey = await sshKeygen(join(world.dir, `host_key_${i}`));
    apps.push(
      await world.addAppliance({ name: `lb${String(i).padStart(2, '0')}`, config, macs: {}, network: 'networkd', pki, hostKey, authorizedKeys: [client.pub] }),
    );
  }
  const buildMs = performance.now() - tBuild;
  const kh = join(world.dir, 'known_hosts');
  await writeFile(kh, `${apps.map((a) => a.knownHostsLine()).join('\n')}\n`);
  const inventory = join(world.dir, 'hosts.txt');
  await writeFile(inventory, `${apps.map((a) => a.mgmtIp).join('\n')}\n`);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(world.dir, 'home'), HPA_API_PW: 'vmware' };

  const nsNames = apps.map((a) => world.bed.nsName(a.ns));
  const script = join(world.dir, 'collect.sh');
  await writeFile(script, collectionScript(newMarker()));
  const timeArgv = (i: number) => ['/usr/bin/time', '-o', join(world.dir, `rusage-${i}`), '-f', '%U %S'];
  const clientCpuMs = async (i: number) => {
    const [user, sys] = (await readFile(join(world.dir, `rusage-${i}`), 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
    return (user! + sys!) * 1000;
  };

  /** Runs `action` (which returns its client processes' CPU ms) and splits the machine's CPU meanwhile. */
  const measured = async <T>(action: () => Promise<{ client: number; out: T }>) => {
    const appsBefore = await namespaceCpuMs(nsNames);
    const machineBefore = await machineCpuMs();
    const t = performance.now();
    const { client, out } = await action();
    const wall = performance.now() - t;
    const machineAfter = await machineCpuMs();
    const byProcess = minus(await namespaceCpuMs(nsNames), appsBefore);
    const appliances = sum(byProcess);
    const busy = machineAfter.busy - machineBefore.busy;
    const cpu: CpuSplit = {
      available: cpus().length * wall,
      verifier: client,
      appliances,
      byProcess,
      other: Math.max(0, busy - client - appliances),
      idle: machineAfter.total - machineBefore.total - busy,
    };
    return { wall, cpu, out };
  };

  const run = async (extra: string[], profile = false) => {
    const m = await measured(async () => {
      const r = await execa(
        'ip',
        [
          'netns',
          'exec',
          world.bed.nsName('gw'),
          ...timeArgv(0),
          process.execPath,
          ...(profile && profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []),
          join(ROOT, 'dist/start.cjs'),
          'verify',
          ...extra,
          '--identity',
          client.path,
          '--known-hosts',
          kh,
          '--api-password-env',
          'HPA_API_PW',
          '--json',
          '--timeout',
          String(timeoutS),
        ],
        { env, extendEnv: false, reject: false, cwd: ROOT, stdin: 'ignore' },
      );
      return { client: await clientCpuMs(0), out: String(r.stdout) };
    });
    const json = JSON.parse(m.out) as { exitCode: number; totalMs: number; hosts: HostJson[] };
    if (json.exitCode !== 0) {
      const bad = json.hosts
        .filter((h) => h.error || h.counts.fail)
        .map((h) => `${h.name}: ${h.error ? `${h.error.kind}: ${h.error.message}` : `${h.counts.fail} failed`}`);
      throw new Error(`verify exit ${json.exitCode}: ${bad.join('; ')}`);
    }
    return { wall: m.wall, inProcess: json.totalMs, hosts: json.hosts, cpu: m.cpu };
  };

  /** OpenSSH running the same collection script on every host at once, one ssh process each. */
  const sshFleet = () =>
    measured(async () => {
      const rs = await Promise.all(
        apps.map((a, i) =>
          execa('ip', ['netns', 'exec', world.bed.nsName('gw'), ...timeArgv(i), ...opensshCollect(client.path, kh, a.mgmtIp)], {
            env,
            extendEnv: false,
            reject: false,
            inputFile: script,
          }),
        ),
      );
      const bad = rs.filter((r) => r.exitCode !== 0);
      if (bad.length) throw new Error(`ssh: ${bad.length} of ${rs.length} failed: ${String(bad[0]!.stderr)}`);
      let cpuMs = 0;
      for (let i = 0; i < apps.length; i++) cpuMs += await clientCpuMs(i);
      return { client: cpuMs, out: undefined };
    });

  const fleet20: Awaited<ReturnType<typeof run>>[] = [];
  const fleet1: Awaited<ReturnType<typeof run>>[] = [];
  const single: Awaited<ReturnType<typeof run>>[] = [];
  const ssh: Awaited<ReturnType<typeof sshFleet>>[] = [];
  await run(['--inventory', inventory, '--concurrency', String(hosts)]); // warm-up
  await sshFleet();
  for (let i = 0; i < runs; i++) {
    fleet20.push(await run(['--inventory', inventory, '--concurrency', String(hosts)], true));
    ssh.push(await sshFleet());
    fleet1.push(await run(['--inventory', inventory, '--concurrency', '1']));
    single.push(await run([apps[0]!.mgmtIp]));
  }
  const cpuMedians = (rs: { cpu: CpuSplit }[]): CpuSplit => ({
    available: median(rs.map((r) => r.cpu.available)),
    verifier: median(rs.map((r) => r.cpu.verifier)),
    appliances: median(rs.map((r) => r.cpu.appliances)),
    byProcess: Object.fromEntries(Object.keys(rs[0]!.cpu.byProcess).map((k) => [k, median(rs.map((r) => r.cpu.byProcess[k] ?? 0))])),
    other: median(rs.map((r) => r.cpu.other)),
    idle: median(rs.map((r) => r.cpu.idle)),
  });
  const per = (rs: typeof fleet20, f: (h: HostJson) => number | undefined) => median(rs.flatMap((r) => r.hosts.map((h) => f(h) ?? 0)));
  const max = (rs: typeof fleet20) => median(rs.map((r) => Math.max(...r.hosts.map((h) => h.timings.totalMs))));
  const result = {
    hosts,
    runs,
    buildMs: Math.round(buildMs),
    concurrency20: {
      wallMs: median(fleet20.map((r) => r.wall)),
      perHostMedianMs: per(fleet20, (h) => h.timings.totalMs),
      perHostMaxMs: max(fleet20),
      connectMedianMs: per(fleet20, (h) => h.timings.connectMs),
      collectMedianMs: per(fleet20, (h) => h.timings.collectMs),
    },
    concurrency1: { wallMs: median(fleet1.map((r) => r.wall)), perHostMedianMs: per(fleet1, (h) => h.timings.totalMs) },
    oneHostWallMs: median(single.map((r) => r.wall)),
    sshAllAtOnceWallMs: median(ssh.map((r) => r.wall)),
    cpu: { concurrencyN: cpuMedians(fleet20), sshAllAtOnce: cpuMedians(ssh), concurrency1: cpuMedians(fleet1), oneHost: cpuMedians(single) },
  };
  if (asJson) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const c = result.concurrency20;
    process.stdout.write(`${hosts} appliances (built in ${(buildMs / 1000).toFixed(1)} s), ${runs} runs, medians\n\n`);
    process.stdout.write('| run | wall ms | per host median ms | per host max ms | wall per host ms |\n|---|---:|---:|---:|---:|\n');
    process.stdout.write(
      `| --concurrency ${hosts} | ${c.wallMs.toFixed(0)} | ${c.perHostMedianMs.toFixed(0)} | ${c.perHostMaxMs.toFixed(0)} | ${(c.wallMs / hosts).toFixed(0)} |\n`,
    );
    process.stdout.write(
      `| --concurrency 1 | ${result.concurrency1.wallMs.toFixed(0)} | ${result.concurrency1.perHostMedianMs.toFixed(0)} | | ${(result.concurrency1.wallMs / hosts).toFixed(0)} |\n`,
    );
    process.stdout.write(`| one host alone | ${result.oneHostWallMs.toFixed(0)} | | | |\n`);
    process.stdout.write(
      `| OpenSSH, ${hosts} ssh processes at once (the same script) | ${result.sshAllAtOnceWallMs.toFixed(0)} | | | ${(result.sshAllAtOnceWallMs / hosts).toFixed(0)} |\n`,
    );
    process.stdout.write(`\nfleet / one host: ${(c.wallMs / result.oneHostWallMs).toFixed(2)}x\n`);
    process.stdout.write(
      `\nCPU time during a run, medians (ms; ${cpus().length} CPUs):\n\n| run | CPU available (CPUs × wall) | client (verifier or the ssh processes) | appliances (sshd, shells, haproxy -c, ss, …) | rest of the machine | idle |\n|---|---:|---:|---:|---:|---:|\n`,
    );
    for (const [name, x] of [
      [`--concurrency ${hosts}`, result.cpu.concurrencyN],
      [`OpenSSH, ${hosts} at once`, result.cpu.sshAllAtOnce],
      ['--concurrency 1', result.cpu.concurrency1],
      ['one host alone', result.cpu.oneHost],
    ] as const)
      process.stdout.write(
        `| ${name} | ${x.available.toFixed(0)} | ${x.verifier.toFixed(0)} | ${x.appliances.toFixed(0)} | ${x.other.toFixed(0)} | ${x.idle.toFixed(0)} |\n`,
      );
    process.stdout.write(
      `\nthe appliances' CPU by process at --concurrency ${hosts} (ms): ${Object.entries(result.cpu.concurrencyN.byProcess)
        .filter(([, v]) => v > 0)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(', ')}\n`,
    );
    process.stdout.write(
      `\nat --concurrency ${hosts}, per host: connect ${c.connectMedianMs.toFixed(0)} ms, collect ${c.collectMedianMs.toFixed(0)} ms (medians)\n`,
    );
  }
} finally {
  await world.cleanup();
}
