/**
 * Benchmark: the end-to-end scenario (test/harness/e2e-scenario.ts, what `npm run demo` runs), N times.
 * Reports, as medians over the runs:
 *   - boot-to-green: power-on (systemd-nspawn starts) → `haproxy-appliance verify` from the
 *     workstation has returned green; with its parts: boot finished (`systemctl
 *     is-system-running --wait`) and the first-boot unit's own run (`provision --boot`);
 *   - a rerun with changed properties (nameservers, Data Plane API port) and a no-op rerun
 *     (`haproxy-appliance provision` inside the appliance, timed from the host through nsenter,
 *     nothing to change), the latter repeated --noop N times per run;
 *   - the haproxy reloads of step 5 (reload → new listeners up);
 *   - each step's duration.
 * And the image cache's debootstrap time (from its first build).
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const min = (xs: number[]) => Math.min(...xs);
const max = (xs: number[]) => Math.max(...xs);

const results: ScenarioResult[] = [];
for (let i = 0; i < runs; i++) {
  const r = await runScenario({ log: (line) => process.stderr.write(`${line}\n`), noopRepeats, keepLogsOnFailure: true });
  if (!r.ok) {
    process.stderr.write(`bench/e2e.bench.ts: run ${i + 1} failed: ${r.error}\n`);
    process.exit(1);
  }
  results.push(r);
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

const pick = (f: (r: ScenarioResult) => number | undefined) => results.map(f).filter((x): x is number => x !== undefined);
const rows: Array<[string, number[]]> = [
  ['boot-to-green (power-on → verify green)', pick((r) => r.bootToGreenMs)],
  ['  power-on → boot finished (is-system-running)', pick((r) => r.bootedMs)],
  ['  first-boot unit (provision --boot)', pick((r) => r.agentBootMs)],
  ['haproxy reload → new listeners up', results.flatMap((r) => r.reloadsMs ?? [])],
  ['rerun, 2 properties changed (provision inside)', pick((r) => r.rerunMs)],
  [`no-op rerun (provision inside, nothing to change; ${noopRepeats} per run)`, results.flatMap((r) => r.noopRerunsMs ?? [])],
];
const steps = results[0]!.steps.map((s, i) => [s.step.split(':')[0]!, results.map((r) => r.steps[i]!.ms)] as [string, number[]]);

if (json) {
  process.stdout.write(
    `${JSON.stringify({ runs, noopRepeats, node: process.versions.node, debootstrapS, figures: Object.fromEntries(rows.map(([k, v]) => [k.trim(), { medianMs: median(v), minMs: min(v), maxMs: max(v), n: v.length }])), steps: Object.fromEntries(steps.map(([k, v]) => [k, median(v)])) }, null, 2)}\n`,
  );
} else {
  const f = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
  const out: string[] = [
    `runs: ${runs} (Node ${process.versions.node})${debootstrapS !== undefined ? `; image cache built by debootstrap in ${debootstrapS} s (first run only)` : ''}`,
    '',
    '| what | median | min | max | n |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const [k, v] of rows) out.push(`| ${k} | ${f(median(v))} | ${f(min(v))} | ${f(max(v))} | ${v.length} |`);
  out.push('', '| step | median |', '|---|---:|');
  for (const [k, v] of steps) out.push(`| ${k} | ${f(median(v))} |`);
  process.stdout.write(`${out.join('\n')}\n`);
}
