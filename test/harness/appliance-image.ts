/**
 * The whole product the way users meet it, on this machine: a Debian bookworm image with the
 * agent baked in (scripts/test-image.sh → firstboot/install.sh) boots under systemd-nspawn — real
 * systemd as PID 1 — inside a network namespace wired like the seed, the first-boot unit
 * configures it from its OVF environment, and the verifier runs from a workstation namespace.
 *
 *   workstation 10.191.180.10/20 ─┐                       ┌─ appliance (nspawn, systemd)
 *                                 br-mgmt 10.191.191.254 ─┼─ eth2 → management 00:50:56:b1:20:5e
 *   wclient 192.168.5.10/16 ─────┐  (+ IPv6 RAs: fd01:3:7:404::/64, as the seed's SLAAC)
 *   cpvm 192.168.128.0-2/16 ─────┴ br-wl 192.168.1.1/16 ──┼─ eth0 → workload   00:50:56:b1:8d:33
 *   fclient 172.16.10.50/24 ─────┐                        │
 *   guest 172.16.10.3/24 ────────┴ br-fe 172.16.10.1/24 ──┴─ eth1 → frontend   00:50:56:b1:8a:41
 *                                 (router: bridges, forwarding)
 *
 * The appliance's NICs are created with kernel names in an order that matches no role, so the
 * agent has to find them by MAC and rename them itself (udev does not run in a container).
 *
 * Safety: only namespaces of the test bed (`hpa-<random>-*`); every process is started here and
 * ended by PID (the nspawn process, then the container's init if it outlived it); the image root
 * lives in a fresh directory under /var/tmp and is deleted at the end — never while anything is
 * mounted below it. Nothing touches the host's interfaces, routes or services; no packet leaves
 * the namespaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { createTestBed, type ConnectResult, type ListenHandle, type TestBed } from './netns.js';
import { ovfEnv, SEED_MACS, SEED_PROPERTIES, type Adapter } from './ovf.js';
import { addSections, SEED_FRONTENDS } from './dataplane.js';
import { cleanupOnExit } from './exit-hook.js';
import { startAcceptProbe, startClientLoop, type AcceptProbe, type ClientLoop } from './client-loop.js';
import type { VerifyRun } from './e2e-verdict.js';
import { HOST_PATH, parseShow, prepareImage, tail } from './image.js';
import { containerInit, makeCgroups, removeCgroups, removeCgroupsSync, removeNspawnRuntime } from './nspawn.js';
import { isAlive, signal, sleep, terminate } from './process.js';
import { addApplianceNics } from './seed-topology.js';
import { ADDR as LAN, BRIDGE, verifyFromWorkstation, wireSeedLan, type SeedLanOptions } from './seed-lan.js';

const PATH_INSIDE = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Where the appliance finds its OVF environment (the file transport: OVF_ENV= in its defaults). */
export const OVF_ENV_DIR_INSIDE = '/mnt/ovf-env';
export const OVF_ENV_INSIDE = `${OVF_ENV_DIR_INSIDE}/ovf-env.xml`;

export { ADDR } from './seed-lan.js';

/** The seed's adapters, in unit-number order (management, workload, frontend), as vSphere lists them. */
export const SEED_ADAPTERS: Adapter[] = [
  { mac: SEED_MACS.management, network: 'mgmt-pg', unit: 7 },
  { mac: SEED_MACS.workload, network: 'workload-pg', unit: 8 },
  { mac: SEED_MACS.frontend, network: 'frontend-pg', unit: 9 },
];

/** The OVF environment document for these properties (the seed's by default). */
export function seedEnvironment(overrides: Record<string, string> = {}): string {
  return ovfEnv({ ...SEED_PROPERTIES, ...overrides }, SEED_ADAPTERS);
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  ms: number;
}

export interface BootInfo {
  /** nspawn started → `systemctl is-system-running --wait` returned. */
  bootedMs: number;
  systemState: string;
  /** The first-boot unit: its result and how long `provision --boot` ran. */
  agentResult: string;
  agentMs: number;
  agentLog: string;
  /** `systemd-analyze` inside the container. */
  analyze: string;
  /** `systemd-analyze critical-chain ssh.service haproxy.service`: what each waited for. */
  criticalChain: string;
  /** Kernel names the NICs had before the agent renamed them, and the names they have now. */
  renames: Array<{ mac: string; before: string; after: string }>;
  /** Units that failed during boot, each with the last lines of its journal. */
  failedUnits: Array<{ unit: string; log: string }>;
  /** haproxy-appliance-trust-store.service at this boot: its result and how long it ran (ms). */
  trustStore: { loaded: boolean; result: string; ms: number };
}

export class ApplianceBed {
  /** Unregisters the last-resort cleanup (see test/harness/exit-hook.ts). */
  private forgetExitHook: () => void = () => undefined;
  readonly id = randomBytes(3).toString('hex');
  readonly machine = `hpa-e2e-${this.id}`;
  readonly work = join(process.env.HPA_E2E_WORKDIR ?? '/var/tmp', `hpa-e2e-${this.id}`);
  readonly root = join(this.work, 'root');
  readonly envDir = join(this.work, 'ovf-env');
  readonly consoleLog = join(this.work, 'console.log');
  readonly knownHosts = join(this.work, 'known_hosts');
  readonly bed: TestBed = createTestBed();
  private nspawn?: ChildProcess;
  private initPid?: number;
  private startedAt = 0;
  private readonly children = new Set<ChildProcess>();
  private readonly listeners: ListenHandle[] = [];
  private cleaned = false;
  private readonly cgroupDirs: string[] = [];
  /** What nspawn keeps under /run/systemd/nspawn for this machine (removed by nspawn on a clean exit). */
  private nspawnRuntime: string[] = [];

  constructor() {
    this.forgetExitHook = cleanupOnExit(() => this.cleanupSync());
  }

  /** Synchronous, best-effort variant of {@link cleanup} for the exit hook. */
  cleanupSync(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    this.forgetExitHook();
    const pids = [this.nspawn?.pid, this.initPid, ...[...this.children].map((c) => c.pid)].filter((p): p is number => p !== undefined);
    for (const pid of pids) signal(pid, 'SIGKILL');
    const wait = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 30 && this.initPid !== undefined && isAlive(this.initPid); i++) Atomics.wait(wait, 0, 0, 100);
    removeCgroupsSync(this.cgroupDirs.splice(0));
    removeNspawnRuntime(this.nspawnRuntime.splice(0));
    this.bed.cleanupSync();
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${this.work}`);
    if (!mounted) rmSync(this.work, { recursive: true, force: true });
  }

  /** The image: the cached Debian root (built on first use), copied, with the agent installed. */
  prepareImage(log: (line: string) => void): Promise<{ baseMs: number; built: boolean; copyMs: number; base: string }> {
    return prepareImage(this.work, this.root, [`OVF_ENV=${OVF_ENV_INSIDE}`], log);
  }

  /** The namespaces and links of the diagram above, the router's RAs (unless off), and the backends (seed-lan.ts). */
  async wire(lan: SeedLanOptions = {}): Promise<{ kernelNames: Record<'management' | 'workload' | 'frontend', string> }> {
    const b = this.bed;
    // lo stays down like at power-on: systemd brings it up in the container.
    await b.addNamespace('appliance', { loopbackUp: false });
    this.listeners.push(...(await wireSeedLan(b, this.work, lan)));
    // The appliance's NICs: kernel names in an order that matches no role; down, as at boot.
    const nics = await addApplianceNics(b, {
      order: ['workload', 'frontend', 'management'],
      peer: (role) => ({ ns: 'router', dev: { management: 'app-mg', workload: 'app-wl', frontend: 'app-fe' }[role], bridge: BRIDGE[role] }),
    });
    return { kernelNames: { workload: nics.workload!.a, frontend: nics.frontend!.a, management: nics.management!.a } };
  }

  /** Writes the OVF environment the appliance reads (atomically: a reader never sees half a file). */
  async setEnvironment(xml: string): Promise<void> {
    await mkdir(this.envDir, { recursive: true });
    const tmp = join(this.envDir, `.ovf-env.xml.${process.pid}`);
    await writeFile(tmp, xml, { mode: 0o644 });
    await rename(tmp, join(this.envDir, 'ovf-env.xml'));
  }

  /** Powers the appliance on: systemd-nspawn boots the image in the appliance namespace. */
  async boot(opts: { timeoutMs?: number } = {}): Promise<BootInfo> {
    const netns = `/run/netns/${this.bed.nsName('appliance')}`;
    const before = await this.bed.ipJson<Array<{ ifname: string; address?: string }>>('appliance', ['link']);
    const out = openSync(this.consoleLog, 'a');
    this.startedAt = performance.now();
    try {
      // `nsenter --net` first: nspawn mounts the container's /sys before it joins
      // --network-namespace-path, so /sys/class/net would show the host's NICs (systemd 252);
      // started inside the namespace, its sysfs shows the appliance's. sh, setpriv and nsenter
      // exec, so the PID is nspawn's.
      // With --keep-unit, nspawn splits the cgroup it runs in into payload/ and supervisor/. It
      // gets a cgroup of its own (per hierarchy systemd uses), so two beds never share one and
      // cleanup can remove exactly what this boot created.
      const cgroups = makeCgroups(this.machine);
      this.cgroupDirs.push(...cgroups);
      const st = statSync(this.root);
      this.nspawnRuntime = [`/run/systemd/nspawn/propagate/${this.machine}`, `/run/systemd/nspawn/locks/inode-${st.dev}:${st.ino}`];
      this.nspawn = spawn(
        'sh',
        [
          '-c',
          'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 97; shift; n=$((n - 1)); done; exec "$@"',
          'sh',
          String(cgroups.length),
          ...cgroups.map((c) => join(c, 'cgroup.procs')),
          // If this process dies without cleaning up (SIGKILL), nspawn gets SIGTERM and powers the
          // container off instead of running on.
          'setpriv',
          '--pdeathsig',
          'TERM',
          'nsenter',
          `--net=${netns}`,
          'systemd-nspawn',
          '--quiet',
          '--boot',
          `--directory=${this.root}`,
          `--machine=${this.machine}`,
          `--network-namespace-path=${netns}`,
          '--capability=CAP_NET_ADMIN',
          '--register=no',
          '--keep-unit',
          '--resolv-conf=off',
          '--link-journal=no',
          '--timezone=off',
          '--console=read-only',
          `--bind-ro=${this.envDir}:${OVF_ENV_DIR_INSIDE}`,
        ],
        { stdio: ['ignore', out, out], env: { PATH: HOST_PATH, TERM: 'dumb', SYSTEMD_COLORS: '0' } },
      );
    } finally {
      closeSync(out);
    }
    const nspawn = this.nspawn;
    let exited = false;
    nspawn.once('exit', () => (exited = true));
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    // The container's init: nspawn's child.
    while (this.initPid === undefined) {
      if (exited) throw new Error(`systemd-nspawn exited (${nspawn.exitCode ?? nspawn.signalCode}):\n${this.consoleTail()}`);
      if (Date.now() > deadline) throw new Error(`the container did not start:\n${this.consoleTail()}`);
      this.initPid = containerInit(nspawn.pid!);
      if (this.initPid === undefined) await sleep(50);
    }
    let state: string;
    for (;;) {
      if (exited) throw new Error(`the appliance powered off during boot:\n${this.consoleTail()}`);
      const r = await this.inside(['systemctl', 'is-system-running', '--wait'], { timeoutMs: Math.max(1_000, deadline - Date.now()) });
      state = r.stdout.trim();
      if (['running', 'degraded', 'maintenance', 'stopping'].includes(state)) break;
      if (Date.now() > deadline) throw new Error(`the appliance did not finish booting (state ${state || r.stderr.trim()}):\n${this.consoleTail()}`);
      await sleep(100);
    }
    const bootedMs = performance.now() - this.startedAt;
    const show = await this.inside([
      'systemctl',
      'show',
      'haproxy-appliance.service',
      '-p',
      'Result',
      '-p',
      'ActiveState',
      '-p',
      'ExecMainStartTimestampMonotonic',
      '-p',
      'ExecMainExitTimestampMonotonic',
    ]);
    const props = parseShow(show.stdout);
    const agentMs = (Number(props.ExecMainExitTimestampMonotonic) - Number(props.ExecMainStartTimestampMonotonic)) / 1000;
    const journal = await this.inside(['journalctl', '-b', '-u', 'haproxy-appliance.service', '-o', 'cat', '--no-pager']);
    const analyze = await this.inside(['systemd-analyze']);
    const chain = await this.inside(['systemd-analyze', 'critical-chain', '--no-pager', 'ssh.service', 'haproxy.service']);
    const failedUnits: BootInfo['failedUnits'] = [];
    if (state !== 'running') {
      const failed = await this.inside(['systemctl', '--failed', '--plain', '--no-legend', '--no-pager']);
      for (const unit of failed.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/u)[0])
        .filter((u): u is string => !!u)) {
        const j = await this.inside(['journalctl', '-b', '-u', unit, '-o', 'cat', '--no-pager', '-n', '6']);
        failedUnits.push({ unit, log: j.stdout.trim() });
      }
    }
    const trust = await this.inside([
      'systemctl',
      'show',
      'haproxy-appliance-trust-store.service',
      '-p',
      'LoadState',
      '-p',
      'Result',
      '-p',
      'InactiveExitTimestampMonotonic',
      '-p',
      'InactiveEnterTimestampMonotonic',
    ]);
    const tp = parseShow(trust.stdout);
    const trustStore = {
      loaded: tp.LoadState === 'loaded',
      result: tp.Result ?? '(unknown)',
      ms: (Number(tp.InactiveEnterTimestampMonotonic) - Number(tp.InactiveExitTimestampMonotonic)) / 1000,
    };
    const after = await this.bed.ipJson<Array<{ ifname: string; address?: string }>>('appliance', ['link']);
    const renames = before
      .filter((l) => l.address && l.ifname !== 'lo')
      .map((l) => ({
        mac: l.address!,
        before: l.ifname,
        after: after.find((x) => x.address === l.address)?.ifname ?? '(gone)',
      }));
    return {
      bootedMs,
      systemState: state,
      agentResult: `${props.ActiveState}/${props.Result}`,
      agentMs,
      agentLog: journal.stdout.trim(),
      analyze: analyze.stdout.trim().split('\n')[0] ?? '',
      criticalChain: chain.stdout.trim(),
      renames,
      failedUnits,
      trustStore,
    };
  }

  /**
   * What an admin's automation sees, run beside {@link boot}: from power-on, waits for sshd to
   * accept a connection from the workstation, then runs verify until `isGreen` says so (200 ms
   * apart) or `timeoutMs` passes. Not gated on the boot finishing (`is-system-running` also
   * waits for units nothing serves with, such as the trust store).
   */
  async verifyUntilGreen(
    isGreen: (run: VerifyRun) => boolean,
    timeoutMs = 120_000,
  ): Promise<{ run: VerifyRun; greenMs?: number; sshMs: number; runs: number }> {
    while (this.startedAt === 0) await sleep(10);
    const deadline = performance.now() + timeoutMs;
    // The accept probe: a connection every 50 ms, each given 1 s (before the appliance has its
    // address a connect waits for ARP), one node process for all, cheap beside the boot.
    const probe = this.acceptProbe('workstation', LAN.management, 22, 50);
    try {
      await probe.accepted(timeoutMs);
    } finally {
      await probe.stop();
    }
    const sshMs = this.sinceBoot();
    for (let runs = 1; ; runs++) {
      const run = await this.verify();
      if (isGreen(run)) return { run, greenMs: this.sinceBoot(), sshMs, runs };
      if (performance.now() > deadline) return { run, sshMs, runs };
      await sleep(200);
    }
  }

  /** Milliseconds since the appliance was powered on. */
  sinceBoot(): number {
    return performance.now() - this.startedAt;
  }

  /** Runs a command inside the appliance (all its namespaces, a clean environment). */
  async inside(argv: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    if (this.initPid === undefined) throw new Error('the appliance is not running');
    const t0 = performance.now();
    const r = await execa('nsenter', ['-t', String(this.initPid), '-a', 'env', '-i', `PATH=${PATH_INSIDE}`, 'LANG=C.UTF-8', 'HOME=/root', ...argv], {
      reject: false,
      timeout: opts.timeoutMs ?? 60_000,
      env: { PATH: HOST_PATH },
      extendEnv: false,
      ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    });
    return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1, ms: performance.now() - t0 };
  }

  /** Like {@link inside}, but throws unless the command exits 0. */
  async mustInside(argv: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    const r = await this.inside(argv, opts);
    if (r.exitCode !== 0) throw new Error(`inside the appliance: ${argv.join(' ')} exited ${r.exitCode}\n${tail(`${r.stdout}\n${r.stderr}`.trim(), 30)}`);
    return r;
  }

  /** `haproxy-appliance verify` from the workstation over SSH, as root with the seed's password. */
  verify(): Promise<VerifyRun> {
    return verifyFromWorkstation(this.bed, { knownHosts: this.knownHosts, home: this.work, password: SEED_PROPERTIES['appliance.root_pwd']!, timeoutS: 30 });
  }

  /**
   * The Data Plane API's part: `sections` appended to haproxy.cfg (version bumped), then
   * `systemctl reload haproxy` (the API's --reload-cmd); resolves once `listeners` listen.
   */
  async addLoadBalancer(sections: string, listeners: readonly string[]): Promise<{ version: number; reloadMs: number }> {
    // The same file the appliance reads: the container's root is this directory.
    const path = join(this.root, 'etc/haproxy/haproxy.cfg');
    const { cfg, version } = addSections(await readFile(path, 'utf8'), sections);
    const tmp = `${path}.dataplaneapi-${process.pid}`;
    await writeFile(tmp, cfg, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, path);
    const t0 = performance.now();
    await this.mustInside(['systemctl', 'reload', 'haproxy.service']);
    await this.waitForListeners(listeners, 15_000);
    return { version, reloadMs: performance.now() - t0 };
  }

  /** TCP and UDP listeners inside the appliance (`ss -Hlntu`), as `tcp 0.0.0.0:5355`. */
  async allListeners(): Promise<string[]> {
    const r = await this.mustInside(['ss', '-Hlntu']);
    return r.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/u))
      .filter((f) => f.length >= 5)
      .map((f) => `${f[0]} ${f[4]}`);
  }

  /** TCP listeners inside the appliance (`ss -Htnl`), as address:port. */
  async tcpListeners(): Promise<string[]> {
    const r = await this.mustInside(['ss', '-Htnl']);
    return r.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/u)[3])
      .filter((x): x is string => !!x);
  }

  async waitForListeners(want: readonly string[], timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const have = await this.tcpListeners();
      if (want.every((w) => have.includes(w))) return have;
      if (Date.now() > deadline)
        throw new Error(
          `inside the appliance, ${want.filter((w) => !have.includes(w)).join(', ')} not listening after ${timeoutMs} ms; listeners: ${have.join(', ')}`,
        );
      await sleep(100);
    }
  }

  /** haproxy.cfg of the appliance. */
  async haproxyCfg(): Promise<string> {
    return readFile(join(this.root, 'etc/haproxy/haproxy.cfg'), 'utf8');
  }

  /** Frontends of the seed still in haproxy.cfg. */
  async seedFrontendsPresent(): Promise<string[]> {
    const cfg = await this.haproxyCfg();
    return SEED_FRONTENDS.filter((f) => cfg.includes(`\nfrontend ${f}\n`));
  }

  connect(ns: 'wclient' | 'fclient', host: string, port: number): Promise<ConnectResult> {
    return this.bed.connect(ns, host, port, { timeoutMs: 5_000 });
  }

  /** A client in `ns` that connects to host:port again and again until stopped. */
  clientLoop(ns: string, host: string, port: number, gapMs = 20): ClientLoop {
    return startClientLoop(this.bed.nsName(ns), host, port, gapMs, { PATH: HOST_PATH }, this.track);
  }

  /** A probe in `ns` that waits for the first connection host:port accepts (bench/peer.bench.ts). */
  acceptProbe(ns: string, host: string, port: number, gapMs = 10): AcceptProbe {
    return startAcceptProbe(this.bed.nsName(ns), host, port, gapMs, { PATH: HOST_PATH }, this.track);
  }

  /** A child the bed ends at cleanup (until it exits). */
  private readonly track = (child: ChildProcess): void => {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  };

  consoleTail(lines = 40): string {
    try {
      return tail(readFileSync(this.consoleLog, 'utf8'), lines);
    } catch {
      return '(no console output)';
    }
  }

  /** What to show when a step fails: the console and the units that did not start. */
  async diagnostics(): Promise<string> {
    const parts = [`--- console (${this.consoleLog}) ---\n${this.consoleTail(30)}`];
    if (this.initPid !== undefined && isAlive(this.initPid)) {
      const failed = await this.inside(['systemctl', '--failed', '--no-pager', '--plain'], { timeoutMs: 10_000 });
      parts.push(`--- systemctl --failed ---\n${failed.stdout.trim()}`);
      const j = await this.inside(
        [
          'journalctl',
          '-b',
          '-u',
          'haproxy-appliance.service',
          '-u',
          'haproxy.service',
          '-u',
          'ssh.service',
          '-u',
          'systemd-networkd.service',
          '-o',
          'short-monotonic',
          '--no-pager',
          '-n',
          '60',
        ],
        { timeoutMs: 10_000 },
      );
      parts.push(`--- journal (agent, haproxy, ssh, networkd) ---\n${j.stdout.trim()}`);
    }
    return parts.join('\n');
  }

  /** Powers the appliance off: SIGTERM to nspawn (systemd shuts down), SIGKILL after 20 s. */
  async powerOff(): Promise<number> {
    const t0 = performance.now();
    if (this.nspawn) await terminate(this.nspawn, 20_000, 5_000);
    // The container's init is ours too (nspawn's child): never left running.
    if (this.initPid !== undefined && isAlive(this.initPid)) {
      try {
        process.kill(this.initPid, 'SIGKILL');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 50 && isAlive(this.initPid); i++) await sleep(100);
    }
    return performance.now() - t0;
  }

  /**
   * Ends everything this bed started, deletes its namespaces (and so every link), and removes the
   * image root — unless something is still mounted below it. Idempotent; never throws.
   */
  async cleanup(opts: { keepLogs?: boolean } = {}): Promise<string[]> {
    const notes: string[] = [];
    if (this.cleaned) return notes;
    this.cleaned = true;
    this.forgetExitHook();
    try {
      await this.powerOff();
    } catch (e) {
      notes.push(`power off: ${(e as Error).message}`);
    }
    for (const c of this.children) {
      if (c.pid !== undefined && c.exitCode === null) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await Promise.all(this.listeners.map((l) => l.close().catch(() => undefined)));
    notes.push(...(await removeCgroups(this.cgroupDirs.splice(0))));
    removeNspawnRuntime(this.nspawnRuntime.splice(0));
    await this.bed.cleanup();
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m === this.work || m.startsWith(`${this.work}/`));
    if (mounted.length) {
      notes.push(`left ${this.work} in place: still mounted below it: ${mounted.join(', ')}`);
      return notes;
    }
    if (existsSync(this.work)) {
      if (opts.keepLogs) {
        rmSync(this.root, { recursive: true, force: true });
        notes.push(`logs kept in ${this.work}`);
      } else rmSync(this.work, { recursive: true, force: true });
    }
    return notes;
  }
}
