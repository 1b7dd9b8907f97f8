/**
 * Benchmark: a fleet of 20 appliances, each in its own network namespace with its own real
 * sshd, real haproxy and Data Plane API stand-in (test/harness/verify-bed.ts; network set up
 * the real systemd-networkd on the units the agent renders, default deployment), verified by one
 * `haproxy-appliance verify --inventory FILE --concurrency 20` from the gateway namespace.
 * Reports the total wall time and the per-host figures (the CLI's own JSON timings), next to
 * --concurrency 1 for scale and to one host alone.
 *
 *   npx tsc -p . && node --import tsx bench/verify-fleet.bench.ts [--hosts 20] [--runs 3] [--json]
 *
 * Needs root. Every namespace and process is removed at the end, also on failure.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { validateProperties } from '../src/config/validate.js';
import { ROOT, World, makePki, sshKeygen, type Appliance } from '../test/harness/verify-bed.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => Number(args[args.indexOf(name) + 1] ?? NaN) || def;
const hosts = opt('--hosts', 20);
const runs = opt('--runs', 3);
const asJson = args.includes('--json');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

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

interface HostJson {
  name: string;
  error?: { kind: string };
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

  const run = async (extra: string[]) => {
    const t = performance.now();
    const r = await execa(
      'ip',
      [
        'netns',
        'exec',
        world.bed.nsName('gw'),
        process.execPath,
        join(ROOT, 'dist/bin.js'),
        'verify',
        ...extra,
        '--identity',
        client.path,
        '--known-hosts',
        kh,
        '--api-password-env',
        'HPA_API_PW',
        '--json',
      ],
      { env, extendEnv: false, reject: false, cwd: ROOT, stdin: 'ignore' },
    );
    const wall = performance.now() - t;
    const json = JSON.parse(String(r.stdout)) as { exitCode: number; totalMs: number; hosts: HostJson[] };
    if (json.exitCode !== 0) {
      const bad = json.hosts.filter((h) => h.error || h.counts.fail).map((h) => `${h.name}: ${h.error?.kind ?? `${h.counts.fail} failed`}`);
      throw new Error(`verify exit ${json.exitCode}: ${bad.join('; ')}`);
    }
    return { wall, inProcess: json.totalMs, hosts: json.hosts };
  };

  const fleet20: Awaited<ReturnType<typeof run>>[] = [];
  const fleet1: Awaited<ReturnType<typeof run>>[] = [];
  const single: number[] = [];
  await run(['--inventory', inventory, '--concurrency', String(hosts)]); // warm-up
  for (let i = 0; i < runs; i++) {
    fleet20.push(await run(['--inventory', inventory, '--concurrency', String(hosts)]));
    fleet1.push(await run(['--inventory', inventory, '--concurrency', '1']));
    single.push((await run([apps[0]!.mgmtIp])).wall);
  }
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
    oneHostWallMs: median(single),
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
      `\nat --concurrency ${hosts}, per host: connect ${c.connectMedianMs.toFixed(0)} ms, collect ${c.collectMedianMs.toFixed(0)} ms (medians)\n`,
    );
  }
} finally {
  await world.cleanup();
}
