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
import { accessSync, constants as fsConstants, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { canRunNetworkBeds, createTestBed, isAlive, type ConnectResult, type ListenHandle, type TestBed } from './netns.js';
import { ovfEnv, SEED_MACS, SEED_PROPERTIES, type Adapter } from './ovf.js';
import { addSections, CPVM_ADDRESSES, GUEST_BACKEND, SEED_FRONTENDS } from './dataplane.js';
import { cleanupOnExit } from './exit-hook.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLE = join(ROOT, 'dist/start.cjs');
const TEST_IMAGE = join(ROOT, 'scripts/test-image.sh');
const DEPS = join(ROOT, 'scripts/install-deps.sh');
const PATH_INSIDE = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const HOST_PATH = process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Where the appliance finds its OVF environment (the file transport: OVF_ENV= in its defaults). */
export const OVF_ENV_DIR_INSIDE = '/mnt/ovf-env';
export const OVF_ENV_INSIDE = `${OVF_ENV_DIR_INSIDE}/ovf-env.xml`;

export const ADDR = {
  management: '10.191.181.52',
  workstation: '10.191.180.10/20',
  wclient: '192.168.5.10/16',
  fclient: '172.16.10.50/24',
  guest: `${GUEST_BACKEND}/24`,
} as const;

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

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves true when `p` settles within `ms`, false otherwise; the timer never outlives it. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  ms: number;
}

// ---------------------------------------------------------------------------------------------
// Can this machine run it?
// ---------------------------------------------------------------------------------------------

export type Readiness = { ok: true; installed: string[] } | { ok: false; reason: string; fix: string };

function have(cmd: string): boolean {
  if (cmd.startsWith('/')) {
    try {
      accessSync(cmd, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
  return HOST_PATH.split(':').some((d) => {
    try {
      accessSync(join(d, cmd), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Which Debian packages the bed needs and lacks (debootstrap only while the image cache is cold). */
function missingPackages(cacheWarm: boolean): string[] {
  const need: string[] = [];
  if (!have('systemd-nspawn')) need.push('systemd-container');
  if (!cacheWarm && !have('debootstrap')) need.push('debootstrap');
  if (!have('nsenter') || !have('unshare') || !have('setpriv')) need.push('util-linux');
  if (!have('ip')) need.push('iproute2');
  if (!have('/lib/systemd/systemd-networkd')) need.push('systemd');
  return need;
}

async function imageCacheWarm(): Promise<boolean> {
  const r = await execa(TEST_IMAGE, ['cached'], { reject: false, stdin: 'ignore' });
  return r.exitCode === 0;
}

/**
 * Whether the end-to-end bed can run here, installing the Debian packages it lacks when it may
 * (`install`, root, apt-get). When it cannot, `fix` says exactly what to do.
 */
export async function checkReadiness(opts: { install: boolean }): Promise<Readiness> {
  if (process.platform !== 'linux') return { ok: false, reason: 'the end-to-end bed needs Linux (network namespaces, systemd-nspawn)', fix: 'run it on a Linux machine (Debian bookworm, as CI does)' };
  if (process.getuid?.() !== 0) {
    return {
      ok: false,
      reason: 'the end-to-end bed needs root: it creates network namespaces and boots a container with systemd-nspawn',
      fix: 'run it as root, e.g. sudo env "PATH=$PATH" npm run demo',
    };
  }
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) return { ok: false, reason: `node ${process.versions.node} is too old`, fix: 'use Node.js 20 or later' };
  const installed: string[] = [];
  let missing = missingPackages(await imageCacheWarm());
  if (missing.length && opts.install && have('apt-get')) {
    const r = await execa('sh', [DEPS], { reject: false, stdin: 'ignore', all: true, timeout: 600_000 });
    if (r.exitCode !== 0) {
      return { ok: false, reason: `installing ${missing.join(' ')} failed:\n${tail(String(r.all ?? ''), 15)}`, fix: `apt-get update && apt-get install ${missing.join(' ')}` };
    }
    installed.push(...missing);
    missing = missingPackages(await imageCacheWarm());
  }
  if (missing.length) {
    return { ok: false, reason: `missing Debian packages: ${missing.join(' ')}`, fix: `as root: sh scripts/install-deps.sh (or apt-get install ${missing.join(' ')})` };
  }
  const can = await canRunNetworkBeds();
  if (!can.ok) return { ok: false, reason: `cannot create network namespaces here: ${can.reason}`, fix: 'run on a Linux machine where root may create network namespaces (not inside an unprivileged container)' };
  if (!existsSync(BUNDLE)) return { ok: false, reason: `${BUNDLE} is missing`, fix: 'npm run build' };
  return { ok: true, installed };
}

// ---------------------------------------------------------------------------------------------
// The bed
// ---------------------------------------------------------------------------------------------

/** A client that keeps connecting to a VIP and counts the outcomes (run inside a namespace). */
const CLIENT_LOOP_SCRIPT = `
const net = require('node:net');
const [host, port, gapMs] = process.argv.slice(1);
let stop = false, ok = 0, first = 0, last = 0;
const errors = {}, backends = {};
process.stdin.on('end', () => { stop = true; }); process.stdin.resume();
const one = () => new Promise((resolve) => {
  const s = net.connect({ host, port: Number(port) });
  let data = '';
  const t = setTimeout(() => { s.destroy(); resolve({ error: 'ETIMEDOUT' }); }, 5000);
  s.on('data', (d) => { data += d; });
  s.on('error', (e) => { clearTimeout(t); resolve({ error: e.code || e.message }); });
  s.on('end', () => {
    clearTimeout(t);
    try { resolve({ backend: JSON.parse(data).localAddress }); } catch { resolve({ error: data ? 'BAD-REPLY' : 'CLOSED-WITHOUT-REPLY' }); }
  });
});
(async () => {
  first = Date.now();
  while (!stop) {
    const r = await one();
    if (r.error) errors[r.error] = (errors[r.error] || 0) + 1;
    else { ok++; backends[r.backend] = (backends[r.backend] || 0) + 1; process.stdout.write('.'); }
    await new Promise((r) => setTimeout(r, Number(gapMs)));
  }
  last = Date.now();
  process.stdout.write('\\nRESULT ' + JSON.stringify({ ok, errors, backends, ms: last - first }) + '\\n');
  process.exit(0);
})();
`;

export interface ClientLoopResult {
  ok: number;
  errors: Record<string, number>;
  backends: Record<string, number>;
  ms: number;
}

export interface ClientLoop {
  /** Successful connections so far. */
  successes(): number;
  stop(): Promise<ClientLoopResult>;
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
  /** Kernel names the NICs had before the agent renamed them, and the names they have now. */
  renames: Array<{ mac: string; before: string; after: string }>;
  /** Units that failed during boot, each with the last lines of its journal. */
  failedUnits: Array<{ unit: string; log: string }>;
  /** haproxy-appliance-trust-store.service at this boot: its result and how long it ran (ms). */
  trustStore: { loaded: boolean; result: string; ms: number };
}

export interface VerifyRun {
  exitCode: number;
  ms: number;
  /** The verifier's JSON report (see src/verify/report.ts renderJson). */
  report: VerifyJson;
  stderr: string;
}

export interface VerifyJson {
  ok: boolean;
  exitCode: number;
  totalMs: number;
  hosts: Array<{
    name: string;
    host: string;
    port: number;
    user: string;
    error?: { kind: string; message: string; remedy?: string };
    checks: Array<{ id: string; subject?: string; status: 'pass' | 'warn' | 'fail' | 'skip'; message: string; remedy?: string }>;
    timings: { connectMs?: number; collectMs?: number; totalMs: number };
    [k: string]: unknown;
  }>;
}

/**
 * The one known failure here: the real Data Plane API binary does not exist on this machine (not
 * in Debian or npm, no internet), so the agent leaves dataplaneapi.service disabled and nothing
 * listens on loadbalance.dataplane_port. Exactly these results are accepted, nothing else.
 */
export function knownApiAbsence(c: VerifyJson['hosts'][number]['checks'][number]): boolean {
  if (c.status !== 'fail') return false;
  if (c.id === 'dataplane.listen') return /dataplaneapi is not running/u.test(c.message);
  if (c.id === 'service' && c.subject === 'dataplaneapi') return true;
  return false;
}

/** Green: the host was reached and every failed check is the known API absence. */
export function verdict(report: VerifyJson): { green: boolean; accepted: string[]; unexpected: string[] } {
  const accepted: string[] = [];
  const unexpected: string[] = [];
  for (const h of report.hosts) {
    if (h.error) unexpected.push(`${h.host}: ${h.error.kind}: ${h.error.message}`);
    for (const c of h.checks) {
      if (c.status !== 'fail') continue;
      const name = c.subject ? `${c.id} ${c.subject}` : c.id;
      (knownApiAbsence(c) ? accepted : unexpected).push(`${name}: ${c.message}`);
    }
  }
  return { green: report.hosts.length > 0 && unexpected.length === 0, accepted, unexpected };
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
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    const wait = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 30 && (this.initPid !== undefined && isAlive(this.initPid)); i++) Atomics.wait(wait, 0, 0, 100);
    for (const top of this.cgroupDirs.splice(0)) {
      const dirs: string[] = [];
      const walk = (d: string) => {
        dirs.push(d);
        try {
          for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
        } catch {
          /* gone */
        }
      };
      walk(top);
      for (const d of dirs.reverse()) {
        try {
          rmdirSync(d);
        } catch {
          /* busy or gone: left */
        }
      }
    }
    this.removeNspawnRuntime();
    this.bed.cleanupSync();
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${this.work}`);
    if (!mounted) rmSync(this.work, { recursive: true, force: true });
  }

  /** The image: the cached Debian root (built on first use), copied, with the agent installed. */
  async prepareImage(log: (line: string) => void): Promise<{ baseMs: number; built: boolean; copyMs: number; base: string }> {
    await mkdir(this.work, { recursive: true, mode: 0o700 });
    const t0 = performance.now();
    const warm = await imageCacheWarm();
    if (!warm) log(`    building the Debian bookworm image (debootstrap, first run only; cached under ${process.env.HPA_IMAGE_CACHE ?? '/var/cache/haproxy-appliance-test'})`);
    const base = await execa(TEST_IMAGE, ['base'], { reject: false, stdin: 'ignore', timeout: 900_000 });
    if (base.exitCode !== 0) throw new Error(`scripts/test-image.sh base failed (exit ${base.exitCode}):\n${tail(String(base.stderr), 30)}`);
    const baseMs = performance.now() - t0;
    const t1 = performance.now();
    const r = await execa(TEST_IMAGE, ['root', this.root, '--set', `OVF_ENV=${OVF_ENV_INSIDE}`], { reject: false, stdin: 'ignore', timeout: 300_000 });
    if (r.exitCode !== 0) throw new Error(`scripts/test-image.sh root failed (exit ${r.exitCode}):\n${tail(String(r.stderr), 30)}`);
    for (const line of String(r.stderr).split('\n')) if (line.startsWith('firstboot/install.sh: installed into')) log(`    ${line}`);
    return { baseMs, built: !warm, copyMs: performance.now() - t1, base: String(base.stdout).trim() };
  }

  /** The namespaces and links of the diagram above, the router's RAs, and the backends. */
  async wire(): Promise<{ kernelNames: Record<'management' | 'workload' | 'frontend', string> }> {
    const b = this.bed;
    // lo stays down like at power-on: systemd brings it up in the container.
    await b.addNamespace('appliance', { loopbackUp: false });
    for (const ns of ['router', 'workstation', 'wclient', 'fclient', 'cpvm', 'guest']) await b.addNamespace(ns);
    await b.enableForwarding('router');
    for (const br of ['br-mgmt', 'br-wl', 'br-fe']) {
      await b.ip('router', ['link', 'add', br, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
      await b.up('router', br);
    }
    await b.addr('router', 'br-wl', '192.168.1.1/16');
    await b.addr('router', 'br-fe', '172.16.10.1/24');
    // br-mgmt's addresses and RAs come from networkd below.

    // The appliance's NICs: kernel names in an order that matches no role; down, as at boot.
    const wl = await b.link('appliance', undefined, 'router', 'app-wl', { macA: SEED_MACS.workload });
    const fe = await b.link('appliance', undefined, 'router', 'app-fe', { macA: SEED_MACS.frontend });
    const mg = await b.link('appliance', undefined, 'router', 'app-mg', { macA: SEED_MACS.management });
    const hosts: Array<[string, string, string, string[], string | undefined]> = [
      // ns, router port, bridge, addresses, default gateway
      ['workstation', 'ws', 'br-mgmt', [ADDR.workstation], '10.191.191.254'],
      ['wclient', 'wcl', 'br-wl', [ADDR.wclient], '192.168.1.1'],
      ['cpvm', 'cpvm', 'br-wl', CPVM_ADDRESSES.map((a) => `${a}/16`), '192.168.1.1'],
      ['fclient', 'fcl', 'br-fe', [ADDR.fclient], '172.16.10.1'],
      ['guest', 'guest', 'br-fe', [ADDR.guest], '172.16.10.1'],
    ];
    for (const [ns, port, , addrs, gw] of hosts) {
      await b.link(ns, 'eth0', 'router', port, { upA: true });
      for (const a of addrs) await b.addr(ns, 'eth0', a);
      if (gw) await b.route(ns, `default via ${gw}`);
    }
    const ports: Array<[string, string]> = [['app-wl', 'br-wl'], ['app-fe', 'br-fe'], ['app-mg', 'br-mgmt'], ...hosts.map(([, port, br]) => [port, br] as [string, string])];
    for (const [port, br] of ports) await b.ip('router', ['link', 'set', 'dev', port, 'master', br]);

    // The management network of the seed has SLAAC (fd01:3:7:404::/64): the router sends RAs,
    // as there. (Without any RA, networkd-wait-online — which haproxy.service waits for through
    // network-online.target — would wait ~12 s for the router-solicitation timeout.)
    const units = join(this.work, 'router-units');
    await mkdir(units, { recursive: true });
    await writeFile(join(units, '10-br-mgmt.network'), `[Match]
Name=br-mgmt

[Network]
Address=10.191.191.254/20
Address=fd01:3:7:404::1/64
ConfigureWithoutCarrier=yes
IPv6AcceptRA=no
IPv6SendRA=yes

[IPv6SendRA]
RouterLifetimeSec=0

[IPv6Prefix]
Prefix=fd01:3:7:404::/64
`);
    await b.runNetworkd('router', units, {
      timeoutMs: 20_000,
      logLevel: 'info',
      until: async (snap) => snap.dump.addrs.some((l) => l.ifname === 'br-mgmt' && (l.addr_info ?? []).some((a) => a.local === '10.191.191.254')),
    });

    // The Supervisor's control-plane VMs (kube-apiserver on 6443, nginx on 443) and a guest
    // cluster's API server: each answers every connection with a JSON line naming itself.
    const starts: Array<Promise<ListenHandle>> = [];
    for (const a of CPVM_ADDRESSES) for (const port of [6443, 443]) starts.push(b.listen('cpvm', a, port, { maxLifetimeMs: 3_600_000 }));
    starts.push(b.listen('guest', GUEST_BACKEND, 6443, { maxLifetimeMs: 3_600_000 }));
    this.listeners.push(...(await Promise.all(starts)));
    return { kernelNames: { workload: wl.a, frontend: fe.a, management: mg.a } };
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
      const cgroups = this.makeCgroups();
      const st = statSync(this.root);
      this.nspawnRuntime = [`/run/systemd/nspawn/propagate/${this.machine}`, `/run/systemd/nspawn/locks/inode-${st.dev}:${st.ino}`];
      this.nspawn = spawn('sh', [
        '-c', 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 97; shift; n=$((n - 1)); done; exec "$@"', 'sh',
        String(cgroups.length), ...cgroups.map((c) => join(c, 'cgroup.procs')),
        // If this process dies without cleaning up (SIGKILL), nspawn gets SIGTERM and powers the
        // container off instead of running on.
        'setpriv', '--pdeathsig', 'TERM', 'nsenter', `--net=${netns}`, 'systemd-nspawn', '--quiet', '--boot', `--directory=${this.root}`, `--machine=${this.machine}`,
        `--network-namespace-path=${netns}`, '--capability=CAP_NET_ADMIN', '--register=no', '--keep-unit',
        '--resolv-conf=off', '--link-journal=no', '--timezone=off', '--console=read-only',
        `--bind-ro=${this.envDir}:${OVF_ENV_DIR_INSIDE}`,
      ], { stdio: ['ignore', out, out], env: { PATH: HOST_PATH, TERM: 'dumb', SYSTEMD_COLORS: '0' } });
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
    const show = await this.inside(['systemctl', 'show', 'haproxy-appliance.service', '-p', 'Result', '-p', 'ActiveState', '-p', 'ExecMainStartTimestampMonotonic', '-p', 'ExecMainExitTimestampMonotonic']);
    const props = Object.fromEntries(show.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const agentMs = (Number(props.ExecMainExitTimestampMonotonic) - Number(props.ExecMainStartTimestampMonotonic)) / 1000;
    const journal = await this.inside(['journalctl', '-b', '-u', 'haproxy-appliance.service', '-o', 'cat', '--no-pager']);
    const analyze = await this.inside(['systemd-analyze']);
    const failedUnits: BootInfo['failedUnits'] = [];
    if (state !== 'running') {
      const failed = await this.inside(['systemctl', '--failed', '--plain', '--no-legend', '--no-pager']);
      for (const unit of failed.stdout.split('\n').map((l) => l.trim().split(/\s+/u)[0]).filter((u): u is string => !!u)) {
        const j = await this.inside(['journalctl', '-b', '-u', unit, '-o', 'cat', '--no-pager', '-n', '6']);
        failedUnits.push({ unit, log: j.stdout.trim() });
      }
    }
    const trust = await this.inside(['systemctl', 'show', 'haproxy-appliance-trust-store.service', '-p', 'LoadState', '-p', 'Result', '-p', 'InactiveExitTimestampMonotonic', '-p', 'InactiveEnterTimestampMonotonic']);
    const tp = Object.fromEntries(trust.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const trustStore = { loaded: tp.LoadState === 'loaded', result: tp.Result ?? '(unknown)', ms: (Number(tp.InactiveEnterTimestampMonotonic) - Number(tp.InactiveExitTimestampMonotonic)) / 1000 };
    const after = await this.bed.ipJson<Array<{ ifname: string; address?: string }>>('appliance', ['link']);
    const renames = before.filter((l) => l.address && l.ifname !== 'lo').map((l) => ({
      mac: l.address!, before: l.ifname, after: after.find((x) => x.address === l.address)?.ifname ?? '(gone)',
    }));
    return {
      bootedMs, systemState: state, agentResult: `${props.ActiveState}/${props.Result}`, agentMs, agentLog: journal.stdout.trim(),
      analyze: analyze.stdout.trim().split('\n')[0] ?? '', renames, failedUnits, trustStore,
    };
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
      reject: false, timeout: opts.timeoutMs ?? 60_000, env: { PATH: HOST_PATH }, extendEnv: false,
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
  async verify(): Promise<VerifyRun> {
    const t0 = performance.now();
    const r = await execa('ip', [
      'netns', 'exec', this.bed.nsName('workstation'), process.execPath, BUNDLE, 'verify', `root@${ADDR.management}`,
      '--password-env', 'HPA_E2E_ROOT_PASSWORD', '--known-hosts', this.knownHosts, '--accept-new', '--timeout', '30', '--json',
    ], {
      reject: false, timeout: 120_000, stdin: 'ignore', extendEnv: false,
      env: { PATH: HOST_PATH, HOME: this.work, NO_COLOR: '1', HPA_E2E_ROOT_PASSWORD: SEED_PROPERTIES['appliance.root_pwd']! },
    });
    const ms = performance.now() - t0;
    let report: VerifyJson;
    try {
      report = JSON.parse(String(r.stdout)) as VerifyJson;
    } catch {
      throw new Error(`verify printed no JSON report (exit ${r.exitCode}):\n${tail(`${String(r.stdout)}\n${String(r.stderr)}`, 30)}`);
    }
    return { exitCode: r.exitCode ?? -1, ms, report, stderr: String(r.stderr) };
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
    return r.stdout.split('\n').map((l) => l.trim().split(/\s+/u)).filter((f) => f.length >= 5).map((f) => `${f[0]} ${f[4]}`);
  }

  /** TCP listeners inside the appliance (`ss -Htnl`), as address:port. */
  async tcpListeners(): Promise<string[]> {
    const r = await this.mustInside(['ss', '-Htnl']);
    return r.stdout.split('\n').map((l) => l.trim().split(/\s+/u)[3]).filter((x): x is string => !!x);
  }

  async waitForListeners(want: readonly string[], timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const have = await this.tcpListeners();
      if (want.every((w) => have.includes(w))) return have;
      if (Date.now() > deadline) throw new Error(`inside the appliance, ${want.filter((w) => !have.includes(w)).join(', ')} not listening after ${timeoutMs} ms; listeners: ${have.join(', ')}`);
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
    const child = spawn('ip', ['netns', 'exec', this.bed.nsName(ns), process.execPath, '-e', CLIENT_LOOP_SCRIPT, host, String(port), String(gapMs)], {
      stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: HOST_PATH },
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    return {
      successes: () => (out.match(/\./gu) ?? []).length,
      stop: async () => {
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await done;
        clearTimeout(timer);
        const line = out.split('\n').find((l) => l.startsWith('RESULT '));
        if (!line) throw new Error(`the client loop in ${ns} gave no result (exit ${child.exitCode}): ${err.trim()}`);
        return JSON.parse(line.slice('RESULT '.length)) as ClientLoopResult;
      },
    };
  }

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
      const j = await this.inside(['journalctl', '-b', '-u', 'haproxy-appliance.service', '-u', 'haproxy.service', '-u', 'ssh.service', '-u', 'systemd-networkd.service', '-o', 'short-monotonic', '--no-pager', '-n', '60'], { timeoutMs: 10_000 });
      parts.push(`--- journal (agent, haproxy, ssh, networkd) ---\n${j.stdout.trim()}`);
    }
    return parts.join('\n');
  }

  /**
   * A fresh cgroup `hpa-e2e-<id>` beside this process's own, in the hierarchies systemd uses (the
   * cgroup2 one, and the v1 name=systemd one on hybrid hosts). Returns their directories.
   */
  private makeCgroups(): string[] {
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => {
      const [pre, post] = l.split(' - ');
      const f = (pre ?? '').split(' ');
      const g = (post ?? '').split(' ');
      return { point: f[4] ?? '', fstype: g[0] ?? '', options: g[2] ?? '' };
    });
    const dirs: string[] = [];
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) {
      const [, controllers, path] = line.split(':');
      if (path === undefined) continue;
      const mount = controllers === ''
        ? mounts.find((m) => m.fstype === 'cgroup2')
        : controllers === 'name=systemd' ? mounts.find((m) => m.fstype === 'cgroup' && m.options.split(',').includes('name=systemd')) : undefined;
      if (!mount) continue;
      const dir = join(mount.point, path, `hpa-e2e-${this.id}`);
      try {
        mkdirSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the cgroup ${dir}: ${(e as Error).message}`, { cause: e });
      }
      this.cgroupDirs.push(dir);
      dirs.push(dir);
    }
    return dirs;
  }

  /** nspawn's runtime files for this machine, when it was killed before it could remove them. */
  private removeNspawnRuntime(): void {
    for (const p of this.nspawnRuntime.splice(0)) {
      try {
        if (statSync(p).isDirectory()) rmdirSync(p);
        else rmSync(p, { force: true });
      } catch {
        /* not there (the normal case), or not empty: left */
      }
    }
  }

  /** Removes the cgroups of {@link makeCgroups}, deepest first; a process left in one is ours and is killed by PID. */
  private async removeCgroups(): Promise<string[]> {
    const notes: string[] = [];
    for (const top of this.cgroupDirs.splice(0)) {
      if (!existsSync(top)) continue;
      const dirs: string[] = [];
      const walk = (d: string) => {
        dirs.push(d);
        for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
      };
      walk(top);
      dirs.reverse();
      for (let attempt = 0; attempt < 50; attempt++) {
        const pids = dirs.flatMap((d) => {
          try {
            return readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
          } catch {
            return [];
          }
        });
        if (pids.length === 0) break;
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        await sleep(100);
      }
      for (const d of dirs) {
        try {
          rmdirSync(d);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') notes.push(`cgroup ${d} not removed: ${(e as Error).message}`);
        }
      }
    }
    return notes;
  }

  /** Powers the appliance off: SIGTERM to nspawn (systemd shuts down), SIGKILL after 20 s. */
  async powerOff(): Promise<number> {
    const t0 = performance.now();
    const child = this.nspawn;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      if (!(await within(done, 20_000))) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        await within(done, 5_000);
      }
    }
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
    notes.push(...(await this.removeCgroups()));
    this.removeNspawnRuntime();
    await this.bed.cleanup();
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m === this.work || m.startsWith(`${this.work}/`));
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

/**
 * The container's init: the child of the nspawn process `pid` that runs systemd. (While nspawn
 * sets up, it has a short-lived helper child, and init is nspawn itself until it execs systemd.)
 */
function containerInit(pid: number): number | undefined {
  let kids: number[] = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/u).filter(Boolean).map(Number);
  } catch {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/u.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) kids.push(Number(d));
      } catch {
        /* gone */
      }
    }
  }
  return kids.find((k) => {
    try {
      return readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'systemd';
    } catch {
      return false;
    }
  });
}
