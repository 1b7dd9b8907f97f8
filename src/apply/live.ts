/**
 * What the live system needs after the files are written: NICs renamed to their role names now
 * (the .link files do it at later boots), networkd reloaded only when one of its files changed
 * and the affected links reconfigured, the kernel host name set, timesyncd restarted when its
 * drop-in changed. Never used in the sandbox (--root).
 */
import { writeFile } from 'node:fs/promises';
import { ApplyError } from '../errors.js';
import type { Plan } from '../plan/types.js';
import type { FileChange } from './apply.js';
import { writeAtomic } from './files.js';
import { failureDetail, run } from '../util/run.js';

/**
 * `secret`: its stdin or content (chpasswd's hash, the password marker) is never printed or
 * journaled. `rename`: a NIC rename step, not repeatable (a run that recovers a journal does not
 * replay it; the next plan renames from what it finds).
 */
interface ActionFlags { why: string; secret?: true; rename?: true }
export type LiveAction =
  | ({ kind: 'exec'; argv: string[]; stdin?: string } & ActionFlags)
  | ({ kind: 'write'; path: string; content: string; mode?: number } & ActionFlags);

/** Performs one action; rejects with a message that says why (a command's stderr). */
export type Runner = (action: LiveAction) => Promise<void>;

/** `ip link set …` for every rename; through temporary names when NICs swap names. */
function renameActions(renames: Plan['renames']): LiveAction[] {
  const froms = new Set(renames.map((r) => r.from));
  const swap = renames.some((r) => froms.has(r.to));
  const steps = swap
    ? [
        ...renames.map((r, i) => ({ from: r.from, to: `hpa-tmp${i}`, down: true, up: false })),
        ...renames.map((r, i) => ({ from: `hpa-tmp${i}`, to: r.to as string, down: false, up: true })),
      ]
    : renames.map((r) => ({ from: r.from, to: r.to as string, down: true, up: true }));
  return steps.flatMap((s): LiveAction[] => {
    const why = `rename ${s.from} to ${s.to}`;
    return [
      ...(s.down ? [{ kind: 'exec' as const, argv: ['ip', 'link', 'set', 'dev', s.from, 'down'], why, rename: true as const }] : []),
      { kind: 'exec', argv: ['ip', 'link', 'set', 'dev', s.from, 'name', s.to], why, rename: true },
      ...(s.up ? [{ kind: 'exec' as const, argv: ['ip', 'link', 'set', 'dev', s.to, 'up'], why, rename: true as const }] : []),
    ];
  });
}

/** How the live system is run: at boot (before networkd) or by an admin; with systemd or not. */
export interface LiveContext {
  /** `provision --boot` (the first-boot unit): services start after the agent, so none is reloaded. */
  boot: boolean;
  /** systemd is PID 1 (/run/systemd/system exists); without it no systemctl/networkctl runs. */
  systemd: boolean;
  /** vmtoolsd is installed: the CA is published to guestinfo. */
  vmtoolsd: boolean;
}

const DEFAULT_CONTEXT: LiveContext = { boot: false, systemd: true, vmtoolsd: false };

const touches = (changes: FileChange[], service: string) => changes.some((c) => (c.affects as string[]).includes(service));

/**
 * The live actions for these file changes and the plan, in dependency order: NIC names, the
 * network, host name and time, the trust store, unit files, haproxy (a hitless reload), the Data
 * Plane API, sshd (checked first), the root password, and the CA published to guestinfo.
 */
export function liveActions(plan: Plan, changes: FileChange[], context: LiveContext = DEFAULT_CONTEXT): LiveAction[] {
  const { boot, systemd } = context;
  const actions = renameActions(plan.renames);
  const exec = (argv: string[], why: string): void => void actions.push({ kind: 'exec', argv, why });

  const networkd = changes.filter((c) => c.affects.includes('systemd-networkd'));
  const reconfigure = new Set<string>(plan.renames.map((r) => r.to));
  for (const c of networkd) if (c.action !== 'remove') for (const i of c.interfaces) reconfigure.add(i);
  // At boot networkd has not started yet and reads the new files when it does.
  if (systemd && !boot) {
    if (networkd.length) exec(['networkctl', 'reload'], 'a systemd-networkd file changed');
    if (reconfigure.size) exec(['networkctl', 'reconfigure', ...[...reconfigure].sort()], 'apply the new units to these links now');
  }
  const hostname = changes.find((c) => c.affects.includes('hostname') && c.content !== undefined);
  // sethostname(2) through hostname(1): works where /proc/sys is read-only (containers) too.
  if (hostname) exec(['hostname', hostname.content!.trim()], 'set the host name now');
  if (systemd && !boot && touches(changes, 'systemd-timesyncd')) {
    exec(['systemctl', 'try-restart', 'systemd-timesyncd.service'], 'timesyncd reads its NTP servers at start');
  }
  if (touches(changes, 'ca-certificates')) exec(['update-ca-certificates'], 'the appliance CA changed: refresh the system trust store');

  const unitsChanged = changes.some((c) => c.path.startsWith('/etc/systemd/system/'));
  if (systemd && unitsChanged) exec(['systemctl', 'daemon-reload'], 'a unit file changed');
  if (systemd && !boot && touches(changes, 'haproxy')) {
    // reload-or-restart: a running haproxy reloads (master-worker, listeners handed over: no
    // connection refused); a stopped one starts.
    exec(['systemctl', 'reload-or-restart', 'haproxy.service'], 'haproxy.cfg changed');
  }
  if (systemd && plan.dataplaneEnabled !== undefined) {
    const unit = 'dataplaneapi.service';
    if (!plan.dataplaneEnabled) {
      if (touches(changes, 'dataplaneapi')) exec(['systemctl', 'disable', unit], 'the Data Plane API binary is missing: leave its unit disabled');
    } else if (boot) {
      if (unitsChanged) exec(['systemctl', 'enable', unit], 'the Data Plane API runs at every boot');
      // Queued, not waited for: it is ordered after haproxy, which starts after this unit.
      if (touches(changes, 'dataplaneapi')) exec(['systemctl', 'start', '--no-block', unit], 'start the Data Plane API once haproxy runs');
    } else if (touches(changes, 'dataplaneapi')) {
      if (unitsChanged) exec(['systemctl', 'enable', unit], 'the Data Plane API runs at every boot');
      exec(['systemctl', 'restart', unit], 'its configuration, certificate or userlist changed');
    }
  }
  if (systemd && !boot && touches(changes, 'ssh')) {
    exec(['sshd', '-t'], 'check the sshd configuration before sshd reads it');
    exec(['systemctl', 'reload-or-restart', 'ssh.service'], 'the sshd drop-in changed');
  }
  if (plan.rootPassword) {
    actions.push({ kind: 'exec', argv: ['chpasswd', '-e'], stdin: plan.rootPassword.chpasswdLine, secret: true, why: 'set the root password from appliance.root_pwd' });
    actions.push({ kind: 'write', path: plan.rootPassword.markerPath, content: plan.rootPassword.marker, mode: 0o600, secret: true, why: 'remember which root password property was applied' });
  }
  if (context.vmtoolsd && plan.publishCa) {
    // guestinfo keys set by the guest do not survive a power cycle: published on every run.
    exec(['vmtoolsd', '--cmd', `info-set guestinfo.dataplaneapi.cacert ${Buffer.from(plan.publishCa).toString('base64')}`], 'publish the CA for the Supervisor');
  }
  return actions;
}

/** The real thing: commands (through src/util/run.ts) and file writes. */
export async function systemRunner(action: LiveAction): Promise<void> {
  if (action.kind === 'write') {
    if (action.mode !== undefined) await writeAtomic(action.path, action.content, action.mode);
    else await writeFile(action.path, action.content);
    return;
  }
  const r = await run(action.argv, { ...(action.stdin !== undefined && { input: action.stdin }) });
  if (r.notFound) throw new Error(`${action.argv[0]} is not installed`);
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode ?? 'unknown'}: ${failureDetail(r)}`);
}

export function describeAction(a: LiveAction): string {
  if (a.kind === 'exec') return `${a.argv.join(' ')}${a.stdin !== undefined ? ' (input on stdin, not shown)' : ''}`;
  return a.secret ? `write ${a.path} (secret, not shown)` : `write ${JSON.stringify(a.content)} to ${a.path}`;
}

export async function runActions(actions: LiveAction[], runner: Runner = systemRunner, after?: (i: number) => void): Promise<void> {
  for (const [i, a] of actions.entries()) {
    try {
      await runner(a);
      after?.(i);
    } catch (err) {
      throw new ApplyError(`the files were written, but \`${describeAction(a)}\` (${a.why}) failed: ${(err as Error).message}`, { cause: err });
    }
  }
}
