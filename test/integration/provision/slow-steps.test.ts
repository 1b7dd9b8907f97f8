/**
 * A slow machine must not lock the admin out (issue #9, class 7). The live steps of a real plan
 * run through the real runner (src/apply/live.ts systemRunner → src/util/run.ts → execa), but
 * EVERY program they name is a wrapper script in a temporary folder that is the whole of PATH:
 * nothing real (chpasswd, systemctl, sshd, update-ca-certificates, ip, networkctl, hostname) runs
 * on this machine, and the test asserts that before it runs anything. The wrappers log their
 * argv (never stdin: chpasswd's input is a password hash) and sleep or fail where a test says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { validateProperties } from '../../../src/config/validate.js';
import { planAppliance } from '../../../src/plan/appliance.js';
import { computeChanges } from '../../../src/apply/apply.js';
import { liveActions, type LiveAction } from '../../../src/apply/live.js';
import type { LiveContext } from '../../../src/facts/types.js';
import { newSalt } from '../../../src/facts/gather.js';
import { ApplyError } from '../../../src/errors.js';
import { SEED_MACS, SEED_PROPERTIES, fixture } from '../../harness/ovf.js';
import { withSandbox } from '../../harness/sandbox.js';
import { runWithWrappers } from '../../harness/wrapped-actions.js';

const CA = { cert: fixture('pki/ca.crt'), key: fixture('pki/ca.key') };
const NICS = [
  { role: 'management' as const, mac: SEED_MACS.management, currentName: 'ens192' },
  { role: 'workload' as const, mac: SEED_MACS.workload, currentName: 'ens224' },
  { role: 'frontend' as const, mac: SEED_MACS.frontend, currentName: 'ens256' },
];

/** The live steps of a whole first configuration (every file new), for this context. */
async function stepsFor(root: string, context: LiveContext): Promise<LiveAction[]> {
  const config = validateProperties(SEED_PROPERTIES).config!;
  const plan = planAppliance(config, NICS, { pki: { ca: CA, server: CA }, salts: { userlist: newSalt(), root: 'rootsalt' }, dataplaneVersionOutput: 'v2.1.0' });
  const { changes } = await computeChanges(plan, root);
  return liveActions(plan, changes, context);
}

/** The hung trust-store step gets a short timeout here; in production its own is 15 min and more. */
function shortTimeout(actions: LiveAction[], isSlow: (a: LiveAction) => boolean, ms: number): LiveAction[] {
  const out = actions.map((a) => (isSlow(a) ? { ...a, timeoutMs: ms } : a));
  assert.equal(out.filter(isSlow).length, 1, 'exactly one trust-store step');
  return out;
}

const isTrustStore = (a: LiveAction) =>
  a.kind === 'exec' && (a.argv[0] === 'update-ca-certificates' || a.argv.includes('haproxy-appliance-trust-store.service'));

interface Failure {
  action: string;
  status: string;
  reason: string;
  timedOut?: boolean;
}
const failuresOf = (e: unknown): Failure[] => (e as { failures?: Failure[] }).failures ?? [];

test('a hung trust-store update does not keep the root password and sshd from being applied; it times out, named, and the run fails listing it', async () => {
  await withSandbox(async (root, dir) => {
    // An admin's rerun on a systemd appliance: every file new, so every step is there (sshd too).
    const steps = shortTimeout(await stepsFor(root, { boot: false, systemd: true, vmtoolsd: false }), isTrustStore, 2_000);
    // The trust store hangs, whichever way it is run (the unit, or the program itself).
    const { calls, error, wrote } = await runWithWrappers(dir, steps, { hang: ['*haproxy-appliance-trust-store.service*', 'update-ca-certificates*'] });

    assert.ok(calls.includes('chpasswd -e'), `chpasswd ran:\n${calls.join('\n')}`);
    assert.deepEqual(wrote, ['_var_lib_haproxy-appliance_root-password.applied'], 'the password marker was written (chpasswd succeeded)');
    assert.ok(calls.includes('sshd -t') && calls.includes('systemctl reload-or-restart ssh.service'), `sshd checked and reloaded:\n${calls.join('\n')}`);
    assert.ok(calls.includes('systemctl reload-or-restart haproxy.service'), 'haproxy reloaded');

    assert.ok(error instanceof ApplyError, `an ApplyError (exit 1): ${String(error)}`);
    const failures = failuresOf(error);
    assert.deepEqual(
      failures.map((f) => ({ status: f.status, timedOut: f.timedOut === true })),
      [{ status: 'failed', timedOut: true }],
      'one failure, a timeout',
    );
    assert.match(failures[0]!.action, /haproxy-appliance-trust-store\.service|update-ca-certificates/);
    assert.match(failures[0]!.reason, /^timed out after 2 s/);
    assert.match(error.message, /timed out after 2 s/);
    assert.doesNotMatch(error.message, /exit unknown/);
  });
});

test('without systemd: a hung update-ca-certificates still lets chpasswd run, and says it timed out', async () => {
  await withSandbox(async (root, dir) => {
    const steps = shortTimeout(
      await stepsFor(root, { boot: false, systemd: false, vmtoolsd: false }).then((s) => s.filter((a) => !(a.kind === 'exec' && a.argv[0] === 'openssl'))),
      isTrustStore,
      1_000,
    );
    const { calls, error } = await runWithWrappers(dir, steps, { hang: ['update-ca-certificates*'] });
    assert.ok(calls.includes('chpasswd -e'), calls.join('\n'));
    assert.ok(calls.includes('update-ca-certificates'), 'the trust store was tried');
    assert.ok(error instanceof ApplyError);
    const failures = failuresOf(error);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.action, 'update-ca-certificates');
    assert.equal(failures[0]!.timedOut, true);
    assert.match(failures[0]!.reason, /^timed out after 1 s/);
  });
});

test('real dependencies hold: sshd -t failing skips the ssh reload only; chpasswd failing skips only the password marker; every failure is listed', async () => {
  await withSandbox(async (root, dir) => {
    const steps = await stepsFor(root, { boot: false, systemd: true, vmtoolsd: false });
    const { calls, error } = await runWithWrappers(join(dir), steps, {
      fail: { match: ["'sshd -t'"], message: '/etc/ssh/sshd_config.d/50-haproxy-appliance.conf line 3: Bad configuration option' },
    });
    assert.ok(!calls.includes('systemctl reload-or-restart ssh.service'), 'no ssh reload after a failed sshd -t');
    assert.ok(calls.includes('chpasswd -e'), 'the root password is independent of sshd');
    assert.ok(
      calls.includes('systemctl reload-or-restart haproxy.service') && calls.some((c) => c.includes('haproxy-appliance-trust-store')),
      'later independent steps ran',
    );
    assert.ok(error instanceof ApplyError);
    assert.deepEqual(
      failuresOf(error).map((f) => [f.action, f.status]),
      [
        ['sshd -t', 'failed'],
        ['systemctl reload-or-restart ssh.service', 'skipped'],
      ],
    );
    assert.match(failuresOf(error)[0]!.reason, /exit 1: .*Bad configuration option/);
  });
  await withSandbox(async (root, dir) => {
    const steps = await stepsFor(root, { boot: true, systemd: true, vmtoolsd: false });
    const { calls, error, wrote } = await runWithWrappers(dir, steps, {
      fail: { match: ['chpasswd*'], message: 'chpasswd: (user root) pam_chauthtok() failed' },
    });
    assert.deepEqual(wrote, [], 'the marker is written only after chpasswd succeeded');
    assert.ok(calls.includes('hostname haproxy.local') && calls.includes('systemctl daemon-reload'), 'the rest of the first boot went on');
    assert.deepEqual(
      failuresOf(error).map((f) => [f.action, f.status]),
      [
        ['chpasswd -e (input on stdin, not shown)', 'failed'],
        ['write /var/lib/haproxy-appliance/root-password.applied (secret, not shown)', 'skipped'],
      ].map(([a, s]) => [
        a!.replace('/var/lib/haproxy-appliance/root-password.applied', join(dir, 'writes', '_var_lib_haproxy-appliance_root-password.applied')),
        s,
      ]),
    );
    assert.ok(!(error as Error).message.includes('rootsalt'), 'the hash is not in the message');
  });
});
