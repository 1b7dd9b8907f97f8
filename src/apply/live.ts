/**
 * What the live system needs after the files are written: the root password set, NICs renamed
 * to their role names now (the .link files do it at later boots), networkd reloaded only when one
 * of its files changed and the affected links reconfigured, the kernel host name set, sshd
 * reloaded, timesyncd and resolved restarted when their drop-ins changed, haproxy and the Data
 * Plane API, and, last, the trust store. Never used in the sandbox (--root).
 *
 * A step's failure does not stop the steps that do not depend on it: every step runs unless a
 * step it needs failed (its group, or a group it names in `needs`), and the run then fails
 * listing every failed and skipped step. Access comes first: the root password before anything
 * else, sshd right after the network it listens on; slow, optional work (the trust store) last.
 */
import { writeFile } from 'node:fs/promises';
import { ApplyError } from '../errors.js';
import type { Plan } from '../plan/types.js';
import type { FileChange } from './changes.js';
import type { LiveContext } from '../facts/types.js';
import { writeAtomic } from './files.js';
import { failureCause, failureDetail, run } from '../util/run.js';
import { DATAPLANEAPI_UNIT, PKI_PATHS } from '../appliance/paths.js';

/**
 * `secret`: its stdin or content (chpasswd's hash, the password marker) is never printed or
 * journaled. `rename`: a NIC rename step, not repeatable (a run that recovers a journal does not
 * replay it; the next plan renames from what it finds). `group`: steps that depend on each other
 * in order (a failure skips the rest of its group: `sshd -t` failing skips the ssh reload;
 * chpasswd failing skips the password marker); `needs`: other groups that must not have failed
 * (sshd is reloaded only when the network it listens on was applied). `timeoutMs`: the command's
 * own timeout when the default (src/util/run.ts) does not fit its work. `afterReady`: at boot,
 * no service of this boot waits for it, so it runs after the agent told systemd it is ready
 * (see {@link liveActions}).
 */
interface ActionFlags {
  why: string;
  secret?: true;
  rename?: true;
  group?: string;
  needs?: string[];
  timeoutMs?: number;
  afterReady?: true;
}
export type LiveAction =
  ({ kind: 'exec'; argv: string[]; stdin?: string } & ActionFlags) | ({ kind: 'write'; path: string; content: string; mode?: number } & ActionFlags);

/** Performs one action; rejects with a message that says why (a command's stderr). */
export type Runner = (action: LiveAction) => Promise<void>;

/**
 * How long a `systemctl` job may take: systemd's own start and stop timeouts (90 s each by
 * default) fire first and say why in the unit's journal; this is the backstop above them.
 */
export const SYSTEMCTL_TIMEOUT_MS = 240_000;

/** The trust-store unit (firstboot/haproxy-appliance-trust-store.service). */
export const TRUST_STORE_UNIT = 'haproxy-appliance-trust-store.service';
/**
 * How long rebuilding the trust store may take: update-ca-certificates took about 50 s in an
 * unaccelerated VM with no other load; the unit's TimeoutStartSec is 15 min, and `systemctl
 * start` waits a minute longer so that systemd's own timeout, logged in the unit's journal, fires
 * first.
 */
export const TRUST_STORE_TIMEOUT_MS = 15 * 60_000;

/** `ip link set …` for every rename; through temporary names when NICs swap names. */
function renameActions(renames: Plan['renames']): LiveAction[] {
  const froms = new Set(renames.map((r) => r.from));
  const swap = renames.some((r) => froms.has(r.to));
  const steps = swap
    ? [
        ...renames.map((r, i) => ({ from: r.from, to: `hpa-tmp${i}`, down: true, up: false })),
        ...renames.map((r, i) => ({ from: `hpa-tmp${i}`, to: r.to, down: false, up: true })),
      ]
    : renames.map((r) => ({ from: r.from, to: r.to, down: true, up: true }));
  return steps.flatMap((s): LiveAction[] => {
    const why = `rename ${s.from} to ${s.to}`;
    return [
      ...(s.down ? [{ kind: 'exec' as const, argv: ['ip', 'link', 'set', 'dev', s.from, 'down'], why, rename: true as const, group: 'rename' }] : []),
      { kind: 'exec', argv: ['ip', 'link', 'set', 'dev', s.from, 'name', s.to], why, rename: true, group: 'rename' },
      ...(s.up ? [{ kind: 'exec' as const, argv: ['ip', 'link', 'set', 'dev', s.to, 'up'], why, rename: true as const, group: 'rename' }] : []),
    ];
  });
}

const DEFAULT_CONTEXT: LiveContext = { boot: false, systemd: true, vmtoolsd: false };

const touches = (changes: FileChange[], service: string) => changes.some((c) => (c.affects as string[]).includes(service));

/**
 * The live actions for these file changes and the plan, in this order: the root password, NIC
 * names, the network, the host name, sshd (checked first), timesyncd, resolved, unit files,
 * haproxy (a hitless reload), the Data Plane API, the CA published to guestinfo, and the trust
 * store. Each carries its group and what it needs (see {@link runActions}).
 *
 * At boot under Type=notify (`context.boot` and `notifyReady`), networkd, resolved, sshd and haproxy start
 * once the agent says it is ready: after the files, the root password, the NIC names and the host
 * name. What none of them needs is marked `afterReady` and runs while they start: reloading
 * systemd for a unit file not part of this boot (dataplaneapi.service before it was first
 * enabled), the Data Plane API's enable, disable or queued start (it is ordered after haproxy),
 * publishing the CA, and queueing the trust store. (Those systemctl calls took 7 s of a first boot
 * in an unaccelerated VM, PID 1 being busy with the boot.)
 */
export function liveActions(plan: Plan, changes: FileChange[], context: LiveContext = DEFAULT_CONTEXT): LiveAction[] {
  const { boot, systemd } = context;
  const late = boot && context.notifyReady === true ? ({ afterReady: true } as const) : {};
  const actions: LiveAction[] = [];
  const exec = (argv: string[], why: string, flags: Omit<ActionFlags, 'why'> = {}): void => void actions.push({ kind: 'exec', argv, why, ...flags });
  const systemctl = (args: string[], why: string, flags: Omit<ActionFlags, 'why'> = {}): void =>
    exec(['systemctl', ...args], why, { timeoutMs: SYSTEMCTL_TIMEOUT_MS, ...flags });

  // Access first: nothing the root password needs can fail before it.
  if (plan.rootPassword) {
    actions.push({
      kind: 'exec',
      argv: ['chpasswd', '-e'],
      stdin: plan.rootPassword.chpasswdLine,
      secret: true,
      group: 'root-password',
      why: 'set the root password from appliance.root_pwd',
    });
    // Only after chpasswd succeeded (same group): a failed or killed chpasswd is retried next run.
    actions.push({
      kind: 'write',
      path: plan.rootPassword.markerPath,
      content: plan.rootPassword.marker,
      mode: 0o600,
      secret: true,
      group: 'root-password',
      why: 'remember which root password property was applied',
    });
  }
  actions.push(...renameActions(plan.renames));

  const networkd = changes.filter((c) => c.affects.includes('systemd-networkd'));
  const reconfigure = new Set<string>(plan.renames.map((r) => r.to));
  for (const c of networkd) if (c.action !== 'remove') for (const i of c.interfaces) reconfigure.add(i);
  // At boot networkd has not started yet and reads the new files when it does.
  if (systemd && !boot) {
    if (networkd.length) exec(['networkctl', 'reload'], 'a systemd-networkd file changed', { group: 'network' });
    if (reconfigure.size)
      exec(['networkctl', 'reconfigure', ...[...reconfigure].sort()], 'apply the new units to these links now', { group: 'network', needs: ['rename'] });
  }
  const hostname = changes.find((c) => c.affects.includes('hostname') && c.content !== undefined);
  // sethostname(2) through hostname(1): works where /proc/sys is read-only (containers) too.
  if (hostname) exec(['hostname', hostname.content!.trim()], 'set the host name now');
  if (systemd && !boot && touches(changes, 'ssh')) {
    // sshd listens on the management address: reloaded only once the network is applied, and
    // never with a drop-in that `sshd -t` refuses (a reload would stop it).
    exec(['sshd', '-t'], 'check the sshd configuration before sshd reads it', { group: 'ssh', needs: ['rename', 'network'] });
    systemctl(['reload-or-restart', 'ssh.service'], 'the sshd drop-in changed', { group: 'ssh', needs: ['rename', 'network'] });
  }
  if (systemd && !boot && touches(changes, 'systemd-timesyncd')) {
    systemctl(['try-restart', 'systemd-timesyncd.service'], 'timesyncd reads its NTP servers at start');
  }
  if (systemd && !boot && touches(changes, 'systemd-resolved')) {
    // resolved (systemd 252) has no reload; at boot it starts after the agent and reads the drop-in.
    systemctl(['try-restart', 'systemd-resolved.service'], 'resolved reads its drop-in (LLMNR and mDNS off) at start');
  }

  const unitFiles = changes.filter((c) => c.path.startsWith('/etc/systemd/system/'));
  const unitsChanged = unitFiles.length > 0;
  // Before ready only when a unit of this boot changed: it must start from its new file.
  const bootUnitChanged = unitFiles.some((c) => c.path !== DATAPLANEAPI_UNIT || context.apiUnitEnabled === true);
  if (systemd && unitsChanged) systemctl(['daemon-reload'], 'a unit file changed', { group: 'units', ...(!bootUnitChanged && late) });
  if (systemd && !boot && touches(changes, 'haproxy')) {
    // reload-or-restart: a running haproxy reloads (master-worker, listeners handed over: no
    // connection refused); a stopped one starts.
    systemctl(['reload-or-restart', 'haproxy.service'], 'haproxy.cfg changed');
  }
  if (systemd && plan.dataplaneEnabled !== undefined) {
    const unit = 'dataplaneapi.service';
    const api = { group: 'dataplaneapi', needs: ['units'], ...late };
    // Its certificate appears (made at last, after a run that could not make it and held the API
    // back): that run did not enable the unit, so this one does.
    const enable = unitsChanged || changes.some((c) => c.path === PKI_PATHS.serverCert && c.action === 'create');
    if (!plan.dataplaneEnabled) {
      if (touches(changes, 'dataplaneapi')) systemctl(['disable', unit], 'the Data Plane API binary is missing: leave its unit disabled', api);
    } else if (plan.dataplaneHeld !== undefined) {
      // Not enabled, started or restarted without a certificate: it would fail, and restart every
      // 5 s (Restart=always), until a run makes the certificate.
    } else if (boot) {
      if (enable) systemctl(['enable', unit], 'the Data Plane API runs at every boot', api);
      // Queued, not waited for: it is ordered after haproxy, which starts after this unit.
      if (touches(changes, 'dataplaneapi')) systemctl(['start', '--no-block', unit], 'start the Data Plane API once haproxy runs', api);
    } else if (touches(changes, 'dataplaneapi')) {
      if (enable) systemctl(['enable', unit], 'the Data Plane API runs at every boot', api);
      systemctl(['restart', unit], 'its configuration, certificate or userlist changed', api);
    }
  }
  if (context.vmtoolsd && plan.publishCa) {
    // guestinfo keys set by the guest do not survive a power cycle: published on every run.
    exec(
      ['vmtoolsd', '--cmd', `info-set guestinfo.dataplaneapi.cacert ${Buffer.from(plan.publishCa).toString('base64')}`],
      'publish the CA for the Supervisor',
      late,
    );
  }
  if (touches(changes, 'ca-certificates')) {
    // Last, and only when the CA changed: update-ca-certificates rebuilds the whole bundle (a few
    // processes per certificate: about 50 s in an unaccelerated VM). Nothing the appliance
    // serves needs it; it lets local TLS clients (curl to the API) trust the appliance CA.
    if (systemd && boot) {
      // Off the first boot's critical path: the unit runs after the agent, sshd and haproxy.
      systemctl(['start', '--no-block', TRUST_STORE_UNIT], 'the appliance CA changed: add it to the system trust store once the services run', late);
    } else if (systemd) {
      systemctl(['start', TRUST_STORE_UNIT], 'the appliance CA changed: add it to the system trust store', { timeoutMs: TRUST_STORE_TIMEOUT_MS + 60_000 });
    } else {
      exec(['update-ca-certificates'], 'the appliance CA changed: refresh the system trust store', { group: 'trust-store', timeoutMs: TRUST_STORE_TIMEOUT_MS });
      exec(['openssl', 'rehash', '/etc/ssl/certs'], 'hash links for the CA that replaced an earlier one in place', { group: 'trust-store' });
    }
  }
  return actions;
}

/**
 * Tells systemd that the first-boot unit (Type=notify, NotifyAccess=all) is ready, so that the
 * units ordered after it start. systemd-notify sends on behalf of its parent (the agent) and
 * waits until systemd has read the message. Resolves to why it failed, if it did: the run goes
 * on, and systemd then fails the unit when the agent exits ("protocol"), which is seen.
 */
export async function notifyReady(): Promise<string | undefined> {
  const r = await run(['systemd-notify', '--ready']);
  if (r.notFound) return 'systemd-notify is not installed';
  return r.exitCode === 0 && !r.timedOut ? undefined : `systemd-notify --ready failed: ${failureDetail(r)}`;
}

/** The real thing: commands (through src/util/run.ts) and file writes. */
export async function systemRunner(action: LiveAction): Promise<void> {
  if (action.kind === 'write') {
    if (action.mode !== undefined) await writeAtomic(action.path, action.content, action.mode);
    else await writeFile(action.path, action.content);
    return;
  }
  const r = await run(action.argv, {
    ...(action.stdin !== undefined && { input: action.stdin }),
    ...(action.timeoutMs !== undefined && { timeoutMs: action.timeoutMs }),
  });
  if (r.notFound) throw new Error(`${action.argv[0]} is not installed`);
  if (r.timedOut) throw Object.assign(new Error(failureDetail(r)), { timedOut: true });
  if (r.exitCode !== 0) throw new Error(`${failureCause(r)}: ${failureDetail(r)}`);
}

export function describeAction(a: LiveAction): string {
  if (a.kind === 'exec') return `${a.argv.join(' ')}${a.stdin !== undefined ? ' (input on stdin, not shown)' : ''}`;
  return a.secret ? `write ${a.path} (secret, not shown)` : `write ${JSON.stringify(a.content)} to ${a.path}`;
}

/** One step that did not run to success: failed (with why), or skipped (because of which group). */
export interface ActionFailure {
  /** Index in the action list. */
  index: number;
  /** {@link describeAction} of the step (secrets not shown). */
  action: string;
  why: string;
  status: 'failed' | 'skipped';
  /** failed: the error (a command's last line, "timed out after N s", ...); skipped: the failed step it needed. */
  reason: string;
  /** The command timed out. */
  timedOut?: true;
}

/** Some live steps failed (exit 1): every failed and skipped step, in order. */
export class ActionsFailed extends ApplyError {
  readonly failures: ActionFailure[];
  constructor(failures: ActionFailure[]) {
    const failed = failures.filter((f) => f.status === 'failed');
    const lines = failures.map((f) =>
      f.status === 'failed' ? `\`${f.action}\` (${f.why}) failed: ${f.reason}` : `\`${f.action}\` (${f.why}) was skipped: ${f.reason}`,
    );
    super(`the files were written, but ${failed.length === 1 ? 'a step' : `${failed.length} steps`} failed (the others ran):\n  - ${lines.join('\n  - ')}`);
    this.name = 'ActionsFailed';
    this.failures = failures;
  }
}

/**
 * Runs every action in order. A failed action does not stop the others: only the later actions of
 * its group, and those that name its group in `needs`, are skipped. `after(i)` is told of each
 * action that succeeded. `ready()` is awaited once, before the first action marked
 * `afterReady` (those come last). Rejects, after the last action, with {@link ActionsFailed} (an
 * ApplyError: exit 1) listing every failed and skipped action.
 */
export async function runActions(
  actions: LiveAction[],
  runner: Runner = systemRunner,
  after?: (i: number) => void,
  ready?: () => Promise<void>,
): Promise<void> {
  const failures: ActionFailure[] = [];
  /** Group → the failed step that stopped it. */
  const broken = new Map<string, string>();
  const readyAt = actions.findIndex((a) => a.afterReady === true);
  if (readyAt >= 0 && actions.slice(readyAt).some((a) => a.afterReady !== true))
    throw new Error('internal: a step the services wait for is ordered after one they do not');
  for (const [i, a] of actions.entries()) {
    if (i === readyAt) await ready?.();
    const base = { index: i, action: describeAction(a), why: a.why };
    const blocker = [a.group, ...(a.needs ?? [])].find((g): g is string => g !== undefined && broken.has(g));
    if (blocker !== undefined) {
      failures.push({ ...base, status: 'skipped', reason: `it needs \`${broken.get(blocker)}\`, which failed` });
      if (a.group !== undefined && !broken.has(a.group)) broken.set(a.group, broken.get(blocker)!);
      continue;
    }
    try {
      await runner(a);
    } catch (err) {
      const reason = (err as Error).message;
      failures.push({ ...base, status: 'failed', reason, ...((err as { timedOut?: boolean }).timedOut === true && { timedOut: true as const }) });
      if (a.group !== undefined) broken.set(a.group, base.action);
      continue;
    }
    after?.(i);
  }
  if (failures.length) throw new ActionsFailed(failures);
}
