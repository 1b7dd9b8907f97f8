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

export type LiveAction =
  | { kind: 'exec'; argv: string[]; why: string }
  | { kind: 'write'; path: string; content: string; why: string };

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
      ...(s.down ? [{ kind: 'exec' as const, argv: ['ip', 'link', 'set', 'dev', s.from, 'down'], why }] : []),
      { kind: 'exec', argv: ['ip', 'link', 'set', 'dev', s.from, 'name', s.to], why },
      ...(s.up ? [{ kind: 'exec' as const, argv: ['ip', 'link', 'set', 'dev', s.to, 'up'], why }] : []),
    ];
  });
}

/** The live actions for these file changes and the plan's renames, in the order to run them. */
export function liveActions(plan: Plan, changes: FileChange[]): LiveAction[] {
  const actions = renameActions(plan.renames);
  const networkd = changes.filter((c) => c.affects.includes('systemd-networkd'));
  const reconfigure = new Set<string>(plan.renames.map((r) => r.to));
  for (const c of networkd) if (c.action !== 'remove') for (const i of c.interfaces) reconfigure.add(i);
  if (networkd.length) actions.push({ kind: 'exec', argv: ['networkctl', 'reload'], why: 'a systemd-networkd file changed' });
  if (reconfigure.size) {
    actions.push({ kind: 'exec', argv: ['networkctl', 'reconfigure', ...[...reconfigure].sort()], why: 'apply the new units to these links now' });
  }
  const hostname = changes.find((c) => c.affects.includes('hostname') && c.content !== undefined);
  if (hostname) {
    actions.push({ kind: 'write', path: '/proc/sys/kernel/hostname', content: hostname.content!.trim(), why: 'set the host name now' });
  }
  if (changes.some((c) => c.affects.includes('systemd-timesyncd'))) {
    actions.push({ kind: 'exec', argv: ['systemctl', 'try-restart', 'systemd-timesyncd.service'], why: 'timesyncd reads its NTP servers at start' });
  }
  return actions;
}

/** The real thing: commands through execa, writes to the file (e.g. /proc/sys/kernel/hostname). */
export async function systemRunner(action: LiveAction): Promise<void> {
  if (action.kind === 'write') {
    await writeFile(action.path, action.content);
    return;
  }
  const { argv } = action;
  const { execa } = await import('execa');
  const r = await execa(argv[0]!, argv.slice(1), { reject: false, stdin: 'ignore', timeout: 60_000 });
  if (r.exitCode !== 0) {
    const detail = (r.stderr || r.stdout || (r as { shortMessage?: string }).shortMessage || '').trim();
    throw new Error(`exit ${r.exitCode ?? 'unknown'}${detail ? `: ${detail}` : ''}`);
  }
}

export function describeAction(a: LiveAction): string {
  return a.kind === 'exec' ? a.argv.join(' ') : `write ${JSON.stringify(a.content)} to ${a.path}`;
}

export async function runActions(actions: LiveAction[], runner: Runner = systemRunner): Promise<void> {
  for (const a of actions) {
    try {
      await runner(a);
    } catch (err) {
      throw new ApplyError(`the files were written, but \`${describeAction(a)}\` (${a.why}) failed: ${(err as Error).message}`, { cause: err });
    }
  }
}
