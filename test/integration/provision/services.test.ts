/**
 * Which services a change touches, in which order, at boot and on an admin's rerun; the Data
 * Plane API's two configuration forms; the agent's own units and the rendered API unit checked by
 * the real `systemd-analyze verify`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateProperties } from '../../../src/config/validate.js';
import type { ApplianceConfig } from '../../../src/config/types.js';
import { planAppliance } from '../../../src/plan/appliance.js';
import { applyPlan, computeChanges, journaled } from '../../../src/apply/apply.js';
import { describeAction, liveActions, runActions } from '../../../src/apply/live.js';
import type { LiveContext } from '../../../src/facts/types.js';
import { dataplaneModel, parseDataplaneVersion, takesYaml, type DataplaneFacts } from '../../../src/plan/dataplane.js';
import { renderDataplaneFiles } from '../../../src/render/dataplane.js';
import { newSalt } from '../../../src/facts/gather.js';
import { SEED_MACS, SEED_PROPERTIES, ROOT, fixture } from '../../harness/ovf.js';
import { withSandbox } from '../../harness/sandbox.js';

const CA = { cert: fixture('pki/ca.crt'), key: fixture('pki/ca.key') };
const NICS = [
  { role: 'management' as const, mac: SEED_MACS.management, currentName: 'ens192' },
  { role: 'workload' as const, mac: SEED_MACS.workload, currentName: 'management' },
  { role: 'frontend' as const, mac: SEED_MACS.frontend, currentName: 'frontend' },
];

function plan(over: Record<string, string> = {}, facts: { haproxyCfg?: string; rootPasswordMarker?: string; dataplaneVersionOutput?: string } = {}) {
  const config = validateProperties({ ...SEED_PROPERTIES, ...over }).config!;
  return planAppliance(config, NICS, { ...facts, pki: { ca: CA, server: CA }, salts: { userlist: newSalt(), root: 'rootsalt' } });
}

/** The Data Plane API's part of the plan: its model, and the files rendered from it. */
function planDataplane(config: ApplianceConfig, facts: DataplaneFacts) {
  const model = dataplaneModel(config, facts);
  return { ...model, files: renderDataplaneFiles(model) };
}

test('first boot: root password first, NICs renamed, API enabled and queued, trust store queued last; nothing reloaded', async () => {
  await withSandbox(async (root) => {
    const p = plan({}, { dataplaneVersionOutput: 'HAProxy Data Plane API v2.1.0 1a2b3c' });
    const { changes } = await computeChanges(p, root);
    const actions = liveActions(p, changes, { boot: true, systemd: true, vmtoolsd: true }).map(describeAction);
    assert.deepEqual(
      actions.filter((a) => a.startsWith('ip link')),
      [
        'ip link set dev ens192 down',
        'ip link set dev ens192 name hpa-tmp0',
        'ip link set dev management down',
        'ip link set dev management name hpa-tmp1',
        'ip link set dev hpa-tmp0 name management',
        'ip link set dev management up',
        'ip link set dev hpa-tmp1 name workload',
        'ip link set dev workload up',
      ],
      'a swap of names goes through temporary names',
    );
    const rest = actions.filter((a) => !a.startsWith('ip link'));
    assert.deepEqual(
      rest.map((a) => a.replace(/cacert \S+$/, 'cacert <base64>')),
      [
        'chpasswd -e (input on stdin, not shown)',
        'write /var/lib/haproxy-appliance/root-password.applied (secret, not shown)',
        'hostname haproxy.local',
        'systemctl daemon-reload',
        'systemctl enable dataplaneapi.service',
        'systemctl start --no-block dataplaneapi.service',
        'vmtoolsd --cmd info-set guestinfo.dataplaneapi.cacert <base64>',
        // Off the critical path: the unit runs after the agent, sshd and haproxy.
        'systemctl start --no-block haproxy-appliance-trust-store.service',
      ],
    );
    assert.deepEqual(
      actions.slice(0, 2),
      ['chpasswd -e (input on stdin, not shown)', 'write /var/lib/haproxy-appliance/root-password.applied (secret, not shown)'],
      'the root password before anything else',
    );
    assert.ok(!actions.some((a) => a.includes('vmware')), 'no password in any action');
    // What a journal may replay after a crash: no rename (not repeatable), no secret.
    const kept = journaled(liveActions(p, changes, { boot: true, systemd: true, vmtoolsd: true })).map(describeAction);
    assert.ok(kept.includes('systemctl start --no-block haproxy-appliance-trust-store.service') && kept.includes('systemctl daemon-reload'));
    assert.ok(!kept.some((a) => a.startsWith('ip link') || a.startsWith('chpasswd') || a.includes('root-password.applied')), kept.join('\n'));
  });
});

test('first boot under Type=notify: ready once the files, password, names and host name are in; the rest after', async () => {
  await withSandbox(async (root) => {
    const p = plan({}, { dataplaneVersionOutput: 'HAProxy Data Plane API v2.1.0 1a2b3c' });
    const { changes } = await computeChanges(p, root);
    const split = (ctx: LiveContext) => {
      const actions = liveActions(p, changes, ctx);
      const at = actions.findIndex((a) => a.afterReady === true);
      assert.ok(at > 0);
      return {
        before: actions.slice(0, at).map(describeAction),
        after: actions.slice(at).map((a) => describeAction(a).replace(/cacert \S+$/, 'cacert <base64>')),
      };
    };
    // First boot: dataplaneapi.service is not enabled yet, so no unit of this boot needs the reload.
    const first = split({ boot: true, systemd: true, vmtoolsd: true, notifyReady: true, apiUnitEnabled: false });
    assert.deepEqual(
      first.before.filter((a) => !a.startsWith('ip link')),
      ['chpasswd -e (input on stdin, not shown)', 'write /var/lib/haproxy-appliance/root-password.applied (secret, not shown)', 'hostname haproxy.local'],
    );
    assert.deepEqual(first.after, [
      'systemctl daemon-reload',
      'systemctl enable dataplaneapi.service',
      'systemctl start --no-block dataplaneapi.service',
      'vmtoolsd --cmd info-set guestinfo.dataplaneapi.cacert <base64>',
      'systemctl start --no-block haproxy-appliance-trust-store.service',
    ]);
    // A later boot with the API enabled: it starts once the agent is ready, so from its new unit file.
    const later = split({ boot: true, systemd: true, vmtoolsd: true, notifyReady: true, apiUnitEnabled: true });
    assert.equal(later.before.at(-1), 'systemctl daemon-reload');
    assert.deepEqual(later.after, first.after.slice(1));
    // The order is the same as without notify: only the point where systemd is told moves.
    assert.deepEqual(
      liveActions(p, changes, { boot: true, systemd: true, vmtoolsd: true, notifyReady: true }).map(describeAction),
      liveActions(p, changes, { boot: true, systemd: true, vmtoolsd: true }).map(describeAction),
    );
    assert.ok(!liveActions(p, changes, { boot: true, systemd: true, vmtoolsd: true }).some((a) => a.afterReady));
    // `systemctl restart haproxy-appliance` (not a boot): ready only at the end, after every step.
    assert.ok(!liveActions(p, changes, { boot: false, systemd: true, vmtoolsd: true, notifyReady: true }).some((a) => a.afterReady));

    // runActions says ready exactly once, right before the first of them, also when one before failed.
    const events: string[] = [];
    const actions = liveActions(p, changes, { boot: true, systemd: true, vmtoolsd: false, notifyReady: true });
    await assert.rejects(
      runActions(
        actions,
        async (a) => {
          events.push(describeAction(a));
          if (a.kind === 'exec' && a.argv[0] === 'hostname') throw new Error('no');
        },
        undefined,
        async () => void events.push('READY'),
      ),
      /hostname haproxy\.local/u,
    );
    assert.equal(events.filter((e) => e === 'READY').length, 1);
    assert.equal(events[events.indexOf('READY') - 1], 'hostname haproxy.local');
    assert.equal(events[events.indexOf('READY') + 1], 'systemctl daemon-reload');
  });
});

test('an admin rerun reloads only what its change touches, in dependency order', async () => {
  await withSandbox(async (root) => {
    const base = plan({}, { dataplaneVersionOutput: 'v2.1.0' });
    await applyPlan(base, { root });
    const marker = base.rootPassword!.marker;
    const ctx = { boot: false, systemd: true, vmtoolsd: false };
    const actionsFor = async (over: Record<string, string>) => {
      const p = plan(over, {
        haproxyCfg: readFileSync(join(root, 'etc/haproxy/haproxy.cfg'), 'utf8'),
        rootPasswordMarker: marker,
        dataplaneVersionOutput: 'v2.1.0',
      });
      const renamed = { ...p, renames: [] };
      return liveActions(renamed, (await computeChanges(renamed, root)).changes, ctx).map(describeAction);
    };
    assert.deepEqual(await actionsFor({}), [], 'nothing changed: nothing runs');
    assert.deepEqual(await actionsFor({ 'network.nameservers': '10.1.1.1' }), ['networkctl reload', 'networkctl reconfigure management']);
    assert.deepEqual(await actionsFor({ 'loadbalance.haproxy_pwd': 'another-password' }), [
      'systemctl reload-or-restart haproxy.service',
      'systemctl restart dataplaneapi.service',
    ]);
    assert.deepEqual(await actionsFor({ 'loadbalance.dataplane_port': '5557' }), [
      'systemctl daemon-reload',
      'systemctl enable dataplaneapi.service',
      'systemctl restart dataplaneapi.service',
    ]);
    assert.deepEqual(await actionsFor({ 'appliance.permit_root_login': 'False' }), ['sshd -t', 'systemctl reload-or-restart ssh.service']);
    assert.deepEqual(await actionsFor({ 'appliance.root_pwd': 'a-new-root-pwd' }), [
      'chpasswd -e (input on stdin, not shown)',
      'write /var/lib/haproxy-appliance/root-password.applied (secret, not shown)',
    ]);
  });
});

test('a new CA: the trust store is updated last, once; waited for on a rerun, by the program itself without systemd', async () => {
  await withSandbox(async (root) => {
    const base = plan({}, { dataplaneVersionOutput: 'v2.1.0' });
    await applyPlan(base, { root });
    // Another CA (and a server certificate issued by it, as facts would give).
    const other = { cert: fixture('pki/other-ca.crt'), key: fixture('pki/other-ca.key') };
    const config = validateProperties(SEED_PROPERTIES).config!;
    const p = planAppliance(config, NICS, {
      haproxyCfg: readFileSync(join(root, 'etc/haproxy/haproxy.cfg'), 'utf8'),
      rootPasswordMarker: base.rootPassword!.marker,
      dataplaneVersionOutput: 'v2.1.0',
      pki: { ca: other, server: other },
      salts: { userlist: newSalt(), root: 'rootsalt' },
    });
    const changed = { ...p, renames: [] };
    const { changes } = await computeChanges(changed, root);
    assert.ok(
      changes.some((c) => c.affects.includes('ca-certificates')),
      'the CA files changed',
    );
    const rerun = liveActions(changed, changes, { boot: false, systemd: true, vmtoolsd: false });
    const trust = rerun.filter(
      (a) => a.kind === 'exec' && (a.argv.includes('haproxy-appliance-trust-store.service') || a.argv[0] === 'update-ca-certificates'),
    );
    assert.deepEqual(trust.map(describeAction), ['systemctl start haproxy-appliance-trust-store.service']);
    assert.equal(rerun.at(-1), trust[0], 'the last step');
    assert.ok((trust[0]!.timeoutMs ?? 0) > 15 * 60_000, "waits longer than the unit's own 15 min");
    const bare = liveActions(changed, changes, { boot: false, systemd: false, vmtoolsd: false });
    assert.deepEqual(bare.slice(-2).map(describeAction), ['update-ca-certificates', 'openssl rehash /etc/ssl/certs']);
    assert.equal(bare.at(-2)!.timeoutMs, 15 * 60_000);
    // Nothing of the CA changed: no trust store step.
    const same = { ...base, renames: [] };
    assert.ok(
      !liveActions(same, (await computeChanges(same, root)).changes, { boot: false, systemd: true, vmtoolsd: false }).some((a) =>
        describeAction(a).includes('trust-store'),
      ),
    );
  });
});

test('the Data Plane API: flags for 2.1-2.8, dataplaneapi.yaml for 2.9 and 3.x, disabled with a clear word when missing', () => {
  assert.deepEqual(parseDataplaneVersion('HAProxy Data Plane API v2.1.0 1a2b3c4'), [2, 1, 0]);
  assert.equal(takesYaml([2, 8, 7]), false);
  assert.equal(takesYaml([2, 9, 0]), true);
  assert.equal(takesYaml([3, 0, 1]), true);
  const config = validateProperties(SEED_PROPERTIES).config!;
  const flags = planDataplane(config, { versionOutput: 'HAProxy Data Plane API v2.1.0' });
  assert.equal(flags.form, 'flags');
  assert.equal(flags.files.length, 1);
  const unit = flags.files[0]!.content;
  for (const flag of [
    '--scheme=https',
    '--tls-host=10.191.181.52',
    '--tls-port=5556',
    '--tls-certificate=/etc/haproxy/server.crt',
    '--tls-key=/etc/haproxy/server.key',
    '--userlist=controller',
    '--config-file=/etc/haproxy/haproxy.cfg',
    '--haproxy-bin=/usr/sbin/haproxy',
    '"--reload-cmd=/bin/systemctl reload haproxy"',
    '--reload-delay=30',
    '--update-map-files',
    '--log-to=stdout',
  ]) {
    assert.ok(unit.includes(flag), flag);
  }
  const yaml = planDataplane(config, { versionOutput: 'HAProxy Data Plane API v3.0.2' });
  assert.equal(yaml.form, 'yaml');
  assert.match(yaml.files[0]!.content, /^ExecStart=\/usr\/local\/bin\/dataplaneapi -f \/etc\/haproxy\/dataplaneapi\.yaml$/m);
  assert.match(yaml.files[1]!.content, /^config_version: 2$/m);
  assert.match(yaml.files[1]!.content, /^ {4}tls_port: 5556$/m);
  const missing = planDataplane(config, {});
  assert.equal(missing.enable, false);
  assert.equal(missing.warnings[0]!.code, 'dataplaneapi-missing');
  assert.match(missing.warnings[0]!.message, /Data Plane API is not installed \(\/usr\/local\/bin\/dataplaneapi is missing\)/);
});

test("systemd-analyze verify accepts the agent's units and the rendered Data Plane API unit", async () => {
  await withSandbox(async (root) => {
    // An image root: systemd's own units (haproxy's and sshd's among them), the agent installed
    // by firstboot/install.sh as an image build does, and the rendered API unit.
    mkdirSync(join(root, 'lib/systemd'), { recursive: true });
    execFileSync('cp', ['-a', '/lib/systemd/system', join(root, 'lib/systemd/system')]);
    execFileSync('sh', [`${ROOT}firstboot/install.sh`, '--no-node', root], { stdio: 'ignore' });
    for (const bin of ['/usr/sbin/haproxy', '/usr/sbin/sshd', '/bin/kill', '/bin/sh', '/usr/sbin/update-ca-certificates', '/usr/bin/openssl']) {
      mkdirSync(join(root, bin, '..'), { recursive: true });
      copyFileSync(bin, join(root, bin)); // the programs the units run, as in an image
      chmodSync(join(root, bin), 0o755);
    }
    const config = validateProperties(SEED_PROPERTIES).config!;
    const unit = planDataplane(config, { versionOutput: 'v2.1.0' }).files[0]!;
    writeFileSync(join(root, 'etc/systemd/system/dataplaneapi.service'), unit.content);
    // haproxy and sshd with the agent's ordering drop-ins.
    for (const u of [
      '/etc/systemd/system/haproxy-appliance.service',
      '/etc/systemd/system/haproxy-appliance-trust-store.service',
      '/lib/systemd/system/haproxy.service',
      '/lib/systemd/system/ssh.service',
    ]) {
      const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, u], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${u}: ${r.stderr}`);
    }
    const api = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '/etc/systemd/system/dataplaneapi.service'], { encoding: 'utf8' });
    // The one complaint allowed: the API binary itself is not part of this test root.
    const complaints = api.stderr.split('\n').filter((l) => l.trim() && !l.includes('/usr/local/bin/dataplaneapi is not executable'));
    assert.deepEqual(complaints, []);
  });
});
