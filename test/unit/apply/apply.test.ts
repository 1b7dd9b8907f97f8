/** Apply under a root prefix: atomic writes, idempotence, removal, dry-run diffs, live actions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyPlan, computeChanges } from '../../../src/apply/apply.js';
import { writeAtomic } from '../../../src/apply/files.js';
import { underRoot } from '../../../src/util/root.js';
import { describeAction, liveActions, runActions } from '../../../src/apply/live.js';
import { ApplyError } from '../../../src/errors.js';
import type { Plan } from '../../../src/plan/types.js';
import { planNetwork } from '../../../src/plan/appliance.js';
import { NETWORK_PATHS as PATHS } from '../../../src/appliance/paths.js';
import { SCENARIOS, scenarioConfig, scenarioNics } from '../../harness/scenarios.js';

function seedPlan(name = 'seed-frontend'): Plan {
  const s = SCENARIOS.find((x) => x.name === name)!;
  const config = scenarioConfig(s);
  return planNetwork(config, scenarioNics(s, config));
}

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'hpa-apply-'));
  try {
    await fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p.slice(root.length));
    }
  };
  walk(root);
  return out.sort();
}

test('underRoot: absolute appliance paths only, under the root', () => {
  assert.equal(underRoot('/tmp/r', '/etc/hosts'), '/tmp/r/etc/hosts');
  assert.equal(underRoot('/', '/etc/hosts'), '/etc/hosts');
  assert.throws(() => underRoot('/tmp/r', 'etc/hosts'));
  assert.throws(() => underRoot('/tmp/r', '/etc/../../x'));
});

test('writeAtomic: content and mode exactly, no temporary file left', async () => {
  await withRoot(async (root) => {
    const file = join(root, 'a/b/c.conf');
    await writeAtomic(file, 'one\n', 0o600);
    assert.equal(readFileSync(file, 'utf8'), 'one\n');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    await writeAtomic(file, 'two\n', 0o644);
    assert.equal(readFileSync(file, 'utf8'), 'two\n');
    assert.equal(statSync(file).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(join(root, 'a/b')), ['c.conf']);
  });
});

test('apply in a sandbox: writes the plan, then nothing; updates, mode fixes and removals only where needed', async () => {
  await withRoot(async (root) => {
    const plan = seedPlan();
    const first = await applyPlan(plan, { root });
    assert.equal(first.live, false);
    assert.deepEqual(first.actions, [], 'the sandbox runs no command');
    assert.deepEqual(
      first.changes.map((c) => c.action),
      plan.files.map(() => 'create'),
    );
    assert.deepEqual(tree(root), plan.files.map((f) => f.path).sort());
    const second = await applyPlan(plan, { root });
    assert.deepEqual(second.changes, []);
    assert.equal(second.unchanged.length, plan.files.length);

    // Drift: one file edited, one chmod-ed, one stale owned file present.
    const wl = underRoot(root, PATHS.network('workload'));
    writeFileSync(wl, 'edited\n');
    chmodSync(underRoot(root, PATHS.hosts), 0o600);
    mkdirSync(join(root, 'etc/systemd/timesyncd.conf.d'), { recursive: true });
    writeFileSync(underRoot(root, PATHS.timesyncd), '[Time]\nNTP=old\n');
    const third = await applyPlan(plan, { root });
    assert.deepEqual(
      third.changes.map((c) => [c.path, c.action]),
      [
        [PATHS.network('workload'), 'update'],
        [PATHS.hosts, 'mode'],
        [PATHS.timesyncd, 'remove'],
      ],
    );
    assert.equal(readFileSync(wl, 'utf8'), plan.files.find((f) => f.path === PATHS.network('workload'))!.content);
    assert.equal(statSync(underRoot(root, PATHS.hosts)).mode & 0o777, 0o644);
    assert.ok(!existsSync(underRoot(root, PATHS.timesyncd)));
    assert.deepEqual((await computeChanges(plan, root)).changes, []);
  });
});

test('dry run: a unified diff of every change, nothing written; secrets never shown', async () => {
  await withRoot(async (root) => {
    const plan = seedPlan();
    const dry = await applyPlan(plan, { root, dryRun: true });
    assert.deepEqual(readdirSync(root), [], 'nothing written');
    assert.equal(dry.changes.length, plan.files.length);
    assert.match(dry.diff!, /^--- \/dev\/null\n\+\+\+ b\/etc\/systemd\/network\/10-management\.link\n@@ -0,0 \+1,9 @@\n/mu);
    assert.match(dry.diff!, /^\+From=192\.168\.0\.0\/24$/mu);
    assert.ok(!dry.diff!.includes('====='));

    await applyPlan(plan, { root });
    assert.equal((await applyPlan(plan, { root, dryRun: true })).diff, '', 'up to date: empty diff');
    const wl = underRoot(root, PATHS.network('workload'));
    writeFileSync(wl, readFileSync(wl, 'utf8').replace('Priority=2000', 'Priority=2222'));
    chmodSync(underRoot(root, PATHS.hosts), 0o600);
    const drift = await applyPlan(plan, { root, dryRun: true });
    assert.match(
      drift.diff!,
      /^--- a\/etc\/systemd\/network\/20-workload\.network\n\+\+\+ b\/etc\/systemd\/network\/20-workload\.network\n@@ .* @@\n(?: .*\n)*-Priority=2222\n\+Priority=2000\n/mu,
    );
    assert.match(drift.diff!, /^diff --git a\/etc\/hosts b\/etc\/hosts\nold mode 100600\nnew mode 100644\n/mu);
    assert.match(readFileSync(wl, 'utf8'), /Priority=2222/, 'the dry run changed nothing');

    const secret: Plan = {
      files: [{ path: '/etc/haproxy/secret.txt', content: 'hunter2-secret\n', mode: 0o600, secret: true, affects: [] }],
      renames: [],
      remove: [],
    };
    const s = await applyPlan(secret, { root, dryRun: true });
    assert.equal(s.diff, 'Files /dev/null and b/etc/haproxy/secret.txt differ (secret: content not shown)\n');
  });
});

test('a file that cannot be staged fails the run before anything changed', async () => {
  await withRoot(async (root) => {
    writeFileSync(join(root, 'etc'), 'a file where a directory must be');
    await assert.rejects(
      applyPlan(seedPlan(), { root }),
      (e) =>
        e instanceof ApplyError &&
        /^nothing was changed and no service was touched: cannot write \/etc\/systemd\/network\/10-management\.link/u.test(e.message),
    );
    assert.equal(readFileSync(join(root, 'etc'), 'utf8'), 'a file where a directory must be');
    assert.equal(existsSync(join(root, 'var/lib/haproxy-appliance/journal.json')), false, 'no journal left behind');
  });
});

test('live actions: renames, networkctl only when a networkd file changed, host name, timesyncd', async () => {
  const plan = seedPlan('dhcp-workload');
  await withRoot(async (root) => {
    const all = (await computeChanges(plan, root)).changes;
    const withRenames: Plan = {
      ...plan,
      renames: [
        { from: 'ens192', to: 'management' },
        { from: 'ens224', to: 'workload' },
      ],
    };
    assert.deepEqual(liveActions(withRenames, all).map(describeAction), [
      'ip link set dev ens192 down',
      'ip link set dev ens192 name management',
      'ip link set dev management up',
      'ip link set dev ens224 down',
      'ip link set dev ens224 name workload',
      'ip link set dev workload up',
      'networkctl reload',
      'networkctl reconfigure lo management workload',
      'hostname haproxy.local',
      'systemctl try-restart systemd-timesyncd.service',
      'systemctl try-restart systemd-resolved.service',
    ]);
    // Only /etc/hosts changed: nothing to reload.
    assert.deepEqual(
      liveActions(
        plan,
        all.filter((c) => c.path === PATHS.hosts),
      ),
      [],
    );
    // Only the workload unit changed: reload and reconfigure just that link.
    assert.deepEqual(
      liveActions(
        plan,
        all.filter((c) => c.path === PATHS.network('workload')),
      ).map(describeAction),
      ['networkctl reload', 'networkctl reconfigure workload'],
    );
  });
  // NICs that swap names go through temporary names.
  const swap: Plan = {
    files: [],
    remove: [],
    renames: [
      { from: 'workload', to: 'management' },
      { from: 'management', to: 'workload' },
    ],
  };
  assert.deepEqual(liveActions(swap, []).map(describeAction), [
    'ip link set dev workload down',
    'ip link set dev workload name hpa-tmp0',
    'ip link set dev management down',
    'ip link set dev management name hpa-tmp1',
    'ip link set dev hpa-tmp0 name management',
    'ip link set dev management up',
    'ip link set dev hpa-tmp1 name workload',
    'ip link set dev workload up',
    'networkctl reconfigure management workload',
  ]);
  // A failing command is an ApplyError naming the command and why it ran.
  const ran: string[] = [];
  await assert.rejects(
    runActions(liveActions(swap, []), async (a) => {
      ran.push(describeAction(a));
      if (ran.length === 3) throw new Error('exit 2: Cannot find device "management"');
    }),
    (e) => e instanceof ApplyError && /`ip link set dev management down` \(rename management to hpa-tmp1\) failed: exit 2/u.test(e.message),
  );
  assert.equal(ran.length, 3, 'the later renames and the reconfigure need the failed rename: skipped');
});
