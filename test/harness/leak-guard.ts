/**
 * The one leak guard of the beds: after a test, no namespace of its beds (`hpa-<bed id>-*`) and no
 * process it started may be left. Every bed test ends with {@link assertNothingLeft}.
 */
import assert from 'node:assert/strict';
import { NS_PREFIX } from './netns.js';
import { isAlive, run } from './process.js';

/** Namespaces of the harness (any bed, any process) that exist now. */
export async function listBedNamespaces(): Promise<string[]> {
  const r = await run('ip', ['-j', 'netns', 'list'], { reject: false });
  if (r.exitCode !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as Array<{ name: string }>).map((n) => n.name).filter((n) => n.startsWith(NS_PREFIX));
}

/** Namespaces of these beds (by `bed.id`) that still exist. */
export async function namespacesLeft(bedIds: Iterable<string | undefined>): Promise<string[]> {
  const ids = [...bedIds].filter((id): id is string => !!id);
  return (await listBedNamespaces()).filter((n) => ids.some((id) => n.startsWith(`${NS_PREFIX}${id}-`)));
}

export interface LeftBehind {
  /** Every namespace of these beds (by `bed.id`) must be gone. */
  bedIds?: Iterable<string | undefined>;
  /** Every one of these PIDs (processes the test started) must have exited. */
  pids?: Iterable<number>;
  /** A {@link listBedNamespaces} taken before the test: no harness namespace that is not in it may be left. */
  before?: Iterable<string>;
}

/** Fails when a namespace or process of the test is left behind (see {@link LeftBehind}). */
export async function assertNothingLeft(what: LeftBehind): Promise<void> {
  assert.deepEqual(await namespacesLeft(what.bedIds ?? []), [], 'namespaces left behind');
  if (what.before) {
    const before = new Set(what.before);
    assert.deepEqual(
      (await listBedNamespaces()).filter((n) => !before.has(n)),
      [],
      'every namespace of the bed is deleted',
    );
  }
  assert.deepEqual([...(what.pids ?? [])].filter(isAlive), [], 'processes left running');
}
