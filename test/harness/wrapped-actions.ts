/**
 * Live actions run through the real runner (src/apply/live.ts systemRunner → src/util/run.ts →
 * execa) with wrappers only: EVERY program they name is a script in `dir/bin`, which is the whole
 * of PATH, and every file write is redirected into `dir/writes`. Nothing real (chpasswd,
 * systemctl, sshd, update-ca-certificates, ip, networkctl, hostname) runs on this machine: that is
 * asserted before anything runs. The wrappers log their argv (never stdin: chpasswd's input is a
 * password hash) and hang or fail where the test says.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runActions, systemRunner, type LiveAction } from '../../src/apply/live.js';

/**
 * What a wrapper does, by shell `case` patterns on its command line: hang (until the runner's
 * timeout kills it), fail with a message, or (by default) succeed.
 */
export type Behaviour = { hang?: string[]; fail?: { match: string[]; message: string } };

export interface WrappedRun {
  /** The wrappers' log: one command line per call. */
  calls: string[];
  /** What runActions threw, if anything. */
  error: unknown;
  /** The actions as run (writes redirected into `dir/writes`). */
  redirected: LiveAction[];
  /** The names of the files written into `dir/writes` (`/a/b` becomes `_a_b`). */
  wrote: string[];
}

export async function runWithWrappers(dir: string, actions: LiveAction[], behave: Behaviour = {}): Promise<WrappedRun> {
  const bin = join(dir, 'bin');
  const writes = join(dir, 'writes');
  mkdirSync(bin);
  mkdirSync(writes);
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  for (const p of new Set(actions.flatMap((a) => (a.kind === 'exec' ? [a.argv[0]!] : [])))) {
    const script = join(bin, p);
    // argv only; stdin is read and dropped (chpasswd's input is a password hash).
    writeFileSync(
      script,
      `#!/bin/sh
[ -t 0 ] || /bin/cat >/dev/null
line="${p}"; for a in "$@"; do line="$line $a"; done
printf '%s\\n' "$line" >>'${log}'
${behave.hang ? `case "$line" in ${behave.hang.join('|')}) exec /bin/sleep 3600 ;; esac` : ''}
${behave.fail ? `case "$line" in ${behave.fail.match.join('|')}) echo '${behave.fail.message}' >&2; exit 1 ;; esac` : ''}
exit 0
`,
    );
    chmodSync(script, 0o755);
  }
  const redirected = actions.map((a) => (a.kind === 'write' ? { ...a, path: join(writes, a.path.replaceAll('/', '_')) } : a));
  // SAFETY: every program is a bare name with a wrapper, PATH is the wrapper folder alone, and
  // every write is inside the scratch folder. Checked before anything runs.
  for (const a of redirected) {
    if (a.kind === 'exec') {
      assert.ok(!a.argv[0]!.includes('/'), `${a.argv[0]} is a bare name, found through PATH`);
      assert.ok(existsSync(join(bin, a.argv[0]!)), `${a.argv[0]} has a wrapper`);
    } else assert.ok(a.path.startsWith(`${writes}/`), `${a.path} is inside the scratch folder`);
  }
  const savedPath = process.env.PATH;
  process.env.PATH = bin;
  let error: unknown;
  try {
    await runActions(redirected, systemRunner);
  } catch (e) {
    error = e;
  } finally {
    process.env.PATH = savedPath;
  }
  return { calls: readFileSync(log, 'utf8').split('\n').filter(Boolean), error, redirected, wrote: readdirSync(writes) };
}
