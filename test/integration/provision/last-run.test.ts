/**
 * The record of the last run in state.json (`lastRun`), with the built CLI in --root sandboxes
 * and, for the live system's record of a failure, the very function the live run calls
 * (`recordFailure`, given a temporary root instead of `/`: provision without --root is never run
 * here). A bad-input run records `input-error` with the problem's at and code and changes no other
 * byte of state.json, nor any other file; a --root run and a --dry-run record nothing of a
 * failure; a successful run records `applied` and where the OVF environment came from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STATE_FILE } from '../../../src/appliance/paths.js';
import { ingest } from '../../../src/ingest/read.js';
import { validateEnvironment } from '../../../src/config/validate.js';
import { InputError } from '../../../src/errors.js';
import { recordFailure } from '../../../src/cli/provision.js';
import { cli } from '../../harness/cli.js';
import type { LastRun } from '../../../src/appliance/state.js';
import { VERSION } from '../../../src/cli/version.js';
import { envFile, tree, withSandbox } from '../../harness/sandbox.js';
import { SEED_MACS } from '../../harness/ovf.js';

const BAD_PWD = 'Zq9!x';

/** The InputError a run over this OVF environment file stops on, and its source (as provision sees them). */
async function refusal(file: string): Promise<{ err: InputError; source: string }> {
  const { env } = await ingest({ file });
  try {
    validateEnvironment(env);
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    return { err, source: env.source };
  }
  assert.fail('the environment validated');
}

const stateOf = (root: string) => readFileSync(join(root, STATE_FILE), 'utf8');

test('success under --root records applied and the source; the source is the first step line', async () => {
  await withSandbox((root, dir) => {
    const env = envFile(dir);
    const args = [
      'provision',
      '--root',
      root,
      '--ovf-env',
      env,
      '--nics',
      `management=${SEED_MACS.management},workload=${SEED_MACS.workload},frontend=${SEED_MACS.frontend}`,
    ];
    const r = cli(args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.split('\n')[0], `step: OVF environment from file ${env}`);
    const state = JSON.parse(stateOf(root)) as { appliedAt: string; lastRun: LastRun };
    const { changes, warnings, ...record } = state.lastRun;
    assert.deepEqual(record, { at: state.appliedAt, outcome: 'applied', source: `file ${env}`, version: VERSION });
    // What changed: every file the run printed as created, in order (a sandbox renames no NIC and runs nothing).
    const created = r.stdout.split('\n').flatMap((l) => (l.startsWith('created ') ? [{ action: 'create', target: l.slice('created '.length) }] : []));
    assert.ok(created.length > 10, r.stdout);
    assert.deepEqual(changes, created);
    // Its warnings, as printed.
    const printed = r.stderr.split('\n').flatMap((l) => (l.startsWith('warning: ') ? [l.slice('warning: '.length)] : []));
    assert.deepEqual(
      (warnings ?? []).map((w) => `${w.at}: ${w.message}`),
      printed,
    );
    // A rerun from the same source rewrites nothing, state.json included.
    const before = stateOf(root);
    const again = cli(args);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(stateOf(root), before);
  });
});

test('bad input: --root and --dry-run record nothing; the live record changes only lastRun, byte for byte', async () => {
  await withSandbox(async (root, dir) => {
    const good = envFile(dir);
    const nics = ['--nics', 'management=00:50:56:b1:20:5e,workload=00:50:56:b1:8d:33,frontend=00:50:56:b1:8a:41'];
    assert.equal(cli(['provision', '--root', root, '--ovf-env', good, ...nics]).code, 0);
    const bad = envFile(dir, { 'network.nameservers': '1.1.1.x', 'appliance.root_pwd': BAD_PWD }, 'bad.xml');
    const before = tree(root);
    const stateBefore = stateOf(root);
    const modeBefore = statSync(join(root, STATE_FILE)).mode;

    for (const extra of [[], ['--dry-run']]) {
      const r = cli(['provision', '--root', root, '--ovf-env', bad, ...nics, ...extra]);
      assert.equal(r.code, 2, r.stderr);
      assert.doesNotMatch(r.stderr, /PROVISIONING FAILED/u, 'a sandbox run records nothing and says nothing of a record');
      assert.deepEqual(tree(root), before, `--root ${extra.join(' ')}: nothing changed, state.json included`);
    }

    // The live system's record, given this root.
    const { err, source } = await refusal(bad);
    const { lastRun, why } = await recordFailure(root, err, { source });
    assert.equal(why, undefined);
    const after = stateOf(root);
    const json = JSON.parse(after) as Record<string, unknown> & {
      lastRun: { at: string; outcome: string; source: string; problems: { at: string; code: string; message: string }[] };
    };
    assert.deepEqual(json.lastRun, lastRun);
    assert.equal(json.lastRun.outcome, 'input-error');
    assert.equal(json.lastRun.source, `file ${bad}`);
    assert.deepEqual(json.lastRun.problems.map((p) => [p.at, p.code]).sort(), [
      ['appliance.root_pwd', 'password-length'],
      ['network.nameservers', 'not-ip'],
    ]);
    assert.ok(!after.includes(BAD_PWD), 'the record holds no secret');
    // Every other byte as it was: put the old record back and the text is the old text.
    const old = JSON.parse(stateBefore) as Record<string, unknown>;
    assert.equal(`${JSON.stringify({ ...json, lastRun: old.lastRun }, null, 2)}\n`, stateBefore);
    assert.equal(statSync(join(root, STATE_FILE)).mode, modeBefore);
    const changed = [...tree(root)].filter(([p, c]) => before.get(p) !== c).map(([p]) => p);
    assert.deepEqual(changed, [STATE_FILE], 'only state.json changed');
    assert.equal(tree(root).size, before.size, 'no file added or removed');

    // The next good run records applied again (the configuration it says is the same).
    const r = cli(['provision', '--root', root, '--ovf-env', good, ...nics]);
    assert.equal(r.code, 0, r.stderr);
    const back = JSON.parse(stateOf(root)) as { lastRun: { outcome: string; source: string }; config: unknown };
    assert.equal(back.lastRun.outcome, 'applied');
    assert.deepEqual(back.config, (JSON.parse(stateBefore) as { config: unknown }).config);
  });
});

test('a failed first run (no state.json yet) leaves a state file holding the record alone', async () => {
  await withSandbox(async (root, dir) => {
    const bad = envFile(dir, { 'network.hostname': 'x..y' }, 'bad.xml');
    const { err, source } = await refusal(bad);
    assert.equal((await recordFailure(root, err, { source })).why, undefined);
    const json = JSON.parse(stateOf(root)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json), ['format', 'lastRun']);
    assert.deepEqual([...tree(root).keys()], [STATE_FILE]);
    assert.equal(statSync(join(root, STATE_FILE)).mode & 0o777, 0o644);
    // A file that is not a state file of this format is left as it is, and the reason given.
    writeFileSync(join(root, STATE_FILE), '{"format": 7}\n');
    assert.match((await recordFailure(root, err, { source })).why ?? '', /is not a state file of format 1; it was left as it is/u);
    assert.equal(stateOf(root), '{"format": 7}\n');
  });
});

test("state.json's hash of every file is the sha256 of its bytes on disk: after the first run, after another writer's change, and when nothing changed", async () => {
  await withSandbox((root, dir) => {
    const args = [
      'provision',
      '--root',
      root,
      '--ovf-env',
      envFile(dir),
      '--nics',
      `management=${SEED_MACS.management},workload=${SEED_MACS.workload},frontend=${SEED_MACS.frontend}`,
    ];
    const onDisk = () => {
      const files = (JSON.parse(stateOf(root)) as { files: Record<string, string> }).files;
      for (const [path, hash] of Object.entries(files))
        assert.equal(
          hash,
          createHash('sha256')
            .update(readFileSync(join(root, path)))
            .digest('hex'),
          path,
        );
      return files;
    };
    assert.equal(cli(args).code, 0);
    const first = onDisk();
    // The Data Plane API appends a section, with a character outside ASCII in a comment.
    const cfg = join(root, 'etc/haproxy/haproxy.cfg');
    writeFileSync(cfg, `${readFileSync(cfg, 'utf8')}\nfrontend api-one # café\n  mode tcp\n  bind 192.168.0.9:443\n`);
    assert.equal(cli(args).code, 0);
    const second = onDisk();
    assert.notEqual(second['/etc/haproxy/haproxy.cfg'], first['/etc/haproxy/haproxy.cfg']);
    // Nothing to change: hashed as read, the same as recorded, so state.json is not written.
    const before = statSync(join(root, STATE_FILE));
    assert.equal(cli(args).code, 0);
    assert.deepEqual(onDisk(), second);
    assert.equal(statSync(join(root, STATE_FILE)).mtimeMs, before.mtimeMs);
  });
});
