/**
 * Benchmark: `haproxy-appliance provision --dry-run --root DIR --ovf-env examples/ovf-env.xml`
 * (the seed), as it ships (compiled dist/bin.js, run by node), against the Node start-up floor
 * `node -e 0`. Target: within 2x of the floor.
 *
 *   npm run build && node --import tsx bench/provision.bench.ts [--runs N] [--json]
 *
 * Runs are interleaved (floor, cold, warm, floor, …) so machine noise hits all alike; the
 * figures are medians. "cold" is a dry run against an empty root (every file would be created);
 * "warm" against a root already provisioned (nothing would change: the re-run case). A second
 * table splits one in-process run into its stages, to show where the time goes. If netplan is
 * installed, `netplan generate --root-dir` for the same three NICs is timed too (optional), as is
 * cloud-init's `devel net-convert` rendering them to networkd units when cloud-init is, and
 * so is the single-file build the image ships (dist/haproxy-appliance.cjs, started by
 * dist/start.cjs with V8's code cache, which the warm-up run writes; from `npm run build`).
 * Children run with a clean environment (PATH only), as under systemd:
 * e.g. NODE_EXTRA_CA_CERTS alone adds ~30 ms to every node start.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { median, p90 } from './common.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = join(ROOT, 'dist/bin.js');
const ENV_FILE = join(ROOT, 'examples/ovf-env.xml');

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? NaN) || 30;
const json = args.includes('--json');

function time(argv: string[]): number {
  const t = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH } });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.toString()}`);
  return ms;
}

/** One run split into stages, in a plain `node` child (no tsx hooks inflating the imports). */
function stages(root: string): Record<string, number> {
  const dist = (p: string) => JSON.stringify(new URL(`../dist/${p}`, import.meta.url).href);
  const script = `
    const out = {};
    const lap = async (name, fn) => { const t = performance.now(); const v = await fn(); out[name] = performance.now() - t; return v; };
    const [{ ingest }, { validateEnvironment }] = await lap('import ingest + validate (src/ingest/read.js, src/config/validate.js: zod, xmldom, execa)', () => Promise.all([import(${dist('ingest/read.js')}), import(${dist('config/validate.js')})]));
    const loaded = await lap('ingest + validate the seed', async () => { const { env } = await ingest({ file: ${JSON.stringify(ENV_FILE)} }); return { env, ...validateEnvironment(env) }; });
    const { resolveNics } = await lap('import network/nics', () => import(${dist('facts/nics.js')}));
    const nics = await lap('resolve the NICs', () => resolveNics({ deployment: loaded.config.deployment, adapters: loaded.env.adapters }));
    const { gatherFacts } = await lap('import facts', () => import(${dist('facts/gather.js')}));
    const gathered = await lap('facts (reads the tree; verifies the crypt hashes)', () => gatherFacts(loaded.config, ${JSON.stringify(root)}, { boot: false }));
    const { planAppliance } = await lap('import plan (handlebars)', () => import(${dist('plan/appliance.js')}));
    const plan = await lap('plan + render (compiles the templates)', () => planAppliance(loaded.config, nics.assignments, gathered.facts));
    const { applyPlan } = await lap('import apply', () => import(${dist('apply/apply.js')}));
    await lap('dry-run apply (reads the tree, imports jsdiff, diffs)', () => applyPlan(plan, { root: ${JSON.stringify(root)}, dryRun: true }));
    process.stdout.write(JSON.stringify(out));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH } });
  if (r.status !== 0) throw new Error(`stage run failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, number>;
}

/** The single-file build the image ships, as its launcher starts it (`npm run build`; firstboot/install.sh). */
const SHIPPED = join(ROOT, 'dist/start.cjs');

function netplanYaml(): string {
  return `network:
  version: 2
  renderer: networkd
  ethernets:
    management:
      match: { macaddress: "00:50:56:b1:20:5e" }
      set-name: management
      addresses: [10.191.181.52/20]
      routes: [{ to: default, via: 10.191.191.254 }]
      nameservers: { addresses: [10.170.16.48, 10.142.7.1], search: [local] }
    workload:
      match: { macaddress: "00:50:56:b1:8d:33" }
      set-name: workload
      addresses: [192.168.1.2/16]
      routes:
        - { to: 192.168.0.0/16, scope: link, table: 200 }
        - { to: default, via: 192.168.1.1, table: 200 }
      routing-policy:
        - { from: 192.168.0.0/24, table: 200, priority: 1000 }
        - { from: 192.168.0.0/16, table: 200, priority: 2000 }
    frontend:
      match: { macaddress: "00:50:56:b1:8a:41" }
      set-name: frontend
      addresses: [172.16.10.2/24]
      routes:
        - { to: 172.16.10.0/24, scope: link, table: 201 }
        - { to: default, via: 172.16.10.1, table: 201 }
      routing-policy:
        - { from: 172.16.10.0/24, table: 201, priority: 2001 }
`;
}

async function main(): Promise<void> {
  if (!existsSync(BIN)) throw new Error('dist/bin.js is missing: run `npx tsc -p .` first');
  const cold = mkdtempSync(join(tmpdir(), 'hpa-bench-cold-'));
  const warm = mkdtempSync(join(tmpdir(), 'hpa-bench-warm-'));
  const np = mkdtempSync(join(tmpdir(), 'hpa-bench-netplan-'));
  const bundled = existsSync(SHIPPED) ? SHIPPED : undefined;
  const netplan = ['/usr/sbin/netplan', '/usr/bin/netplan'].find((p) => existsSync(p));
  const cloudInit = ['/usr/bin/cloud-init'].find((p) => existsSync(p));
  const ci = mkdtempSync(join(tmpdir(), 'hpa-bench-cloud-init-'));
  // cloud-init 22 reads network config v2 but not `to: default`; it drops `table` and
  // `routing-policy` when it renders networkd units (so its output lacks the policy routing).
  writeFileSync(join(ci, 'network.yaml'), netplanYaml().replace(/to: default/gu, 'to: 0.0.0.0/0'));
  try {
    time([process.execPath, BIN, 'provision', '--root', warm, '--ovf-env', ENV_FILE]);
    if (netplan) {
      mkdirSync(join(np, 'etc/netplan'), { recursive: true });
      writeFileSync(join(np, 'etc/netplan/50-appliance.yaml'), netplanYaml(), { mode: 0o600 });
    }
    const cmd = {
      floor: [process.execPath, '-e', '0'],
      cold: [process.execPath, BIN, 'provision', '--dry-run', '--root', cold, '--ovf-env', ENV_FILE],
      warm: [process.execPath, BIN, 'provision', '--dry-run', '--root', warm, '--ovf-env', ENV_FILE],
      ...(bundled && { bundled: [process.execPath, bundled, 'provision', '--dry-run', '--root', warm, '--ovf-env', ENV_FILE] }),
      ...(netplan && { netplan: [netplan, 'generate', '--root-dir', np] }),
      ...(cloudInit && {
        cloudinit: [cloudInit, 'devel', 'net-convert', '-p', join(ci, 'network.yaml'), '-k', 'yaml', '-d', join(ci, 'out'), '-D', 'debian', '-O', 'networkd'],
      }),
    };
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cmd).map((k) => [k, []]));
    for (const argv of Object.values(cmd)) time(argv); // warm the page cache
    for (let i = 0; i < runs; i++) for (const [k, argv] of Object.entries(cmd)) samples[k]!.push(time(argv));

    const floor = median(samples.floor!);
    const rows = Object.entries(samples).map(([k, xs]) => ({ what: k, median: median(xs), p90: p90(xs), ratio: median(xs) / floor }));
    const split = stages(warm);
    const result = { node: process.version, runs, floorMs: floor, rows, stagesMs: split, target: 2 };
    if (json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const label: Record<string, string> = {
      floor: 'node -e 0 (floor)',
      cold: 'provision --dry-run --root (empty root: OpenSSL makes the CA and server keys)',
      warm: 'provision --dry-run --root (up to date)',
      bundled: 'same, up to date, the shipped single-file build (dist/start.cjs: bundle + code cache)',
      netplan: 'netplan generate --root-dir (same NICs)',
      cloudinit: 'cloud-init devel net-convert to networkd (same NICs; drops tables and rules)',
    };
    process.stdout.write(
      `Node ${process.version}, ${runs} interleaved runs each, medians\n\n| command | median ms | p90 ms | x floor |\n|---|---:|---:|---:|\n`,
    );
    for (const r of rows) process.stdout.write(`| ${label[r.what]} | ${r.median.toFixed(1)} | ${r.p90.toFixed(1)} | ${r.ratio.toFixed(2)} |\n`);
    process.stdout.write(
      `\nTarget: within 2x of the floor (${(2 * floor).toFixed(1)} ms).\n\nOne in-process run on the up-to-date root, by stage (ms):\n\n| stage | ms |\n|---|---:|\n`,
    );
    for (const [k, v] of Object.entries(split)) process.stdout.write(`| ${k} | ${v.toFixed(1)} |\n`);
  } finally {
    for (const d of [cold, warm, np, ci]) rmSync(d, { recursive: true, force: true });
  }
}

await main();
