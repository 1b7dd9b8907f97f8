/**
 * Benchmark: the end-to-end scenario (test/harness/e2e-scenario.ts, what `npm run demo` runs), N times
 * on each of two management networks, interleaved: one whose router sends IPv6 router
 * advertisements (as the seed's) and one with no IPv6 router at all (as many real sites).
 * Reports, as medians over the runs of each:
 *   - boot-to-green: power-on (systemd-nspawn starts) → `haproxy-appliance verify` from the
 *     workstation has returned green (it runs as soon as sshd accepts, every 200 ms until green,
 *     beside the boot); with its parts: sshd accepts, boot finished (`systemctl
 *     is-system-running --wait`, which also waits for the trust store) and the first-boot unit's
 *     own run (`provision --boot`);
 *   - a rerun with changed properties (nameservers, Data Plane API port) and a no-op rerun
 *     (`haproxy-appliance provision` inside the appliance, timed from the host through nsenter,
 *     nothing to change), the latter repeated --noop N times per run;
 *   - the haproxy reloads of step 5 (reload → new listeners up);
 *   - each step's duration.
 * And the image cache's debootstrap time (from its first build), and `systemd-analyze
 * critical-chain ssh.service haproxy.service` of each network's first run.
 *
 *   npm run build && node --import tsx bench/e2e.bench.ts [--runs N] [--noop N] [--json]
 *
 * Root only (as the demo). Figures are in bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenario, type ScenarioResult } from '../test/harness/e2e-scenario.js';
import { median } from './common.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : def;
};
const runs = opt('--runs', 3);
const noopRepeats = opt('--noop', 10);
const json = args.includes('--json');

const min = (xs: number[]) => Math.min(...xs);
const max = (xs: number[]) => Math.max(...xs);

const NETWORKS = [
  { name: 'with IPv6 RAs', routerAdvertisements: true },
  { name: 'no IPv6 router', routerAdvertisements: false },
] as const;
const results: Record<string, ScenarioResult[]> = Object.fromEntries(NETWORKS.map((n) => [n.name, []]));
for (let i = 0; i < runs; i++) {
  for (const net of NETWORKS) {
    const r = await runScenario({
      log: (line) => process.stderr.write(`${line}\n`),
      noopRepeats,
      keepLogsOnFailure: true,
      routerAdvertisements: net.routerAdvertisements,
    });
    if (!r.ok) {
      process.stderr.write(`bench/e2e.bench.ts: run ${i + 1} (${net.name}) failed: ${r.error}\n`);
      process.exit(1);
    }
    results[net.name]!.push(r);
  }
}

// The image cache's first build, as scripts/test-image.sh recorded it.
let debootstrapS: number | undefined;
try {
  const base = execFileSync(join(ROOT, 'scripts/test-image.sh'), ['base'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const f = join(dirname(base), 'debootstrap-seconds');
  if (existsSync(f)) debootstrapS = Number(readFileSync(f, 'utf8').trim());
} catch {
  /* not cached: nothing to report */
}

const ROWS: Array<[string, (rs: ScenarioResult[]) => number[]]> = [
  ['boot-to-green (power-on → verify green)', (rs) => pick(rs, (r) => r.bootToGreenMs)],
  ['  power-on → sshd accepts (from the workstation)', (rs) => pick(rs, (r) => r.sshMs)],
  ['  power-on → boot finished (is-system-running)', (rs) => pick(rs, (r) => r.bootedMs)],
  ['  first-boot unit (provision --boot)', (rs) => pick(rs, (r) => r.agentBootMs)],
  ['haproxy reload → new listeners up', (rs) => rs.flatMap((r) => r.reloadsMs ?? [])],
  ['rerun, 2 properties changed (provision inside)', (rs) => pick(rs, (r) => r.rerunMs)],
  [`no-op rerun (provision inside, nothing to change; ${noopRepeats} per run)`, (rs) => rs.flatMap((r) => r.noopRerunsMs ?? [])],
];
function pick(rs: ScenarioResult[], f: (r: ScenarioResult) => number | undefined): number[] {
  return rs.map(f).filter((x): x is number => x !== undefined);
}
const stepsOf = (rs: ScenarioResult[]) => rs[0]!.steps.map((s, i) => [s.step.split(':')[0]!, rs.map((r) => r.steps[i]!.ms)] as [string, number[]]);

if (json) {
  const per = Object.fromEntries(
    NETWORKS.map(({ name }) => {
      const rs = results[name]!;
      return [
        name,
        {
          figures: Object.fromEntries(ROWS.map(([k, f]) => [k.trim(), ((v) => ({ medianMs: median(v), minMs: min(v), maxMs: max(v), n: v.length }))(f(rs))])),
          steps: Object.fromEntries(stepsOf(rs).map(([k, v]) => [k, median(v)])),
          criticalChain: rs[0]!.criticalChain,
        },
      ];
    }),
  );
  process.stdout.write(`${JSON.stringify({ runs, noopRepeats, node: process.versions.node, debootstrapS, networks: per }, null, 2)}\n`);
} else {
  const f = (ms: number) => (Number.isNaN(ms) ? '-' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
  const out: string[] = [
    `runs: ${runs} per network, interleaved (Node ${process.versions.node})${debootstrapS !== undefined ? `; image cache built by debootstrap in ${debootstrapS} s (first run only)` : ''}`,
  ];
  for (const { name } of NETWORKS) {
    const rs = results[name]!;
    out.push('', `### ${name}`, '', '| what | median | min | max | n |', '|---|---:|---:|---:|---:|');
    for (const [k, fn] of ROWS) {
      const v = fn(rs);
      out.push(`| ${k} | ${f(median(v))} | ${f(min(v))} | ${f(max(v))} | ${v.length} |`);
    }
    out.push('', '| step | median |', '|---|---:|');
    for (const [k, v] of stepsOf(rs)) out.push(`| ${k} | ${f(median(v))} |`);
    out.push('', '```', `$ systemd-analyze critical-chain ssh.service haproxy.service   # first run, ${name}`, rs[0]!.criticalChain ?? '(none)', '```');
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
