/**
 * The demo and the end-to-end test: one scenario, step by step, each timed.
 *
 *   1. image      the cached Debian bookworm root (debootstrap on first use), copied, agent installed
 *   2. network    namespaces like the seed: appliance NICs with kernel names, router, workstation,
 *                 clients, backends
 *   3. boot       the seed's properties as the OVF environment; systemd-nspawn boots the image; the
 *                 first-boot unit runs under real systemd and renames the NICs
 *   4. verify     `haproxy-appliance verify` from the workstation over SSH: green
 *   5. dataplane  what the Data Plane API would do: the seed's frontends/backends, reload; the
 *                 VIPs answer through haproxy from the clients
 *   6. rerun      new nameservers and Data Plane API port; `provision` inside the appliance while
 *                 a client keeps connecting to a VIP: nothing refused, frontends kept, green again
 *   7. cleanup    every namespace, link and process; also when a step failed
 *
 * Used by scripts/demo.ts (`npm run demo`) and test/e2e/appliance.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderText } from '../../src/verify/report.js';
import type { FleetReport } from '../../src/verify/types.js';
import { ADDR, ApplianceBed, OVF_ENV_INSIDE, seedEnvironment } from './appliance-image.js';
import type { ClientLoop, ClientLoopResult } from './client-loop.js';
import { verdict, type VerifyRun } from './e2e-verdict.js';
import { checkReadiness } from './image.js';
import { sleep } from './process.js';
import {
  CPVM_ADDRESSES,
  GUEST_BACKEND,
  GUEST_LISTENERS,
  guestSections,
  SEED_FRONTENDS,
  SUPERVISOR_LISTENERS,
  supervisorSections,
  VIP_LISTENERS,
} from './dataplane.js';

export interface StepTiming {
  step: string;
  ms: number;
  ok: boolean;
}

export interface ScenarioResult {
  ok: boolean;
  steps: StepTiming[];
  /**
   * Power-on → the first green verify (ms): verify runs from the workstation as soon as sshd
   * accepts a connection, again every 200 ms until green, beside the boot.
   */
  bootToGreenMs?: number;
  /** Power-on → sshd accepts a TCP connection from the workstation. */
  sshMs?: number;
  /** Power-on → boot finished (`systemctl is-system-running --wait`). */
  bootedMs?: number;
  /** How long the first-boot unit's `provision --boot` ran. */
  agentBootMs?: number;
  /** `systemd-analyze critical-chain ssh.service haproxy.service` after the first boot. */
  criticalChain?: string;
  /** `provision` with changed properties (step 6), and again with nothing to change. */
  rerunMs?: number;
  /** The median of the no-op reruns, and each one. */
  noopRerunMs?: number;
  noopRerunsMs?: number[];
  /** `systemctl reload haproxy` → the new listeners up (step 5, both reloads). */
  reloadsMs?: number[];
  /** The client loop during the haproxy reload (step 5) and the rerun (step 6). */
  duringReload?: ClientLoopResult;
  duringRerun?: ClientLoopResult;
  imageBuilt?: boolean;
  /**
   * The appliance's own surface after the first boot: every TCP/UDP listener (`tcp 0.0.0.0:22`),
   * and the verifier's `vip.exposed` results.
   */
  surface?: { listeners: string[]; exposed: Array<{ status: string; subject?: string; message: string }> };
  /** haproxy-appliance-trust-store.service at first boot, and whether the bundle holds the CA. */
  trustStore?: { loaded: boolean; result: string; ms: number; bundleHoldsCa: boolean };
  /** The bed's work directory (image root, logs); removed at the end unless logs are kept. */
  workDir?: string;
  error?: string;
  notes: string[];
}

export interface ScenarioOptions {
  /** Where progress goes (a line at a time). */
  log: (line: string) => void;
  /** Colour in the verify report. */
  color?: boolean;
  /** Install missing Debian packages (root, apt-get). Default true. */
  install?: boolean;
  /** Keep the logs (not the image root) in the work directory when a step fails. Default true. */
  keepLogsOnFailure?: boolean;
  /** How many no-op reruns to time at the end of step 6 (benchmarks); default 1. */
  noopRepeats?: number;
  /** The management network's router sends IPv6 router advertisements, as the seed's (default true). */
  routerAdvertisements?: boolean;
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The properties step 6 changes: new nameservers and a new Data Plane API port. */
export const CHANGED_PROPERTIES = { 'network.nameservers': '10.170.16.50, 10.142.7.2', 'loadbalance.dataplane_port': '5557' };

export class StepError extends Error {}

/** Starts counting once the loop has had 10 answers (the path works before anything changes). */
async function startLoop(loop: ClientLoop): Promise<ClientLoop> {
  for (let i = 0; i < 200 && loop.successes() < 10; i++) await sleep(25);
  if (loop.successes() < 10) {
    const r = await loop.stop();
    throw new StepError(`the client loop got no steady answers before the change: ${JSON.stringify(r)}`);
  }
  return loop;
}

/** Lets the loop run for 10 more answers after the change, then stops it. */
async function settleLoop(loop: ClientLoop): Promise<ClientLoopResult> {
  const before = loop.successes();
  for (let i = 0; i < 200 && loop.successes() < before + 10; i++) await sleep(25);
  return loop.stop();
}

const failuresOf = (r: ClientLoopResult) => Object.values(r.errors).reduce((a, b) => a + b, 0);

function describeLoop(r: ClientLoopResult): string {
  const f = failuresOf(r);
  return `client 192.168.5.10 → 192.168.0.1:6443: ${r.ok} connections answered in ${s(r.ms)}, ${f} failed${f ? ` (${JSON.stringify(r.errors)})` : ''}; by backend ${Object.entries(
    r.backends,
  )
    .sort()
    .map(([b, n]) => `${b} ${n}`)
    .join(', ')}`;
}

function indent(text: string, by = '      '): string {
  return text
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');
}

export async function runScenario(opts: ScenarioOptions): Promise<ScenarioResult> {
  const { log } = opts;
  const result: ScenarioResult = { ok: false, steps: [], notes: [] };
  const ready = await checkReadiness({ install: opts.install ?? true });
  if (!ready.ok) {
    result.error = `${ready.reason}\nwhat to do: ${ready.fix}`;
    return result;
  }
  if (ready.installed.length) log(`installed Debian packages: ${ready.installed.join(' ')}`);

  const app = new ApplianceBed();
  result.workDir = app.work;
  const total = 7;
  let n = 0;
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    n++;
    log(`\n[${n}/${total}] ${name}`);
    const t0 = performance.now();
    try {
      const r = await fn();
      const ms = performance.now() - t0;
      result.steps.push({ step: name, ms, ok: true });
      log(`    ✓ ${name} (${s(ms)})`);
      return r;
    } catch (e) {
      const ms = performance.now() - t0;
      result.steps.push({ step: name, ms, ok: false });
      log(`    ✗ ${name} failed after ${s(ms)}`);
      throw e;
    }
  };
  const showVerify = (v: VerifyRun, label: string) => {
    const text = renderText(v.report as unknown as FleetReport, { color: opts.color ?? false });
    log(indent(text.trimEnd(), '    '));
    const { green, accepted, unexpected } = verdict(v.report);
    if (!green) throw new StepError(`${label}: verify is not green (exit ${v.exitCode}):\n${unexpected.map((u) => `  - ${u}`).join('\n')}`);
    const names = (xs: string[]) => xs.map((a) => a.split(':')[0]).join(', ');
    log(
      `    verify: green in ${s(v.ms)} — ${accepted.length ? `the only failures are the Data Plane API's, which is not installed here: ${names(accepted)}` : 'no failures'}`,
    );
  };

  try {
    const image = await step('image: Debian bookworm + systemd, haproxy, sshd; the agent via firstboot/install.sh', async () => {
      const r = await app.prepareImage(log);
      log(`    base ${r.base} (${r.built ? `built in ${s(r.baseMs)}` : 'cached'}); working copy + install ${s(r.copyMs)}`);
      return r;
    });
    result.imageBuilt = image.built;

    await step('network: appliance NICs, router, workstation, clients, backends (namespaces)', async () => {
      const ra = opts.routerAdvertisements ?? true;
      const { kernelNames } = await app.wire({ routerAdvertisements: ra });
      log(
        `    appliance NICs: ${Object.entries(kernelNames)
          .map(([role, k]) => `${k} (the ${role} MAC)`)
          .join(', ')} — down, as at power-on`,
      );
      log(
        `    router: br-mgmt 10.191.191.254/20 (${ra ? '+RA fd01:3:7:404::/64' : 'no IPv6 router advertisements'}), br-wl 192.168.1.1/16, br-fe 172.16.10.1/24`,
      );
      log(
        `    workstation ${ADDR.workstation}; clients ${ADDR.wclient} (workload), ${ADDR.fclient} (frontend); backends ${CPVM_ADDRESSES.join(', ')} :6443/:443, ${GUEST_BACKEND}:6443`,
      );
    });

    await step("boot: the seed's properties as the OVF environment; systemd-nspawn boots the image", async () => {
      await app.setEnvironment(seedEnvironment());
      // The admin's view beside the boot: verify from the workstation as soon as sshd answers.
      const watch = app.verifyUntilGreen((v) => verdict(v.report).green);
      const [b, green] = await Promise.all([app.boot(), watch]);
      result.sshMs = green.sshMs;
      if (green.greenMs !== undefined) result.bootToGreenMs = green.greenMs;
      log(
        `    from the workstation: sshd answered ${s(green.sshMs)} after power-on; verify ${green.greenMs !== undefined ? `green at ${s(green.greenMs)} (attempt ${green.runs})` : `not green after ${green.runs} attempts`}`,
      );
      log(`    booted in ${s(b.bootedMs)} (system ${b.systemState}); ${b.analyze}`);
      log(`    haproxy-appliance.service: ${b.agentResult}, provision --boot ran ${s(b.agentMs)}`);
      log(
        indent(
          b.agentLog
            .split('\n')
            .filter((l) => !l.startsWith('created ') && !l.startsWith('updated '))
            .join('\n'),
        ),
      );
      log(`    NICs: ${b.renames.map((r) => `${r.before} → ${r.after}`).join(', ')}`);
      if (b.agentResult !== 'active/success') throw new StepError(`the first-boot unit did not succeed (${b.agentResult}):\n${b.agentLog}`);
      if (b.systemState !== 'running') {
        throw new StepError(
          `the appliance booted ${b.systemState}, not running; failed units:\n${b.failedUnits.map((u) => `  ${u.unit}:\n${indent(u.log, '    ')}`).join('\n') || '  (none listed)'}`,
        );
      }
      const roleOf: Record<string, string> = { '00:50:56:b1:20:5e': 'management', '00:50:56:b1:8d:33': 'workload', '00:50:56:b1:8a:41': 'frontend' };
      const wrong = b.renames.filter((r) => roleOf[r.mac] !== r.after);
      if (wrong.length) throw new StepError(`NICs not renamed to their roles: ${wrong.map((w) => `${w.mac} is ${w.after}`).join(', ')}`);
      result.bootedMs = b.bootedMs;
      result.agentBootMs = b.agentMs;
      result.criticalChain = b.criticalChain;
      const bundle = await readFile(join(app.root, 'etc/ssl/certs/ca-certificates.crt'), 'utf8').catch(() => '');
      const ca = (await readFile(join(app.root, 'etc/haproxy/ca.crt'), 'utf8')).trim();
      result.trustStore = { ...b.trustStore, bundleHoldsCa: ca.length > 0 && bundle.includes(ca) };
      log(
        `    trust store (haproxy-appliance-trust-store.service, after the services): ${b.trustStore.result} in ${s(b.trustStore.ms)}; the bundle ${result.trustStore.bundleHoldsCa ? 'holds' : 'LACKS'} the appliance CA`,
      );
    });

    await step('verify: haproxy-appliance verify root@10.191.181.52 from the workstation, over SSH', async () => {
      const v = await app.verify();
      showVerify(v, 'after first boot');
      // Green now, so the watcher beside the boot saw green too (it has no other way to stop early).
      if (result.bootToGreenMs === undefined) throw new StepError('verify is green now but was not during the boot: the watcher gave up');
      log(`    boot-to-green: ${s(result.bootToGreenMs)} (verify from the workstation while the appliance booted)`);
      const exposed = (v.report.hosts[0]?.checks ?? [])
        .filter((c) => c.id === 'vip.exposed')
        .map((c) => ({ status: c.status, ...(c.subject !== undefined && { subject: c.subject }), message: c.message }));
      result.surface = { listeners: await app.allListeners(), exposed };
      log(`    listeners inside the appliance: ${result.surface.listeners.join(', ')}`);
    });

    await step("dataplane: the seed's frontends and backends, as the Data Plane API adds them; reload haproxy", async () => {
      const sup = await app.addLoadBalancer(supervisorSections(), SUPERVISOR_LISTENERS);
      log(
        `    the Supervisor's kube-apiserver: frontend on ${SUPERVISOR_LISTENERS.join(', ')}, backends ${CPVM_ADDRESSES.join(', ')} (# _version=${sup.version}); reloaded in ${s(sup.reloadMs)}`,
      );
      // A guest cluster is added while a client keeps using the Supervisor's VIP: haproxy's
      // reload hands its listening sockets over, so no connection is refused.
      const loop = await startLoop(app.clientLoop('wclient', '192.168.0.1', 6443));
      const guest = await app.addLoadBalancer(guestSections(), GUEST_LISTENERS);
      const during = await settleLoop(loop);
      log(
        `    a guest cluster: frontend on ${GUEST_LISTENERS.join(', ')}, backend ${GUEST_BACKEND}:6443 (# _version=${guest.version}); reloaded in ${s(guest.reloadMs)}`,
      );
      log(`    ${describeLoop(during)} during that reload`);
      result.duringReload = during;
      result.reloadsMs = [sup.reloadMs, guest.reloadMs];
      if (failuresOf(during)) throw new StepError(`connections failed during the haproxy reload: ${JSON.stringify(during.errors)}`);
      const netstat = await app.mustInside(['netstat', '-tnlp']);
      log(`    inside the appliance, netstat -tnlp:\n${indent(netstat.stdout.trim())}`);
      const probes: Array<['wclient' | 'fclient', string, number, readonly string[]]> = [
        ['wclient', '192.168.0.1', 6443, CPVM_ADDRESSES],
        ['wclient', '192.168.0.1', 443, CPVM_ADDRESSES],
        ['fclient', '192.168.0.3', 6443, [GUEST_BACKEND]],
      ];
      for (const [ns, host, port, backends] of probes) {
        const r = await app.connect(ns, host, port);
        if (!r.ok || !r.reply) throw new StepError(`${ns} → ${host}:${port}: ${r.error ?? 'no reply'}`);
        if (!backends.includes(r.reply.localAddress))
          throw new StepError(`${ns} → ${host}:${port} reached ${r.reply.localAddress}, not one of ${backends.join(', ')}`);
        log(
          `    ${ns} ${r.localAddress} → ${host}:${port} → haproxy → backend ${r.reply.localAddress}:${r.reply.localPort} (haproxy connected from ${r.reply.remoteAddress})`,
        );
      }
    });

    await step('rerun: new nameservers and Data Plane API port; provision inside the appliance under load', async () => {
      const loop = await startLoop(app.clientLoop('wclient', '192.168.0.1', 6443));
      await app.setEnvironment(seedEnvironment(CHANGED_PROPERTIES));
      log(
        `    properties changed: ${Object.entries(CHANGED_PROPERTIES)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}`,
      );
      const run = await app.inside(['haproxy-appliance', 'provision', '--ovf-env', OVF_ENV_INSIDE], { timeoutMs: 120_000 });
      result.rerunMs = run.ms;
      log(indent(`${run.stderr.trim()}\n${run.stdout.trim()}`.trim()));
      if (run.exitCode !== 0) {
        await loop.stop().catch(() => undefined);
        throw new StepError(`provision exited ${run.exitCode}`);
      }
      const during = await settleLoop(loop);
      result.duringRerun = during;
      log(`    ${describeLoop(during)} during the rerun`);
      if (failuresOf(during)) throw new StepError(`connections failed during the rerun: ${JSON.stringify(during.errors)}`);
      const kept = await app.seedFrontendsPresent();
      if (kept.length !== SEED_FRONTENDS.length) throw new StepError(`the rerun lost frontends: haproxy.cfg has ${kept.length} of ${SEED_FRONTENDS.length}`);
      await app.waitForListeners(VIP_LISTENERS, 5_000);
      log(`    frontends kept in haproxy.cfg; still listening on ${VIP_LISTENERS.join(', ')}`);
      const v = await app.verify();
      showVerify(v, 'after the rerun');
      const dns = v.report.hosts[0]?.checks.find((c) => c.id === 'dns');
      if (dns?.status !== 'pass' || !dns.message.includes('10.170.16.50'))
        throw new StepError(`the new nameservers are not in effect: ${dns?.status} ${dns?.message}`);
      const noops: number[] = [];
      let last = '';
      for (let i = 0; i < Math.max(1, opts.noopRepeats ?? 1); i++) {
        // As an admin types it: the environment found through /etc/default/haproxy-appliance.
        const noop = await app.inside(['haproxy-appliance', 'provision'], { timeoutMs: 120_000 });
        last = noop.stdout.trim().split('\n').pop() ?? '';
        if (noop.exitCode !== 0 || !/nothing to change/u.test(last))
          throw new StepError(`the no-op rerun changed something or failed (exit ${noop.exitCode}):\n${noop.stdout}\n${noop.stderr}`);
        noops.push(noop.ms);
      }
      result.noopRerunsMs = noops;
      result.noopRerunMs = [...noops].sort((a, b) => a - b)[Math.floor(noops.length / 2)];
      log(`    once more, nothing changed: ${last} (${noops.length > 1 ? `median of ${noops.length}: ` : ''}${s(result.noopRerunMs!)})`);
      // The unit again, on a running system: an ordinary rerun (nothing to do), not boot mode.
      const unit = await app.inside(['sh', '-c', 'systemctl restart haproxy-appliance.service && journalctl -u haproxy-appliance.service -n 3 -o cat'], {
        timeoutMs: 120_000,
      });
      if (unit.exitCode !== 0 || !/nothing to change/u.test(unit.stdout))
        throw new StepError(`systemctl restart haproxy-appliance failed or changed something (exit ${unit.exitCode}):\n${unit.stdout}\n${unit.stderr}`);
      log('    systemctl restart haproxy-appliance: nothing to change');
    });
    result.ok = true;
  } catch (e) {
    result.error = (e as Error).message;
    log(`\nFAILED: ${result.error}`);
    try {
      log(await app.diagnostics());
    } catch {
      /* best effort */
    }
  } finally {
    n = total - 1;
    try {
      await step('cleanup: power off, every namespace, link and process', async () => {
        const notes = await app.cleanup({ keepLogs: !result.ok && (opts.keepLogsOnFailure ?? true) });
        for (const note of notes) log(`    ${note}`);
        result.notes.push(...notes);
      });
    } catch (e) {
      result.ok = false;
      result.error ??= `cleanup: ${(e as Error).message}`;
    }
  }

  log('\nsteps:');
  for (const t of result.steps) log(`  ${t.ok ? '✓' : '✗'} ${s(t.ms).padStart(7)}  ${t.step}`);
  if (result.bootToGreenMs !== undefined) {
    log(
      `boot-to-green: ${s(result.bootToGreenMs)} (booted ${s(result.bootedMs ?? 0)}, provision --boot ${s(result.agentBootMs ?? 0)}); rerun ${result.rerunMs !== undefined ? s(result.rerunMs) : '-'}, no-op rerun ${result.noopRerunMs !== undefined ? s(result.noopRerunMs) : '-'}`,
    );
  }
  return result;
}
