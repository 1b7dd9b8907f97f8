/**
 * Benchmark: validating many service ranges and additional workload networks (issue #9: the
 * overlap check was quadratic, 2,000 ranges took 9 s). In process, medians of interleaved runs.
 *
 *   node --import tsx bench/validate.bench.ts [--runs N] [--baseline OLD_CHECKOUT] [--json]
 *
 * `--baseline DIR` times DIR/src/config/validate.ts side by side (an older checkout, e.g.
 * `mkdir /tmp/old && git archive c865a83 src | tar -x -C /tmp/old && ln -s $PWD/node_modules /tmp/old/`),
 * with the ratio. Each case is N disjoint /24 ranges plus N/2 disjoint additional networks, all
 * valid, so every check runs in full. Validation caps both lists at 1,000; the sweep behind the
 * overlap checks is timed alone beyond that (`overlapsSorted`, 10,000 and 100,000 networks).
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { SEED_PROPERTIES } from '../test/harness/ovf.js';
import { validateProperties } from '../src/config/validate.js';
import { overlapsSorted, parseCidr, type Cidr } from '../src/config/ipv4.js';
import { median } from './common.js';

type Validate = typeof validateProperties;

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const runs = Number(arg('--runs')) || 5;
const json = args.includes('--json');
const baselineDir = arg('--baseline');
const baseline: Validate | undefined = baselineDir
  ? ((await import(pathToFileURL(resolve(baselineDir, 'src/config/validate.ts')).href)) as { validateProperties: Validate }).validateProperties
  : undefined;

const nets = (n: number, first: number) => Array.from({ length: n }, (_, i) => `${first + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`);

function props(n: number): Record<string, string> {
  return {
    ...SEED_PROPERTIES,
    'loadbalance.service_ip_range': nets(n, 100).join(','),
    'network.additional_workload_networks': nets(Math.floor(n / 2), 20).join(','),
  };
}

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

const rows: { case: string; current: number; baseline?: number }[] = [];
for (const n of [100, 250, 500, 1000]) {
  const raw = props(n);
  const ok = validateProperties(raw);
  if (!ok.config) throw new Error(`${n} ranges do not validate: ${JSON.stringify(ok.problems.slice(0, 3))}`);
  const cur: number[] = [];
  const old: number[] = [];
  for (let r = 0; r < runs; r++) {
    cur.push(time(() => validateProperties(raw)));
    if (baseline) old.push(time(() => baseline(raw)));
  }
  rows.push({ case: `validate: ${n} ranges + ${Math.floor(n / 2)} additional networks`, current: median(cur), ...(baseline && { baseline: median(old) }) });
}
{
  // The other list properties at their limits on top: 100 static routes (each gateway checked
  // against the 1,000 ranges, each network swept with the ranges and networks) and 6 search domains.
  const raw = {
    ...props(1000),
    'network.static_routes': Array.from({ length: 100 }, (_, i) => `10.${200 + (i >> 8)}.${i & 255}.0/24 via 192.168.1.254`).join(', '),
    'network.search_domains': 'a.example b.example c.example d.example e.example f.example',
  };
  const ok = validateProperties(raw);
  if (!ok.config || ok.config.network.staticRoutes.length !== 100)
    throw new Error(`the routes case does not validate: ${JSON.stringify(ok.problems.slice(0, 3))}`);
  const cur: number[] = [];
  for (let r = 0; r < runs; r++) cur.push(time(() => validateProperties(raw)));
  rows.push({ case: 'validate: 1000 ranges + 500 additional networks + 100 static routes + 6 search domains', current: median(cur) });
}
for (const n of [10_000, 100_000]) {
  const items = nets(n, 100).map((t) => ({ cidr: parseCidr(t) as Cidr }));
  const cur: number[] = [];
  for (let r = 0; r < runs; r++) cur.push(time(() => overlapsSorted(items, () => undefined)));
  rows.push({ case: `overlapsSorted alone: ${n} networks`, current: median(cur) });
}

if (json) {
  process.stdout.write(`${JSON.stringify({ runs, rows }, null, 2)}\n`);
} else {
  process.stdout.write(`| case | current ms |${baseline ? ' baseline ms | baseline / current |' : ''}\n|---|---:|${baseline ? '---:|---:|' : ''}\n`);
  for (const r of rows) {
    const extra = baseline ? (r.baseline !== undefined ? ` ${r.baseline.toFixed(1)} | ${(r.baseline / r.current).toFixed(1)}x |` : ' – | – |') : '';
    process.stdout.write(`| ${r.case} | ${r.current.toFixed(1)} |${extra}\n`);
  }
}
