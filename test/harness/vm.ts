/**
 * The appliance as a virtual machine: the OVA's own disk booted by QEMU the way a hypervisor boots
 * it — SeaBIOS, then the GRUB on the disk, then the kernel (no -kernel, no change to the disk: a
 * qcow2 overlay over the extracted VMDK takes the writes) — with the hardware vSphere gives it:
 * the disk on a paravirtual SCSI controller (pvscsi), vmxnet3 NICs carrying the seed's MACs, and
 * a CD-ROM on IDE holding the OVF environment as vSphere's ISO transport makes it (ISO 9660,
 * ovf-env.xml at its root). The NICs are tap devices on the bridges of the seed's networks
 * (seed-lan.ts) in the router namespace, where QEMU runs; the workstation namespace reaches the
 * appliance's management address over SSH.
 *
 * Acceleration: KVM only when a short probe boots under it (on some machines /dev/kvm opens but a
 * guest kernel hangs right after "Probing EDD"); otherwise TCG. HPA_VM_ACCEL=kvm|tcg forces one.
 *
 * Safety: only the bed's namespaces (`hpa-<random>-*`) and the taps in them; every QEMU process is
 * started here and ended by its PID; the work folder (/var/tmp/hpa-vm-<id>) holds the overlays,
 * ISOs and console logs, and is removed at the end (console logs are kept as artifacts when a step
 * failed). No packet leaves the namespaces: QEMU has no user-mode network.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { HOST_PATH, parseShow, tail } from './image.js';
import { createTestBed, type ListenHandle, type TestBed } from './netns.js';
import { cleanupOnExit } from './exit-hook.js';
import { isAlive, signal, sleep, terminate } from './process.js';
import { ROOT, SEED_PROPERTIES } from './ovf.js';
import { ADDR, BRIDGE, verifyFromWorkstation, wireSeedLan } from './seed-lan.js';
import { ROLES, SEED_NICS, type Role } from './seed-topology.js';
import type { VerifyRun } from './e2e-verdict.js';

const DISK = 'haproxy-disk1.vmdk';
/** The taps, one per network, in the router namespace. */
const TAP: Record<Role, string> = { management: 'tap-mg', workload: 'tap-wl', frontend: 'tap-fe' };

export type Accel = 'kvm' | 'tcg';

/** Where failed runs keep their console logs. */
export const ARTIFACTS = process.env.HPA_ARTIFACTS ?? join(ROOT, 'test-artifacts');

const QEMU = 'qemu-system-x86_64';

/** The QEMU machine: what vSphere's hardware version gives the appliance, on QEMU's pc machine. */
function machineArgs(o: { accel: Accel; disk: string; iso?: string; consoleLog: string; qmp?: string; nics: boolean; memoryMiB?: number }): string[] {
  const args = [
    '-nodefaults',
    '-no-user-config',
    // A guest reboot ends QEMU; the bed powers the machine on again (VmBed.reboot). QEMU 7.2's
    // pvscsi came back from a guest-initiated reset with I/O slowed by tens of seconds per
    // step (measured: root mounted 35 s later, systemd started 43 s after that), which is
    // QEMU's emulation, not the appliance.
    '-no-reboot',
    '-machine',
    `pc,accel=${o.accel}`,
    '-cpu',
    o.accel === 'kvm' ? 'host' : 'max',
    '-smp',
    '2',
    '-m',
    String(o.memoryMiB ?? 2048),
    '-vga',
    'std',
    '-display',
    'none',
    '-serial',
    `file:${o.consoleLog}`,
    '-device',
    'pvscsi,id=scsi0',
    '-drive',
    `file=${o.disk},if=none,id=disk0,format=qcow2,cache=unsafe`,
    '-device',
    'scsi-hd,drive=disk0,bus=scsi0.0,bootindex=0',
  ];
  // The CD-ROM drive is there with or without a disc in it, as in the descriptor.
  args.push('-drive', `if=none,id=cd0,media=cdrom,readonly=on${o.iso ? `,file=${o.iso},format=raw` : ''}`, '-device', 'ide-cd,drive=cd0,bus=ide.1');
  if (o.qmp) args.push('-qmp', `unix:${o.qmp},server=on,wait=off`);
  if (o.nics) {
    for (const role of ROLES) {
      args.push('-netdev', `tap,id=n-${role},ifname=${TAP[role]},script=no,downscript=no`, '-device', `vmxnet3,netdev=n-${role},mac=${SEED_NICS[role].mac}`);
    }
  }
  return args;
}

function canOpenKvm(): boolean {
  try {
    closeSync(openSync('/dev/kvm', fsConstants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}

let accelChoice: Promise<{ accel: Accel; why: string }> | undefined;

/**
 * KVM when a guest kernel gets to its init under it within `probeMs` (the disk booted from a
 * throwaway overlay, no NICs), else TCG. Probed once per process.
 */
export function pickAccel(vmdk: string, work: string, probeMs = 15_000): Promise<{ accel: Accel; why: string }> {
  accelChoice ??= (async () => {
    const forced = process.env.HPA_VM_ACCEL;
    if (forced === 'kvm' || forced === 'tcg') return { accel: forced, why: `HPA_VM_ACCEL=${forced}` };
    if (!canOpenKvm()) return { accel: 'tcg' as const, why: '/dev/kvm does not open' };
    const overlay = join(work, 'kvm-probe.qcow2');
    const log = join(work, 'kvm-probe.log');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', vmdk, '-F', 'vmdk', overlay]);
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', QEMU, ...machineArgs({ accel: 'kvm', disk: overlay, consoleLog: log, nics: false })], {
      stdio: 'ignore',
    });
    const t0 = performance.now();
    let booted = false;
    try {
      while (performance.now() - t0 < probeMs && child.exitCode === null) {
        await sleep(250);
        const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
        if (/Run \/init as init process/u.test(text)) {
          booted = true;
          break;
        }
      }
    } finally {
      await terminate(child, 0, 5_000);
      rmSync(overlay, { force: true });
    }
    const ms = Math.round(performance.now() - t0);
    return booted
      ? { accel: 'kvm' as const, why: `a probe booted to init under KVM in ${ms} ms` }
      : {
          accel: 'tcg' as const,
          why: `under KVM a probe did not reach init in ${ms} ms (last console line: ${tail(existsSync(log) ? readFileSync(log, 'utf8') : '', 1).trim() || 'none'})`,
        };
  })();
  return accelChoice;
}

/** Sends one QMP command (after the capabilities handshake); resolves with its reply. */
function qmp(socket: string, command: string, timeoutMs = 5_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    let buf = '';
    let step = 0;
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`QMP ${command}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    conn.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    conn.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as { QMP?: unknown; return?: unknown; error?: unknown; event?: unknown };
        buf = buf.slice(nl + 1);
        if (msg.event) continue;
        if (step === 0 && msg.QMP) {
          step = 1;
          conn.write('{"execute":"qmp_capabilities"}\n');
        } else if (step === 1) {
          step = 2;
          conn.write(`${JSON.stringify({ execute: command })}\n`);
        } else if (step === 2) {
          clearTimeout(timer);
          conn.end();
          if (msg.error) reject(new Error(`QMP ${command}: ${JSON.stringify(msg.error)}`));
          else resolve(msg.return);
        }
      }
    });
  });
}

/** One run of QEMU: power-on to power-off. */
export class Vm {
  readonly startedAt = performance.now();
  private exitedAt?: number;
  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    readonly consoleLog: string,
    readonly qmpSocket: string,
    /** Whether its NICs are on the taps. */
    readonly nics: boolean,
  ) {
    proc.once('exit', () => (this.exitedAt = performance.now()));
  }

  get running(): boolean {
    return this.exitedAt === undefined;
  }

  console(): string {
    try {
      return readFileSync(this.consoleLog, 'utf8');
    } catch {
      return '';
    }
  }

  consoleTail(lines = 40): string {
    // Without the terminal's escape sequences (GRUB's menu, systemd's colours).
    return tail(this.console().replace(/\x1b\[[0-9;?]*[A-Za-z]/gu, ''), lines);
  }

  /** Waits until the console shows `re` (after `from` characters); throws at the deadline or power-off. */
  async waitConsole(re: RegExp, timeoutMs: number, from = 0): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const text = this.console().slice(from);
      const m = re.exec(text);
      if (m) return from + m.index + m[0].length;
      if (!this.running) throw new Error(`${this.name} powered off before its console showed ${re}:\n${this.consoleTail()}`);
      if (performance.now() > deadline) throw new Error(`${this.name}'s console did not show ${re} in ${timeoutMs} ms:\n${this.consoleTail()}`);
      await sleep(250);
    }
  }

  /** The guest shuts down cleanly (ACPI power button: what vSphere's "Shut Down Guest" does); killed after `timeoutMs`. */
  async shutdown(timeoutMs = 120_000): Promise<{ ms: number; clean: boolean }> {
    const t0 = performance.now();
    if (!this.running) return { ms: 0, clean: true };
    try {
      await qmp(this.qmpSocket, 'system_powerdown');
    } catch {
      /* QEMU gone, or its monitor not up yet: the kill below */
    }
    const deadline = performance.now() + timeoutMs;
    while (this.running && performance.now() < deadline) await sleep(200);
    const clean = !this.running;
    if (!clean) await this.kill();
    return { ms: performance.now() - t0, clean };
  }

  /** Power off at once (vSphere's "Power Off"). */
  async kill(): Promise<void> {
    if (this.running && this.proc.pid !== undefined) await terminate(this.proc, 0, 10_000);
  }
}

export interface SshResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The seed's networks with the appliance's taps, and the VMs booted on them. */
export class VmBed {
  private forgetExitHook: () => void = () => undefined;
  readonly id = randomBytes(3).toString('hex');
  readonly work = join(process.env.HPA_E2E_WORKDIR ?? '/var/tmp', `hpa-vm-${this.id}`);
  readonly bed: TestBed = createTestBed();
  private readonly listeners: ListenHandle[] = [];
  private readonly vms = new Set<Vm>();
  private readonly launched = new Map<Vm, { disk: string; iso?: string }>();
  private boots = 0;
  private cleaned = false;
  private vmdk?: string;
  accel?: { accel: Accel; why: string };
  readonly rootPassword = SEED_PROPERTIES['appliance.root_pwd']!;

  constructor() {
    this.forgetExitHook = cleanupOnExit(() => this.cleanupSync());
  }

  /** The disk: the OVA's VMDK, extracted as a hypervisor's import would. */
  async importOva(ova: string): Promise<{ vmdk: string; accel: Accel; why: string }> {
    await mkdir(this.work, { recursive: true, mode: 0o700 });
    await execa('tar', ['-xf', ova, '-C', this.work, DISK], { stdin: 'ignore' });
    this.vmdk = join(this.work, DISK);
    this.accel = await pickAccel(this.vmdk, this.work);
    return { vmdk: this.vmdk, ...this.accel };
  }

  /** The namespaces of seed-lan.ts, and a tap per network on its bridge (where the VM's NICs plug in). */
  async wire(): Promise<void> {
    await mkdir(this.work, { recursive: true, mode: 0o700 });
    this.listeners.push(...(await wireSeedLan(this.bed, this.work)));
    for (const role of ROLES) {
      await this.bed.ip('router', ['tuntap', 'add', 'dev', TAP[role], 'mode', 'tap']);
      await this.bed.ip('router', ['link', 'set', 'dev', TAP[role], 'master', BRIDGE[role], 'up']);
    }
    // The askpass program ssh runs for the password: it prints the variable, never an argument.
    await writeFile(join(this.work, 'askpass'), '#!/bin/sh\nprintf "%s\\n" "$HPA_VM_PASSWORD"\n', { mode: 0o700 });
  }

  /** A new machine's disk: a qcow2 overlay over the VMDK (which stays as imported). */
  async newDisk(name: string): Promise<string> {
    if (!this.vmdk) throw new Error('importOva first');
    const path = join(this.work, `${name}.qcow2`);
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', this.vmdk, '-F', 'vmdk', path]);
    return path;
  }

  /** The OVF environment on a CD as vSphere's ISO transport makes it: ISO 9660, ovf-env.xml at its root. */
  async environmentIso(name: string, xml: string): Promise<string> {
    const dir = join(this.work, `${name}-iso`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'ovf-env.xml'), xml, { mode: 0o644 });
    const iso = join(this.work, `${name}.iso`);
    await execa('genisoimage', ['-quiet', '-r', '-J', '-V', 'OVF ENV', '-o', iso, dir], { stdin: 'ignore' });
    return iso;
  }

  /** Powers a machine on: QEMU in the router namespace, its NICs on the taps (unless `nics` is false). */
  async powerOn(name: string, disk: string, iso?: string, opts: { nics?: boolean } = {}): Promise<Vm> {
    if (!this.accel) throw new Error('importOva first');
    const nics = opts.nics ?? true;
    if (nics) for (const vm of this.vms) if (vm.running && vm.nics) throw new Error(`${vm.name} is still running: one machine on the taps at a time`);
    this.boots++;
    const consoleLog = join(this.work, `console-${String(this.boots).padStart(2, '0')}-${name}.log`);
    const qmpSocket = join(this.work, `qmp-${this.boots}.sock`);
    const argv = machineArgs({ accel: this.accel.accel, disk, iso, consoleLog, qmp: qmpSocket, nics });
    // setpriv: QEMU gets SIGKILL if this process dies without cleaning up.
    const proc = spawn('setpriv', ['--pdeathsig', 'KILL', 'ip', 'netns', 'exec', this.bed.nsName('router'), QEMU, '-name', `hpa-${name}`, ...argv], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: HOST_PATH },
    });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const vm = new Vm(name, proc, consoleLog, qmpSocket, nics);
    this.vms.add(vm);
    this.launched.set(vm, { disk, iso });
    await sleep(500);
    if (!vm.running) throw new Error(`QEMU exited at once: ${stderr.trim()}`);
    return vm;
  }

  /**
   * A plain reboot: `systemctl reboot` in the guest (its whole shutdown), QEMU ends at the reset
   * (-no-reboot), and the same machine — disk, CD — powers on again. Returns the new run.
   */
  async reboot(vm: Vm, timeoutMs = 180_000): Promise<Vm> {
    const { disk, iso } = this.launched.get(vm) ?? {};
    if (!disk) throw new Error(`${vm.name} was not started by this bed`);
    await this.ssh(vm.name, 'systemctl reboot', { timeoutMs: 15_000 });
    const deadline = performance.now() + timeoutMs;
    while (vm.running && performance.now() < deadline) await sleep(200);
    if (vm.running) throw new Error(`${vm.name} did not finish its reboot's shutdown in ${timeoutMs} ms:\n${vm.consoleTail()}`);
    return this.powerOn(vm.name, disk, iso, { nics: vm.nics });
  }

  /** Runs a shell command on the appliance over SSH from the workstation, as root with the seed's password. */
  async ssh(vm: string, command: string, opts: { timeoutMs?: number; connectTimeoutS?: number } = {}): Promise<SshResult> {
    const r = await execa(
      'ip',
      [
        'netns',
        'exec',
        this.bed.nsName('workstation'),
        'ssh',
        '-F',
        'none',
        '-o',
        'StrictHostKeyChecking=accept-new',
        '-o',
        `UserKnownHostsFile=${this.knownHosts(vm)}`,
        '-o',
        'PreferredAuthentications=password,keyboard-interactive',
        '-o',
        'PubkeyAuthentication=no',
        '-o',
        'NumberOfPasswordPrompts=1',
        '-o',
        `ConnectTimeout=${opts.connectTimeoutS ?? 10}`,
        '-o',
        'LogLevel=ERROR',
        `root@${ADDR.management}`,
        command,
      ],
      {
        reject: false,
        stdin: 'ignore',
        timeout: opts.timeoutMs ?? 60_000,
        extendEnv: false,
        env: {
          PATH: HOST_PATH,
          HOME: this.work,
          SSH_ASKPASS: join(this.work, 'askpass'),
          SSH_ASKPASS_REQUIRE: 'force',
          DISPLAY: ':0',
          HPA_VM_PASSWORD: this.rootPassword,
        },
      },
    );
    return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
  }

  /** Like {@link ssh}, but throws unless the command exits 0. */
  async mustSsh(vm: string, command: string, opts: { timeoutMs?: number } = {}): Promise<string> {
    const r = await this.ssh(vm, command, opts);
    if (r.exitCode !== 0) throw new Error(`on the appliance: ${command} exited ${r.exitCode}\n${tail(`${r.stdout}\n${r.stderr}`.trim(), 30)}`);
    return r.stdout;
  }

  /** The PIDs of every QEMU this bed started. */
  get pids(): number[] {
    return [...this.vms].map((vm) => vm.proc.pid).filter((p): p is number => p !== undefined);
  }

  knownHosts(vm: string): string {
    return join(this.work, `known_hosts-${vm}`);
  }

  /** Waits until SSH logs in and boot has finished (`systemctl is-system-running --wait`); returns the system state. */
  async waitBooted(vm: Vm, timeoutMs: number): Promise<{ state: string; ms: number }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (!vm.running) throw new Error(`${vm.name} powered off during boot:\n${vm.consoleTail()}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${vm.name} was not reachable over SSH in ${timeoutMs} ms:\n${vm.consoleTail()}`);
      const r = await this.ssh(vm.name, 'systemctl is-system-running --wait', { timeoutMs: Math.max(5_000, left), connectTimeoutS: 5 });
      const state = r.stdout.trim();
      if (['running', 'degraded'].includes(state)) return { state, ms: performance.now() - vm.startedAt };
      await sleep(1_000);
    }
  }

  /** Waits until SSH logs in (sshd starts after the first-boot agent has finished). */
  async waitSsh(vm: Vm, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (!vm.running) throw new Error(`${vm.name} powered off during boot:\n${vm.consoleTail()}`);
      if (performance.now() > deadline) throw new Error(`${vm.name} was not reachable over SSH in ${timeoutMs} ms:\n${vm.consoleTail()}`);
      const r = await this.ssh(vm.name, 'true', { timeoutMs: 30_000, connectTimeoutS: 5 });
      if (r.exitCode === 0) return performance.now() - vm.startedAt;
      await sleep(1_000);
    }
  }

  /**
   * Runs verify (with `args`) until `isGreen` says so or `timeoutMs` passes; returns the last run
   * and when it turned green (ms since power-on), if it did.
   */
  async verifyUntil(
    vm: Vm,
    args: string[],
    isGreen: (run: VerifyRun) => boolean,
    timeoutMs: number,
  ): Promise<{ run: VerifyRun; greenMs?: number; runs: number }> {
    const deadline = performance.now() + timeoutMs;
    for (let runs = 1; ; runs++) {
      const run = await this.verify(vm.name, args);
      if (isGreen(run)) return { run, greenMs: performance.now() - vm.startedAt, runs };
      if (performance.now() > deadline || !vm.running) return { run, runs };
      await sleep(2_000);
    }
  }

  /**
   * When the units of a boot started and became active, in seconds since the kernel started
   * (systemd's monotonic timestamps; `systemd-analyze` answers only once boot has finished, and
   * the trust store can take a minute after sshd is up).
   */
  async unitTimes(vm: string, units: readonly string[]): Promise<Array<{ unit: string; startS?: number; activeS?: number }>> {
    const out = await this.mustSsh(
      vm,
      units.map((u) => `systemctl show -p Id -p InactiveExitTimestampMonotonic -p ActiveEnterTimestampMonotonic -p ActiveState ${u}; echo`).join('; '),
    );
    return out
      .trim()
      .split(/\n\s*\n/u)
      .map((block) => {
        const p = parseShow(block);
        const sec = (v?: string) => (v && Number(v) > 0 ? Number(v) / 1e6 : undefined);
        return { unit: p.Id ?? '?', startS: sec(p.InactiveExitTimestampMonotonic), activeS: sec(p.ActiveEnterTimestampMonotonic) };
      });
  }

  /** `haproxy-appliance verify` from the workstation (JSON), with `args` (e.g. `--expect FILE`). */
  verify(vm: string, args: string[] = []): Promise<VerifyRun> {
    return verifyFromWorkstation(this.bed, { knownHosts: this.knownHosts(vm), home: this.work, password: this.rootPassword, timeoutS: 60, args });
  }

  /** A file for the workstation's side (an --expect environment). */
  async workstationFile(name: string, text: string): Promise<string> {
    const path = join(this.work, name);
    await writeFile(path, text, { mode: 0o600 });
    await chmod(path, 0o600);
    return path;
  }

  /** Copies the console logs into ARTIFACTS/vm-<id>/ (for a failed run); returns the folder. */
  async keepConsoleLogs(): Promise<string> {
    const dest = join(ARTIFACTS, `vm-${this.id}`);
    await mkdir(dest, { recursive: true });
    for (const f of await readdir(this.work)) if (f.startsWith('console-') || f === 'kvm-probe.log') await copyFile(join(this.work, f), join(dest, f));
    return dest;
  }

  cleanupSync(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    this.forgetExitHook();
    for (const vm of this.vms) if (vm.running && vm.proc.pid !== undefined) signal(vm.proc.pid, 'SIGKILL');
    this.bed.cleanupSync();
    rmSync(this.work, { recursive: true, force: true });
  }

  /** Powers every machine off, deletes the namespaces (and the taps), removes the work folder. Never throws. */
  async cleanup(): Promise<string[]> {
    const notes: string[] = [];
    if (this.cleaned) return notes;
    this.cleaned = true;
    this.forgetExitHook();
    for (const vm of this.vms) {
      try {
        await vm.kill();
        if (vm.proc.pid !== undefined && isAlive(vm.proc.pid)) notes.push(`QEMU ${vm.proc.pid} still alive`);
      } catch (e) {
        notes.push(`power off ${vm.name}: ${(e as Error).message}`);
      }
    }
    await Promise.all(this.listeners.map((l) => l.close().catch(() => undefined)));
    await this.bed.cleanup();
    rmSync(this.work, { recursive: true, force: true });
    return notes;
  }
}
