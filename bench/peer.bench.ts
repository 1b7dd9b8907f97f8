/**
 * Benchmark: the agent against a peer on the same boot — Debian's cloud-init (NoCloud) making the
 * same appliance (test/harness/peer-cloud-init.ts) — on the same bed (test/harness/appliance-image.ts:
 * the seed's networks, three NICs with the seed's MACs, systemd-nspawn). Interleaved, N runs each.
 *
 * Timed, for both: power-on (systemd-nspawn starts) → the first TCP connection accepted on a VIP,
 * from a client on the frontend network (fclient 172.16.10.50 → 192.168.0.3:6443, the guest
 * cluster's frontend of the seed's haproxy.cfg, in loadbalance.service_ip_range). Both appliances
 * carry the same haproxy.cfg: the agent's render of the seed with the seed's frontends/backends
 * appended (baked into the agent's image, which the agent keeps byte for byte; the peer's
 * through write_files). After each boot, the bench checks what it compares: the connection
 * reaches the backend, haproxy.cfg is that file byte for byte, and the policy rules, tables 200
 * and 201 and the AnyIP route are the same on both (the first run of each).
 *
 *   npm run build && node --import tsx bench/peer.bench.ts [--runs N] [--no-ra] [--json]
 *
 * --no-ra: the management network sends no IPv6 router advertisements (by default it does, as the
 * seed's SLAAC network).
 *
 * Root only. Everything a run creates (namespaces, processes, cgroups, the image copy) is removed
 * by the bed's cleanup, also when a run fails. Figures are in bench/README.md.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { ApplianceBed, seedEnvironment } from '../test/harness/appliance-image.js';
import { checkReadiness } from '../test/harness/image.js';
import { ruleLine, tableLines } from '../test/harness/ip-dump.js';
import { noCloudSeed, PeerBed, sharedConfig } from '../test/harness/peer-cloud-init.js';
import { median } from './common.js';

const args = process.argv.slice(2);
const runsArg = Number(args[args.indexOf('--runs') + 1]);
const runs = args.includes('--runs') && Number.isInteger(runsArg) && runsArg > 0 ? runsArg : 5;
const json = args.includes('--json');
// --no-ra: a management network without IPv6 router advertisements (seed-lan.ts); default: with.
const routerAdvertisements = !args.includes('--no-ra');
const log = (line: string) => process.stderr.write(`${line}\n`);

const CLIENT = 'fclient';
const VIP = '192.168.0.3';
const PORT = 6443;
const BACKEND = '172.16.10.3';

/** The agent; cloud-init with what its network-config says; cloud-init with the image's networkd drop-ins. */
const KINDS = ['agent', 'cloud-init', 'cloud-init, tuned image'] as const;
type Kind = (typeof KINDS)[number];
interface Run {
  kind: Kind;
  acceptMs: number;
  bootedMs: number;
  attempts: number;
  state: string;
  extra: string;
  net: string[];
}

const ready = await checkReadiness({ install: false });
if (!ready.ok) {
  log(`bench/peer.bench.ts: ${ready.reason}\nwhat to do: ${ready.fix}`);
  process.exit(2);
}

const work = await mkdtemp('/var/tmp/hpa-peer-bench-');
const shared = await sharedConfig(work).catch(async (e: unknown) => {
  await rm(work, { recursive: true, force: true });
  throw e;
});

async function one(kind: Kind): Promise<Run> {
  const app = kind === 'agent' ? new ApplianceBed() : new PeerBed();
  let failed = true;
  try {
    await app.prepareImage(log);
    if (app instanceof PeerBed) {
      await app.setSeed(noCloudSeed(shared.files));
      if (kind === 'cloud-init, tuned image') await app.tuneImage(shared.resolved);
    } else {
      // The image builder's part: the frontends in the image's haproxy.cfg (the agent keeps them).
      await writeFile(join(app.root, 'etc/haproxy/haproxy.cfg'), shared.haproxyCfg, { mode: 0o600 });
      await app.setEnvironment(seedEnvironment());
    }
    await app.wire({ routerAdvertisements });
    const probe = app.acceptProbe(CLIENT, VIP, PORT);
    const booting = app.boot({ timeoutMs: 120_000 });
    booting.catch(() => undefined);
    // A failed boot ends the wait at once; a finished boot leaves the VIP 30 s more.
    const accepted = await Promise.race([probe.accepted(120_000), booting.then(() => probe.accepted(30_000))]);
    const boot = await booting;
    const poweredOnAt = Date.now() - app.sinceBoot();
    await probe.stop();
    // What was compared: the path to the backend, the same haproxy.cfg, the same routing.
    const c = await app.connect(CLIENT, VIP, PORT);
    if (!c.ok || c.reply?.localAddress !== BACKEND) throw new Error(`${kind}: ${VIP}:${PORT} from ${CLIENT} did not reach ${BACKEND}: ${JSON.stringify(c)}`);
    if ((await app.haproxyCfg()) !== shared.haproxyCfg) throw new Error(`${kind}: haproxy.cfg is not the shared file`);
    const d = await app.bed.dump('appliance');
    const net = [
      ...d.rules.map(ruleLine),
      ...['200', '201'].flatMap((t) => tableLines(d, t).map((l) => `table ${t}: ${l}`)),
      ...tableLines(d, 'local')
        .filter((l) => l.startsWith('local 192.168.0.0/24'))
        .map((l) => `table local: ${l}`),
      ...tableLines(d, 'main').map((l) => `table main: ${l}`),
    ];
    let extra = `provision --boot ${Math.round(boot.agentMs)} ms (${boot.agentResult})`;
    if (app instanceof PeerBed) {
      const ci = await app.cloudInitReport();
      extra = ci.status.split('\n').join('; ');
    }
    failed = false;
    return { kind, acceptMs: accepted.at - poweredOnAt, bootedMs: boot.bootedMs, attempts: accepted.attempts, state: boot.systemState, extra, net };
  } catch (e) {
    log(await app.diagnostics().catch(() => '(no diagnostics)'));
    throw e;
  } finally {
    for (const n of await app.cleanup({ keepLogs: failed })) log(`    ${n}`);
  }
}

const results: Run[] = [];
const loadBefore = loadavg();
try {
  for (let i = 0; i < runs; i++) {
    // Interleaved, and the order rotated every run, so a drift of the machine's load hits all.
    const order: Kind[] = KINDS.map((_, j) => KINDS[(i + j) % KINDS.length]!);
    for (const kind of order) {
      const r = await one(kind);
      log(
        `run ${i + 1}/${runs} ${kind}: accepted after ${Math.round(r.acceptMs)} ms (${r.attempts} attempts); booted ${Math.round(r.bootedMs)} ms, ${r.state}; ${r.extra}`,
      );
      results.push(r);
    }
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
const loadAfter = loadavg();

// The peer is the same appliance only if the routing is the same.
const first = (k: Kind) => results.find((r) => r.kind === k)!.net;
const differs = KINDS.slice(1).map((k) => ({
  kind: k,
  onlyAgent: first('agent').filter((l) => !first(k).includes(l)),
  onlyPeer: first(k).filter((l) => !first('agent').includes(l)),
}));

const of = (k: Kind, f: (r: Run) => number) => results.filter((r) => r.kind === k).map(f);
const stat = (xs: number[]) => ({ medianMs: median(xs), minMs: Math.min(...xs), maxMs: Math.max(...xs), n: xs.length });
const figures = Object.fromEntries(
  KINDS.map((k) => [
    k,
    {
      accept: stat(of(k, (r) => r.acceptMs)),
      booted: stat(of(k, (r) => r.bootedMs)),
      ratioToAgent: median(of(k, (r) => r.acceptMs)) / median(of('agent', (r) => r.acceptMs)),
      status: results.find((r) => r.kind === k)!.extra,
    },
  ]),
);

if (json)
  process.stdout.write(
    `${JSON.stringify(
      {
        runs,
        routerAdvertisements,
        node: process.versions.node,
        cpus: cpus().length,
        loadavg: { before: loadBefore, after: loadAfter },
        figures,
        routingDiffers: differs,
        runsDetail: results.map(({ kind, acceptMs, bootedMs, attempts, state }) => ({ kind, acceptMs, bootedMs, attempts, state })),
      },
      null,
      2,
    )}\n`,
  );
else {
  const f = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
  const out = [
    `runs: ${runs} of each, interleaved, ${routerAdvertisements ? 'with' : 'without'} IPv6 RAs on management (Node ${process.versions.node}, ${cpus().length} CPUs, load ${loadBefore.map((x) => x.toFixed(2)).join(' ')} → ${loadAfter.map((x) => x.toFixed(2)).join(' ')})`,
    '',
    `| appliance | power-on → TCP accepted on ${VIP}:${PORT} (median) | min | max | ratio to the agent | power-on → boot finished (median) |`,
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const k of KINDS) {
    const a = figures[k]!;
    out.push(`| ${k} | ${f(a.accept.medianMs)} | ${f(a.accept.minMs)} | ${f(a.accept.maxMs)} | ${a.ratioToAgent.toFixed(2)}× | ${f(a.booted.medianMs)} |`);
  }
  out.push('');
  for (const d of differs)
    out.push(
      `routing of ${d.kind} (ip rule, tables 200/201, the AnyIP route, main) against the agent's: ${d.onlyAgent.length + d.onlyPeer.length === 0 ? 'the same' : `differs — agent only: ${d.onlyAgent.join('; ')}; ${d.kind} only: ${d.onlyPeer.join('; ')}`}`,
    );
  for (const k of KINDS) out.push(`${k}: ${figures[k]!.status}`);
  process.stdout.write(`${out.join('\n')}\n`);
}
