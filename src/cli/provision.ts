/**
 * `haproxy-appliance provision`, orchestration only: load (ingest, validate: load.ts) → NIC
 * identities (src/facts/) → lock (src/apply/) → facts → plan and render (src/plan/, src/render/)
 * → apply → report.
 *
 * - `--root DIR`: sandbox. Every file is read and written under DIR, confined to it (no symbolic
 *   link is followed out of it: src/util/root.ts); nothing from DIR is executed, and nothing of
 *   the build host is probed: --ovf-env is required (no guestinfo, no CD-ROM, no host defaults
 *   file), and NIC identities come from --nics, NICS= in DIR/etc/default/haproxy-appliance, or the
 *   OVF environment's adapters. A DIR that resolves to / is refused.
 * - no --root: this machine. The live NICs are read from /sys/class/net, renamed to their roles,
 *   and networkd reloads only when one of its files changed.
 * - `--dry-run`: prints a unified diff of what would change (stdout) and changes nothing.
 *
 * Exit: 0 done (or nothing to do), 1 apply failed, 2 bad input (nothing changed). On the live
 * system (no --root, no --dry-run) every outcome is recorded in state.json's `lastRun`, a failure
 * too (the one write a bad-input run makes: the record, never the configuration; see
 * docs/provision.md), and a failure also prints one loud line first. Key material
 * OpenSSL could not make does not stop the run: everything else is applied, the PKI files are left
 * as they are, and the run then exits 1 naming the step and OpenSSL's reason.
 */
import { realpath, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ApplyError, EXIT, InputError, inputError } from '../errors.js';
import type { Problem } from '../problems.js';
import type { Values } from './command.js';
import { applyPlan, beginApply, type ApplyResult } from '../apply/apply.js';
import { describeAction, notifyReady } from '../apply/live.js';
import { readUnderRoot } from '../util/root.js';
import { discoverNics } from '../facts/discover-nics.js';
import { resolveNics, type ResolvedNics } from '../facts/nics.js';
import { AGENT_DEFAULTS_FILE, parseDefaultsFile } from '../config/agent-defaults.js';
import { planAppliance } from '../plan/appliance.js';
import { gatherFacts } from '../facts/gather.js';
import type { KeyMaterialFailed } from '../facts/pki.js';
import { haproxyChecker } from '../apply/check.js';
import { failedRun, recordRun, stateWriter } from '../apply/state.js';
import { STATE_FILE } from '../appliance/paths.js';
import type { LastRun } from '../appliance/state.js';
import type { Plan } from '../plan/types.js';
import { VERSION } from './version.js';
import { ingest } from '../ingest/read.js';
import { validateEnvironment } from '../config/validate.js';
import { printWarnings } from './output.js';

/**
 * The sandbox root: an existing directory, by its real path (so `/tmp/..`, an empty `$VAR/` or a
 * link to `/` are seen for what they are), never the live system's `/`. With a root, the OVF
 * environment must come from --ovf-env: the transports would probe the build host.
 */
async function sandboxRoot(value: unknown, values: Values): Promise<string | undefined> {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw inputError('--root', 'not-directory', 'give a directory');
  const given = resolve(value);
  const st = await stat(given).catch(() => undefined);
  if (!st?.isDirectory()) throw inputError('--root', 'not-directory', `${given} is not a directory`);
  const root = await realpath(given);
  if (root === '/')
    throw inputError(
      '--root',
      'root-is-live-system',
      `${JSON.stringify(value)} is the live system's root (/), not a sandbox; leave --root out to provision this machine`,
    );
  if (typeof values['ovf-env'] !== 'string') {
    throw inputError(
      '--root',
      'root-needs-ovf-env',
      "give the OVF environment with --ovf-env FILE; in a sandbox the agent reads neither the build host's guestinfo nor its CD-ROM nor its defaults file",
    );
  }
  return root;
}

/** `--dataplaneapi-version`: `2.1.0`, `v3.0` and the like. */
function dataplaneVersionOption(value: string | boolean | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = typeof value === 'string' ? /^v?(\d{1,4}\.\d{1,4}(?:\.\d{1,4})?)$/u.exec(value) : null;
  if (!m) throw inputError('--dataplaneapi-version', 'not-version', `${JSON.stringify(String(value).slice(0, 40))} is not a version like 2.1.0 or 3.0`);
  return m[1]!;
}

/** NICS= from the agent's defaults file under `root` (confined to it, a regular file only), if set. */
async function agentOverride(root: string): Promise<{ value: string; file: string } | undefined> {
  const current = await readUnderRoot(root, AGENT_DEFAULTS_FILE).catch((err: Error) => {
    throw err instanceof InputError
      ? err
      : inputError(
          root === '/' ? AGENT_DEFAULTS_FILE : `${root}${AGENT_DEFAULTS_FILE}`,
          'unreadable',
          `cannot be read: ${err.message}`,
          `cannot read ${AGENT_DEFAULTS_FILE}${root === '/' ? '' : ` under ${root}`}: ${err.message}`,
        );
  });
  const value = current && parseDefaultsFile(current.content).get('NICS');
  return value ? { value, file: root === '/' ? AGENT_DEFAULTS_FILE : `${root}${AGENT_DEFAULTS_FILE}` } : undefined;
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

function describeNics(nics: ResolvedNics): string {
  return nics.assignments.map((a) => `${a.role} ${a.mac}${a.currentName && a.currentName !== a.role ? ` (now ${a.currentName})` : ''}`).join(', ');
}

function printText(result: ApplyResult, nics: ResolvedNics): void {
  const where = result.live ? 'this machine' : `sandbox ${result.root}`;
  process.stderr.write(`NICs from ${nics.source}: ${describeNics(nics)}\n`);
  if (result.dryRun) {
    process.stdout.write(result.diff ?? '');
    for (const r of result.renames) process.stderr.write(`would rename ${r.from} to ${r.to}\n`);
    for (const a of result.actions) process.stderr.write(`would run: ${describeAction(a)}\n`);
    const n = result.changes.length;
    process.stderr.write(`dry run on ${where}: ${n ? `${n} file${n === 1 ? '' : 's'} would change` : 'nothing would change'}; nothing was written\n`);
    return;
  }
  const verb = { create: 'created', update: 'updated', mode: 'changed mode of', remove: 'removed' } as const;
  for (const c of result.changes) process.stdout.write(`${verb[c.action]} ${c.path}\n`);
  for (const r of result.renames) process.stdout.write(`renamed ${r.from} to ${r.to}\n`);
  for (const a of result.actions) if (!a.rename) process.stdout.write(`ran: ${describeAction(a)}\n`);
  const n = result.changes.length;
  process.stdout.write(
    `provisioned ${where}: ${n ? `${n} file${n === 1 ? '' : 's'} changed` : 'nothing to change'}, ${result.unchanged.length} already up to date\n`,
  );
}

function printJson(result: ApplyResult, nics: ResolvedNics, deployment: string, warnings: Problem[], keyFailure?: KeyMaterialFailed): void {
  const doc = {
    ok: keyFailure === undefined,
    // Key material that could not be made (the rest was applied; the PKI files were left as they were).
    ...(keyFailure && { pki: { failed: { step: keyFailure.step, reason: keyFailure.reason, timedOut: keyFailure.timedOut } } }),
    dryRun: result.dryRun,
    live: result.live,
    root: result.root,
    deployment,
    nics: { source: nics.source, assignments: nics.assignments },
    changed: result.changes.map((c) => ({ path: c.path, action: c.action, mode: octal(c.mode), affects: c.affects })),
    unchanged: result.unchanged,
    renames: result.renames,
    actions: result.actions.map((a) => ({ action: describeAction(a), why: a.why })),
    ...(result.diff !== undefined && { diff: result.diff }),
    warnings,
  };
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

/** What a run learnt on the way, for the record of its outcome. */
interface RunInfo {
  /** Where the OVF environment came from, once read. */
  source?: string;
  /** Secret values of the validated configuration, kept out of a recorded message. */
  secrets: string[];
}

/**
 * Where a run records its outcome: `/` on the live system; nowhere with --root (a sandbox or an
 * image) or --dry-run (which writes nothing).
 */
export function recordRoot(values: Values): string | undefined {
  return values.root === undefined && values['dry-run'] !== true ? '/' : undefined;
}

/** A failed run's record: an InputError's problems, or one `apply` problem with the message (secrets cut out). */
export function failureRecord(err: unknown, info: { source?: string; secrets?: string[] }): LastRun {
  if (err instanceof InputError) return failedRun('input-error', err.problems, info.source, { version: VERSION, warnings: err.warnings });
  let message = err instanceof ApplyError ? err.message : `the agent stopped on an internal error (${(err as Error).name ?? 'unknown'}); see the journal`;
  for (const s of info.secrets ?? []) if (s.length > 0) message = message.split(s).join('(redacted)');
  return failedRun('apply-failed', [{ at: 'apply', code: 'apply-failed', message }], info.source, { version: VERSION });
}

/**
 * Records a failed run in state.json under `root` (`/` on the live system: the one path the CLI
 * takes; tests give a temporary root), under the run lock, taken again (the run dropped it).
 * `why`: why it was not recorded, if it was not.
 */
export async function recordFailure(root: string, err: unknown, info: { source?: string; secrets?: string[] }): Promise<{ lastRun: LastRun; why?: string }> {
  const lastRun = failureRecord(err, info);
  const why = await recordRun(root, lastRun);
  return { lastRun, ...(why !== undefined && { why }) };
}

export async function provisionCommand(values: Values): Promise<number> {
  const record = recordRoot(values);
  const info: RunInfo = { secrets: [] };
  try {
    return await provision(values, info);
  } catch (err) {
    if (record !== undefined) {
      const { lastRun, why } = await recordFailure(record, err, info);
      const p = lastRun.problems?.[0];
      const what = lastRun.outcome === 'input-error' ? 'bad input, nothing was changed' : 'applying failed';
      const line = `haproxy-appliance: PROVISIONING FAILED: ${what} (${p ? `${p.at}: ${p.code}` : 'see below'}); the appliance keeps its last good configuration; ${why === undefined ? `recorded in ${STATE_FILE}` : `not recorded: ${why}`}`;
      if (values.json !== true) process.stderr.write(`${line}\n`);
      if (values.boot === true) await toEveryConsole(line);
    }
    throw err;
  }
}

/**
 * At boot, the failure line goes to every console too, through the kernel log (critical level):
 * the first-boot unit's output reaches only /dev/console (the serial port on the OVA, its last
 * `console=`), while the admin looks at vSphere's console, the VGA one. Best effort: without
 * /dev/kmsg (a container) the journal and stderr still have the line.
 */
async function toEveryConsole(line: string): Promise<void> {
  try {
    await writeFile('/dev/kmsg', `<2>${line}\n`, { flag: 'a' });
  } catch {
    /* no kernel log to write to */
  }
}

async function provision(values: Values, info: RunInfo): Promise<number> {
  // The root first: with --root nothing of the build host is probed for the OVF environment.
  const root = await sandboxRoot(values.root, values);
  const dataplaneVersion = dataplaneVersionOption(values['dataplaneapi-version']);
  const json = values.json === true;
  // Progress on stderr as it happens: plain lines (journald keeps them as they are); none with --json.
  const progress = json ? undefined : (line: string) => process.stderr.write(`${process.stderr.isTTY ? '  → ' : 'step: '}${line}\n`);
  const { env, deployment } = await ingest({ file: values['ovf-env'], deployment: values.deployment });
  info.source = env.source;
  progress?.(`OVF environment from ${env.source}`);
  const { config, warnings } = validateEnvironment(env, { ...(deployment && { deployment }) });
  info.secrets = [config.appliance.rootPassword, config.appliance.caKey, config.loadbalance.haproxyPassword].filter((s): s is string => typeof s === 'string');

  let live;
  if (root === undefined) {
    try {
      live = await discoverNics();
    } catch (err) {
      throw new ApplyError((err as Error).message, { cause: err });
    }
  }
  const nics = resolveNics({
    deployment: config.deployment,
    ...(typeof values.nics === 'string' && { cliOverride: values.nics }),
    agentOverride: await agentOverride(root ?? '/'),
    adapters: env.adapters,
    ...(live && { live }),
  });
  const allWarnings: Problem[] = [...warnings, ...nics.warnings];
  const dryRun = values['dry-run'] === true;
  // A run that writes takes the lock before it reads anything it plans from (the current files,
  // the PKI, which keys to make), so two runs never plan from the same state.
  const session = dryRun ? undefined : await beginApply(root ?? '/', { live: root === undefined, ...(progress && { progress }) });
  // Under the unit (Type=notify): at boot the boot's services start as soon as what they read is
  // in place (liveActions marks the rest); otherwise, and after a run with no such step, at the end.
  let told = false;
  const ready = async (): Promise<void> => {
    if (told) return;
    told = true;
    const failed = await notifyReady();
    if (failed) process.stderr.write(`warning: ${failed}; systemd starts the services that wait for this unit when it ends\n`);
    else if (values.boot === true) progress?.('told systemd the files are in place: the services that wait for the agent start now');
  };
  let notify: boolean;
  let result: ApplyResult;
  let keyFailure: KeyMaterialFailed | undefined;
  let plan: Plan | undefined;
  try {
    const gathered = await gatherFacts(config, root ?? '/', {
      boot: values.boot === true,
      ...(dataplaneVersion !== undefined && { dataplaneVersion }),
    }).catch((err: Error) => {
      throw err instanceof ApplyError || err instanceof InputError
        ? err
        : new ApplyError(`cannot read the machine's current state: ${err.message}`, { cause: err });
    });
    plan = planAppliance(config, nics.assignments, gathered.facts);
    allWarnings.push(...gathered.warnings, ...(plan.warnings ?? []));
    if (!json) {
      printWarnings(allWarnings);
      // What was made for the PKI (not warnings: notes on stderr).
      for (const note of gathered.notes) process.stderr.write(`note: ${note}\n`);
    }
    keyFailure = gathered.pkiFailure;
    if (keyFailure)
      progress?.(
        `could not make the appliance's keys (${keyFailure.message}): ${dryRun ? 'showing' : 'applying'} everything else, leaving the PKI files as they are`,
      );
    notify = gathered.context.notifyReady === true && !dryRun;
    result = await applyPlan(plan, {
      ...(root !== undefined && { root }),
      dryRun,
      context: gathered.context,
      ...(notify && { ready }),
      checker: haproxyChecker(root === undefined),
      state: stateWriter(config, VERSION, env.source, allWarnings),
      ...(session && { session }),
      ...(progress && { progress }),
    }).catch((err: unknown) => {
      // The rest failed too (a live step, a check): both are reported.
      if (keyFailure && err instanceof ApplyError)
        throw new ApplyError(`${keyFailureMessage(keyFailure, root === undefined ? plan : undefined, dryRun)}\nAlso: ${err.message}`, { cause: err });
      throw err;
    });
  } finally {
    await session?.release();
  }
  if (json) printJson(result, nics, config.deployment, allWarnings, keyFailure);
  else printText(result, nics);
  // Reported last, after everything else was applied: exit 1, naming the step and OpenSSL's reason.
  if (keyFailure) throw new ApplyError(keyFailureMessage(keyFailure, result.live && !dryRun ? plan : undefined, dryRun), { cause: keyFailure });
  // Last: `systemctl restart haproxy-appliance` returns when told, so everything is printed by then.
  if (notify) await ready();
  return EXIT.ok;
}

/** The end-of-run error for key material that could not be made: what failed, what was done instead. */
function keyFailureMessage(failure: KeyMaterialFailed, plan: Plan | undefined, dryRun: boolean): string {
  const rest = dryRun
    ? 'the rest is shown; nothing was written'
    : 'everything else was applied, the PKI files were left as they were (or absent), and the next run makes the keys again';
  const held = plan?.dataplaneHeld !== undefined ? `; the Data Plane API was not started (${plan.dataplaneHeld})` : '';
  return `the appliance's keys were not made: ${failure.message}; ${rest}${held}`;
}
