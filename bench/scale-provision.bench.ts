/**
 * Benchmark (issue #12, section 3, the provision side): an appliance whose haproxy.cfg holds
 * 10,000 frontend/backend pairs written by the Data Plane API, against the seed case.
 *
 *   npm run build && node --import tsx bench/scale-provision.bench.ts [--runs N] [--pairs N] [--json]
 *
 * 1. The no-op rerun in a sandbox: `provision --root DIR --ovf-env examples/ovf-env.xml --json`,
 *    the shipped build (dist/start.cjs: bundle + code cache), on two roots provisioned alike from
 *    the seed, one with the seed's API sections (3 frontends), one with those plus N pairs (VIPs
 *    over the seed's service range 192.168.0.0/24). Interleaved, medians. Every run is checked:
 *    exit 0, nothing changed and no live action in its report (so nothing to reload), every file
 *    of the root the same bytes, mode, mtime and inode afterwards (no write), haproxy.cfg byte for
 *    byte. Peak RSS: the same runs under /usr/bin/time (separate runs, so the timing is not
 *    the wrapper's).
 * 2. Service ranges: 8,000 ranges in `loadbalance.service_ip_range`, written several ways, judged
 *    by `validate` and by `provision` (same build): time to judgement, exit code and problem code.
 *
 * The booted-appliance figures (a rerun that changes the userlist password under load, with
 * 10,000 pairs) come from the same file with `--booted` (root; the e2e image): see
 * test/harness/scale-rerun.ts.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { apiPairs } from '../test/harness/api-pairs.js';
import { addSections, SEED_SECTIONS } from '../test/harness/dataplane.js';
import { walkTree, isFileEntry } from '../test/harness/tree.js';
import { RANGE_CASES, rangeEnvironment } from '../test/harness/many-ranges.js';
import { median, p90 } from './common.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SHIPPED = join(ROOT, 'dist/start.cjs');
const ENV_FILE = join(ROOT, 'examples/ovf-env.xml');

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const runs = opt('--runs', 15);
const pairs = opt('--pairs', 10_000);
const json = args.includes('--json');
const booted = args.includes('--booted');

interface Run {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** The shipped build, with a clean environment (PATH only), as under systemd. */
function agent(argv: string[], wrap: string[] = []): Run {
  const cmd = [...wrap, process.execPath, SHIPPED, ...argv];
  const t = performance.now();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH }, maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - t;
  return { ms, code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Every file of the root: a hash of its bytes, mode, mtime and inode (a rewrite changes the last two). */
function fingerprint(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of walkTree(root).filter(isFileEntry)) {
    const st = lstatSync(e.path);
    out.set(e.rel, `${createHash('sha256').update(readFileSync(e.path)).digest('hex')} ${st.mode} ${st.mtimeMs} ${st.ino}`);
  }
  return out;
}

function sameTree(a: Map<string, string>, b: Map<string, string>): string | undefined {
  for (const [k, v] of a) if (b.get(k) !== v) return `${k} changed`;
  for (const k of b.keys()) if (!a.has(k)) return `${k} appeared`;
  return undefined;
}

interface Case {
  name: string;
  root: string;
  cfg: string;
  before: Map<string, string>;
}

function makeRoot(name: string, extra: string): Case {
  const dir = mkdtempSync(join(tmpdir(), `hpa-bench-scale-${name}-`));
  const first = agent(['provision', '--root', dir, '--ovf-env', ENV_FILE]);
  if (first.code !== 0) throw new Error(`first provision of ${name} failed (${first.code}): ${first.stderr}`);
  const cfgFile = join(dir, 'etc/haproxy/haproxy.cfg');
  // What the Data Plane API does: its sections appended, its version line bumped.
  const { cfg } = addSections(readFileSync(cfgFile, 'utf8'), SEED_SECTIONS + extra);
  writeFileSync(cfgFile, cfg, { mode: 0o600 });
  // The first rerun after the API's write records haproxy.cfg's new hash in state.json (its only
  // write: no file of the appliance changes, nothing reloads); the runs measured come after it.
  const settle = agent(['provision', '--root', dir, '--ovf-env', ENV_FILE, '--json']);
  if (settle.code !== 0 || readFileSync(cfgFile, 'utf8') !== cfg) throw new Error(`${name}: the first rerun changed haproxy.cfg or failed: ${settle.stderr}`);
  return { name, root: dir, cfg, before: fingerprint(dir) };
}

/** One no-op rerun, checked: nothing changed, nothing run, nothing written. */
function noopRerun(c: Case, wrap: string[] = []): Run {
  const r = agent(['provision', '--root', c.root, '--ovf-env', ENV_FILE, '--json'], wrap);
  if (r.code !== 0) throw new Error(`${c.name}: provision exited ${r.code}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as { changed: unknown[]; actions: unknown[]; renames: unknown[] };
  if (doc.changed.length || doc.actions.length || doc.renames.length) throw new Error(`${c.name}: the rerun was not a no-op: ${r.stdout.slice(0, 2000)}`);
  const diff = sameTree(c.before, fingerprint(c.root));
  if (diff) throw new Error(`${c.name}: the no-op rerun wrote: ${diff}`);
  if (readFileSync(join(c.root, 'etc/haproxy/haproxy.cfg'), 'utf8') !== c.cfg) throw new Error(`${c.name}: haproxy.cfg is not byte for byte the same`);
  return r;
}

/** Peak RSS (MB) of a run under /usr/bin/time -f %M (KiB). */
function peakRssMb(r: Run): number {
  const m = /^MAXRSS (\d+)$/mu.exec(r.stderr);
  if (!m) throw new Error(`no peak RSS in: ${r.stderr.slice(-500)}`);
  return Number(m[1]) / 1024;
}
const TIME = ['/usr/bin/time', '-f', 'MAXRSS %M'];

interface Row {
  what: string;
  median: number;
  p90: number;
  n: number;
  ratio?: number;
  rssMb?: number;
}

function provisionRows(): { rows: Row[]; cfgBytes: Record<string, number> } {
  const seed = makeRoot('seed', '');
  const scale = makeRoot('scale', `\n${apiPairs(pairs).text}`);
  try {
    const cases = [seed, scale];
    for (const c of cases) noopRerun(c); // warm the page cache and the code cache
    const ms: Record<string, number[]> = { seed: [], scale: [] };
    for (let i = 0; i < runs; i++) for (const c of cases) ms[c.name]!.push(noopRerun(c).ms);
    const rss: Record<string, number[]> = { seed: [], scale: [] };
    const rssRuns = Math.min(runs, 5);
    if (existsSync(TIME[0]!)) for (let i = 0; i < rssRuns; i++) for (const c of cases) rss[c.name]!.push(peakRssMb(noopRerun(c, TIME)));
    const base = median(ms.seed!);
    const label = { seed: 'seed case (3 API frontends)', scale: `${pairs.toLocaleString('en')} API frontend/backend pairs + the seed's` };
    const rows = cases.map((c) => ({
      what: `provision no-op rerun, ${label[c.name as 'seed' | 'scale']}`,
      median: median(ms[c.name]!),
      p90: p90(ms[c.name]!),
      n: runs,
      ratio: median(ms[c.name]!) / base,
      ...(rss[c.name]!.length && { rssMb: Math.max(...rss[c.name]!) }),
    }));
    return { rows, cfgBytes: { seed: Buffer.byteLength(seed.cfg), scale: Buffer.byteLength(scale.cfg) } };
  } finally {
    for (const c of [seed, scale]) rmSync(c.root, { recursive: true, force: true });
  }
}

interface RangeRow {
  what: string;
  validate: { ms: number; code: number; problem?: string };
  provision: { ms: number; code: number; problem?: string };
  n: number;
}

/** Each way of writing 8,000 ranges, judged by both commands: medians of `runs` (at most 5). */
function rangeRows(): RangeRow[] {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-bench-ranges-'));
  const n = Math.min(runs, 5);
  try {
    return RANGE_CASES.map((rc) => {
      const env = join(dir, `${rc.name}.xml`);
      writeFileSync(env, rangeEnvironment(rc.value()));
      const root = mkdtempSync(join(dir, 'root-'));
      const judge = (argv: string[]) => {
        const runsMs: number[] = [];
        let last: Run | undefined;
        for (let i = 0; i < n; i++) {
          last = agent(argv);
          runsMs.push(last.ms);
        }
        const doc = JSON.parse(last!.stdout || '{}') as { problems?: Array<{ code: string }> };
        return { ms: median(runsMs), code: last!.code, ...(doc.problems?.[0] && { problem: doc.problems[0].code }) };
      };
      return {
        what: rc.label,
        validate: judge(['validate', '--ovf-env', env, '--json']),
        provision: judge(['provision', '--root', root, '--ovf-env', env, '--json']),
        n,
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!existsSync(SHIPPED)) throw new Error('dist/start.cjs is missing: run `npm run build` first');
  if (booted) {
    const { bootedScaleRerun } = await import('../test/harness/scale-rerun.js');
    const r = await bootedScaleRerun({ pairs, noopRuns: runs, log: (l) => process.stderr.write(`${l}\n`) });
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  const { rows, cfgBytes } = provisionRows();
  const ranges = rangeRows();
  const result = { node: process.version, runs, pairs, cfgBytes, rows, ranges, goals: { ratio: 1.5, rssMb: 150, judgementMs: 1000 } };
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const mb = (b: number) => (b < 1e6 ? `${(b / 1e3).toFixed(1)} kB` : `${(b / 1e6).toFixed(1)} MB`);
  process.stdout.write(
    `Node ${process.version}, shipped build (dist/start.cjs), ${runs} interleaved runs, medians; haproxy.cfg ${mb(cfgBytes.seed!)} (seed) and ${mb(cfgBytes.scale!)} (${pairs} pairs)\n\n`,
  );
  process.stdout.write('| what | median ms | p90 ms | x seed | peak RSS MB | n |\n|---|---:|---:|---:|---:|---:|\n');
  for (const r of rows)
    process.stdout.write(`| ${r.what} | ${r.median.toFixed(1)} | ${r.p90.toFixed(1)} | ${r.ratio!.toFixed(2)} | ${r.rssMb?.toFixed(1) ?? '-'} | ${r.n} |\n`);
  process.stdout.write('\nEvery rerun: exit 0, nothing changed and no live action reported, every file of the root the same (bytes, mode, mtime, inode).\n\n');
  process.stdout.write('| 8,000 ranges written as | validate ms | exit, code | provision ms | exit, code | n |\n|---|---:|---|---:|---|---:|\n');
  for (const r of ranges)
    process.stdout.write(
      `| ${r.what} | ${r.validate.ms.toFixed(1)} | ${r.validate.code}, ${r.validate.problem ?? '-'} | ${r.provision.ms.toFixed(1)} | ${r.provision.code}, ${r.provision.problem ?? '-'} | ${r.n} |\n`,
    );
}

await main();
