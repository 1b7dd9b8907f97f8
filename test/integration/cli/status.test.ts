/**
 * `haproxy-appliance status --root DIR`, the built CLI on sandbox roots (nothing of the host is
 * read but its /proc/locks, and systemd is not asked): after a successful provision (ok, exit 0,
 * what changed), after a refused rerun recorded by the live system's own function (failed naming
 * the property, exit 1), with no run (exit 2), with a state.json of an older agent (ok, with a
 * note), and with the run lock held (running, exit 3; `--wait 1` gives up at its bound with 3;
 * `--wait` returns once the lock is released).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { STATE_FILE } from '../../../src/appliance/paths.js';
import { acquireRunLock } from '../../../src/apply/lock.js';
import { recordFailure } from '../../../src/cli/provision.js';
import { VERSION } from '../../../src/cli/version.js';
import { validateEnvironment } from '../../../src/config/validate.js';
import { InputError } from '../../../src/errors.js';
import { ingest } from '../../../src/ingest/read.js';
import { cli } from '../../harness/cli.js';
import { ROOT, SEED_MACS } from '../../harness/ovf.js';
import { terminate } from '../../harness/process.js';
import { envFile, tree, withSandbox } from '../../harness/sandbox.js';

const NICS = ['--nics', `management=${SEED_MACS.management},workload=${SEED_MACS.workload},frontend=${SEED_MACS.frontend}`];

interface StatusJson {
  status: string;
  exitCode: number;
  running?: string[];
  lastRun?: { outcome: string; source?: string; version?: string; changes?: { action: string; target: string }[]; problems?: { at: string; code: string }[] };
  applied?: { version: string; appliedAt: string };
  versions: { agent: string; haproxy?: string };
  services: Record<string, string>;
  notes: string[];
}

function status(root: string, extra: string[] = []): { code: number; text: string; json: StatusJson } {
  const t = cli(['status', '--root', root, ...extra]);
  const j = cli(['status', '--root', root, '--json', ...extra]);
  assert.equal(j.code, t.code, `${t.stdout}${t.stderr}`);
  assert.equal(t.stderr, '', 'nothing on stderr without --wait');
  return { code: t.code, text: t.stdout, json: JSON.parse(j.stdout) as StatusJson };
}

test('ok after a provision run: when, from where, what changed, the agent version; a refused rerun: failed naming the property', async () => {
  await withSandbox(async (root, dir) => {
    const env = envFile(dir);
    const p = cli(['provision', '--root', root, '--ovf-env', env, ...NICS]);
    assert.equal(p.code, 0, p.stderr);
    const before = tree(root);
    const ok = status(root);
    assert.deepEqual(tree(root), before, 'status changes nothing');
    assert.equal(ok.code, 0, ok.text);
    assert.equal(ok.json.status, 'ok');
    assert.equal(ok.json.lastRun?.outcome, 'applied');
    assert.equal(ok.json.lastRun?.source, `file ${env}`);
    assert.equal(ok.json.versions.agent, VERSION);
    // What changed is what provision printed, line for line.
    const created = p.stdout.split('\n').filter((l) => l.startsWith('created '));
    assert.deepEqual(
      ok.json.lastRun?.changes?.map((c) => `created ${c.target}`),
      created,
    );
    const lines = ok.text.split('\n');
    assert.equal(lines[0], 'status: ok');
    assert.match(lines[1]!, new RegExp(`^last run: \\S+ \\(agent ${VERSION.replace(/\./gu, '\\.')}\\): applied the configuration$`, 'u'));
    assert.equal(lines[2], `OVF environment: file ${env}`);
    assert.equal(lines[3], `changed: ${created.length} items`);
    for (const c of created) assert.ok(lines.includes(`  ${c}`), c);
    assert.match(ok.text, /\nversions: agent \S+, haproxy \S+, dataplaneapi \S+\n/u);
    assert.match(ok.text, /\nnote: services not read: not read under --root/u);

    // A refused rerun, recorded as the live system records it.
    const bad = envFile(dir, { 'network.nameservers': '1.1.1.x' }, 'bad.xml');
    const { env: parsed } = await ingest({ file: bad });
    let err: unknown;
    try {
      validateEnvironment(parsed);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof InputError);
    assert.equal((await recordFailure(root, err, { source: parsed.source })).why, undefined);
    const failed = status(root);
    assert.equal(failed.code, 1, failed.text);
    assert.equal(failed.json.status, 'failed');
    assert.deepEqual(
      failed.json.lastRun?.problems?.map((x) => [x.at, x.code]),
      [['network.nameservers', 'not-ip']],
    );
    assert.match(failed.text, /^status: failed\nlast run: .*: refused the OVF environment/u);
    assert.match(failed.text, /\nerrors: 1\n {2}network\.nameservers: .* \(not-ip\)\n/u);
    assert.match(failed.text, /\nlast applied: /u);
    assert.equal(failed.json.applied?.version, VERSION);
  });
});

test('no run (exit 2), and a state.json of an older agent without the record (ok, with a note)', async () => {
  await withSandbox((root, dir) => {
    const none = status(root);
    assert.equal(none.code, 2);
    assert.equal(none.json.status, 'not-run');
    assert.match(none.text, /^status: not run\n/u);
    assert.match(none.text, /\nnote: no state\.json: the agent has not run here yet\n/u);

    assert.equal(cli(['provision', '--root', root, '--ovf-env', envFile(dir), ...NICS]).code, 0);
    const file = join(root, STATE_FILE);
    const { lastRun: _drop, ...old } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, `${JSON.stringify(old, null, 2)}\n`);
    const o = status(root);
    assert.equal(o.code, 0, o.text);
    assert.equal(o.json.status, 'ok');
    assert.equal(o.json.lastRun, undefined);
    assert.match(o.json.notes[0]!, /has no record of the last run: an older agent wrote it/u);

    writeFileSync(file, 'not json\n');
    const junk = status(root);
    assert.equal(junk.code, 2);
    assert.match(junk.text, /\nnote: state\.json is not JSON\n/u);
  });
});

test('running while the run lock is held (exit 3, --wait 1 gives up with 3), and --wait returns once it is released', async () => {
  await withSandbox(async (root, dir) => {
    assert.equal(cli(['provision', '--root', root, '--ovf-env', envFile(dir), ...NICS]).code, 0);
    const lock = await acquireRunLock(root);
    try {
      const held = status(root);
      assert.equal(held.code, 3, held.text);
      assert.equal(held.json.status, 'running');
      assert.deepEqual(held.json.running, ['a provision run holds the run lock']);
      assert.match(held.text, /^status: running\n {2}a provision run holds the run lock\nlast run: /u);
      const bounded = cli(['status', '--root', root, '--wait', '1']);
      assert.equal(bounded.code, 3, bounded.stdout);
      assert.match(bounded.stderr, /^waiting for the provision run to finish \(a provision run holds the run lock\); giving up in 1 s\n$/u);
      assert.match(bounded.stdout, /^status: running\n/u);

      // --wait without a bound: it says it waits, the lock goes, it reports ok.
      const child = spawn(process.execPath, [`${ROOT}dist/bin.js`, 'status', '--root', root, '--wait'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      // 'close': the process has exited and its output is all read.
      const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const said = new Promise<void>((resolve) =>
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes('\n')) resolve();
        }),
      );
      try {
        await Promise.race([said, closed]);
        assert.match(err, /^waiting for the provision run to finish \(a provision run holds the run lock\)\n/u);
        await lock.release();
        await closed;
        assert.equal(child.exitCode, 0, `${out}${err}`);
        assert.match(out, /^status: ok\n/u);
      } finally {
        await terminate(child);
      }
    } finally {
      await lock.release();
    }
  });
});
