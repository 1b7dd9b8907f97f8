/**
 * Issue #12, section 3, on the booted appliance: the e2e bed's image (test/harness/appliance-image.ts:
 * Debian, real systemd, the real haproxy.service, the agent installed) with N frontend/backend
 * pairs written as the Data Plane API writes them (test/harness/api-pairs.ts; VIPs over the
 * seed's service range, servers the seed's control-plane VMs). Then, while a client on the
 * workload network keeps connecting to one of those VIPs, `provision` runs inside the appliance
 * with a new Data Plane API password (the userlist changes), and again with nothing to change.
 *
 * Reloads are counted by haproxy itself: its master CLI (`show proc` on /run/haproxy-master.sock,
 * the socket Debian's unit gives it) says how many times the master reloaded, and systemd says
 * the master is the same process (MainPID; a restart would change it).
 *
 * Used by test/e2e/scale-rerun.test.ts (a size CI affords) and bench/scale-provision.bench.ts
 * --booted (10,000 pairs).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isManaged, parseSections } from '../../src/plan/haproxy-sections.js';
import { ApplianceBed, OVF_ENV_INSIDE, seedEnvironment } from './appliance-image.js';
import { apiPairs } from './api-pairs.js';
import type { ClientLoopResult } from './client-loop.js';
import { CPVM_ADDRESSES, SUPERVISOR_LISTENERS, supervisorSections } from './dataplane.js';
import { checkReadiness } from './image.js';
import { sleep } from './process.js';

export interface ScaleRerunOptions {
  pairs: number;
  /** No-op reruns after the password change (each timed). */
  noopRuns?: number;
  log?: (line: string) => void;
}

export interface HaproxyProcs {
  masterPid: number;
  /** The master's reload count (`show proc`). */
  reloads: number;
  workers: number[];
}

export interface ScaleRerunResult {
  /** The bed's id (its namespaces are `hpa-<id>-*`) and work directory, for the leak checks. */
  bedId: string;
  workDir: string;
  pairs: number;
  cfgBytes: number;
  /** The VIP the client used. */
  vip: string;
  /** The API's write and reload of the N pairs → every listener up (ms). */
  loadMs: number;
  /** provision with the new password, timed from the host (nsenter → exit). */
  rerunMs: number;
  rerunOutput: string;
  /** Master reloads the rerun caused, and whether the master stayed the same process. */
  reloadsByRerun: number;
  sameMaster: boolean;
  before: HaproxyProcs;
  after: HaproxyProcs;
  /** The client loop over the rerun. */
  during: ClientLoopResult;
  failed: number;
  /** Every section but the agent's three the same, byte for byte, in the same order. */
  sectionsKept: boolean;
  userlistChanged: boolean;
  noopMs: number[];
  reloadsByNoops: number;
}

/** `show proc` on haproxy's master socket, inside the appliance (perl: the image has no socat). */
async function showProc(app: ApplianceBed): Promise<HaproxyProcs> {
  const script =
    'use IO::Socket::UNIX; my $s = IO::Socket::UNIX->new(Peer => "/run/haproxy-master.sock") or die "master socket: $!\\n"; $s->autoflush(1); print $s "show proc\\n"; shutdown($s, 1); print while <$s>;';
  const r = await app.mustInside(['perl', '-e', script]);
  const master = /^(\d+)\s+master\s+(\d+)/mu.exec(r.stdout);
  if (!master) throw new Error(`no master line in show proc:\n${r.stdout}`);
  const workersPart = r.stdout.split('# workers')[1]?.split('#')[0] ?? '';
  const workers = [...workersPart.matchAll(/^(\d+)\s+worker/gmu)].map((m) => Number(m[1]));
  return { masterPid: Number(master[1]), reloads: Number(master[2]), workers };
}

/** The sections of haproxy.cfg the agent does not own, as text, in order. */
const apiSections = (cfg: string) =>
  parseSections(cfg)
    .sections.filter((s) => !isManaged(s))
    .map((s) => s.text);
const userlist = (cfg: string) => parseSections(cfg).sections.find((s) => s.keyword === 'userlist' && s.name === 'controller')?.text;

export async function bootedScaleRerun(opts: ScaleRerunOptions): Promise<ScaleRerunResult> {
  const log = opts.log ?? (() => undefined);
  const ready = await checkReadiness({ install: false });
  if (!ready.ok) throw new Error(`${ready.reason}\nwhat to do: ${ready.fix}`);
  const app = new ApplianceBed();
  let ok = false;
  try {
    const image = await app.prepareImage(log);
    log(`image ${image.base} (${image.built ? 'built' : 'cached'}), copied in ${(image.copyMs / 1000).toFixed(1)} s`);
    await app.wire();
    await app.setEnvironment(seedEnvironment());
    const boot = await app.boot();
    if (boot.agentResult !== 'active/success' || boot.systemState !== 'running')
      throw new Error(`the appliance did not boot clean: agent ${boot.agentResult}, system ${boot.systemState}\n${boot.agentLog}`);
    log(`booted in ${(boot.bootedMs / 1000).toFixed(1)} s`);

    // The Data Plane API's work: the Supervisor's sections and N pairs, no health checks (N x 3
    // checks every 2 s would load this 2-core machine, and they are not what is measured).
    const pairs = apiPairs(opts.pairs, { check: false, servers: CPVM_ADDRESSES.map((a) => `${a}:6443`) });
    const vip = pairs.listeners.at(-1)!;
    const t0 = performance.now();
    await app.addLoadBalancer(`${supervisorSections()}\n${pairs.text}`, [...SUPERVISOR_LISTENERS, pairs.listeners[0]!, vip]);
    // Every listener, counted (ss -Htnl inside).
    for (let i = 0; ; i++) {
      const have = new Set(await app.tcpListeners());
      const missing = pairs.listeners.filter((l) => !have.has(l)).length;
      if (missing === 0) break;
      if (i > 600) throw new Error(`${missing} of ${pairs.listeners.length} listeners are not up`);
      await sleep(100);
    }
    const loadMs = performance.now() - t0;
    const cfgBefore = await app.haproxyCfg();
    log(`${opts.pairs} pairs (${(cfgBefore.length / 1e6).toFixed(1)} MB haproxy.cfg) listening ${(loadMs / 1000).toFixed(1)} s after the API's write`);
    const [host, port] = [vip.slice(0, vip.lastIndexOf(':')), Number(vip.slice(vip.lastIndexOf(':') + 1))];
    const probe = await app.connect('wclient', host, port);
    if (!probe.ok) throw new Error(`wclient → ${vip}: ${probe.error}`);

    const before = await showProc(app);
    const mainPid = async () => (await app.mustInside(['systemctl', 'show', '-p', 'MainPID', '--value', 'haproxy.service'])).stdout.trim();
    const mainBefore = await mainPid();
    const loop = app.clientLoop('wclient', host, port);
    for (let i = 0; i < 400 && loop.successes() < 10; i++) await sleep(25);
    if (loop.successes() < 10) throw new Error(`the client loop got no steady answers: ${JSON.stringify(await loop.stop())}`);

    await app.setEnvironment(seedEnvironment({ 'loadbalance.haproxy_pwd': 'rotated-api-password' }));
    const run = await app.inside(['haproxy-appliance', 'provision', '--ovf-env', OVF_ENV_INSIDE], { timeoutMs: 300_000 });
    if (run.exitCode !== 0) {
      await loop.stop().catch(() => undefined);
      throw new Error(`provision exited ${run.exitCode}:\n${run.stdout}\n${run.stderr}`);
    }
    // Let the loop go on past the reload: 10 answers from the new worker at least.
    const mark = loop.successes();
    for (let i = 0; i < 400 && loop.successes() < mark + 10; i++) await sleep(25);
    // The old worker hands over and ends; wait for the reload to be counted (it is, at once).
    const during = await loop.stop();
    const after = await showProc(app);
    const cfgAfter = await app.haproxyCfg();

    const noopMs: number[] = [];
    for (let i = 0; i < (opts.noopRuns ?? 3); i++) {
      const noop = await app.inside(['haproxy-appliance', 'provision', '--ovf-env', OVF_ENV_INSIDE], { timeoutMs: 300_000 });
      if (noop.exitCode !== 0 || !/nothing to change/u.test(noop.stdout))
        throw new Error(`the no-op rerun failed or changed something:\n${noop.stdout}\n${noop.stderr}`);
      noopMs.push(noop.ms);
    }
    const afterNoops = await showProc(app);
    const cfgEnd = await readFile(join(app.root, 'etc/haproxy/haproxy.cfg'), 'utf8');
    const kept = apiSections(cfgBefore);
    ok = true;
    return {
      bedId: app.bed.id,
      workDir: app.work,
      pairs: opts.pairs,
      cfgBytes: Buffer.byteLength(cfgBefore),
      vip,
      loadMs,
      rerunMs: run.ms,
      rerunOutput: `${run.stdout}${run.stderr}`,
      reloadsByRerun: after.reloads - before.reloads,
      sameMaster: after.masterPid === before.masterPid && (await mainPid()) === mainBefore,
      before,
      after,
      during,
      failed: Object.values(during.errors).reduce((a, b) => a + b, 0),
      sectionsKept:
        JSON.stringify(apiSections(cfgAfter)) === JSON.stringify(kept) &&
        JSON.stringify(apiSections(cfgEnd)) === JSON.stringify(kept) &&
        kept.length === 2 * opts.pairs + 3,
      userlistChanged: userlist(cfgAfter) !== userlist(cfgBefore) && cfgEnd === cfgAfter,
      noopMs,
      reloadsByNoops: afterNoops.reloads - after.reloads,
    };
  } catch (e) {
    log(await app.diagnostics().catch(() => ''));
    throw e;
  } finally {
    const notes = await app.cleanup({ keepLogs: !ok });
    for (const n of notes) log(n);
  }
}
