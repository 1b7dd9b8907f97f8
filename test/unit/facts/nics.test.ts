/** NIC identities: --nics, the agent's config, OVF adapters, live names, PCI slots; sysfs discovery. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../../src/errors.js';
import type { ProblemCode } from '../../../src/problems.js';
import { discoverNics } from '../../../src/facts/discover-nics.js';
import { normalizeMac, parseNicsSpec, resolveNics, type LiveNic } from '../../../src/facts/nics.js';
import { renamesFor } from '../../../src/plan/network.js';
import { parseDefaultsFile } from '../../../src/config/agent-defaults.js';
import { SEED_MACS } from '../../harness/ovf.js';

const M = SEED_MACS;
const THREE = [{ mac: M.management }, { mac: M.workload }, { mac: M.frontend }];
/**
 * An InputError whose one problem is at `at`, by rule `code`; `pattern` checks the wording where
 * the wording is the guarantee (who said what).
 */
const refused = (at: string, code: ProblemCode, pattern?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof InputError, String(e));
  assert.deepEqual(
    e.problems.map((p) => [p.at, p.code, p.severity]),
    [[at, code, 'error']],
  );
  if (pattern) assert.match(e.message, pattern);
  return true;
};

test('parseNicsSpec: roles, MAC forms, and every mistake named', () => {
  const m = parseNicsSpec(`management=${M.management}, workload=00-50-56-B1-8D-33 frontend=${M.frontend}`, '--nics');
  assert.deepEqual(
    [...m],
    [
      ['management', M.management],
      ['workload', M.workload],
      ['frontend', M.frontend],
    ],
  );
  assert.equal(normalizeMac('00-50-56-B1-20-5E'), M.management);
  assert.throws(() => parseNicsSpec('', '--nics'), refused('--nics', 'nics-empty', /^--nics: is empty/));
  assert.throws(() => parseNicsSpec(`mgmt=${M.management}`, '--nics'), refused('--nics', 'nics-unknown-role', /"mgmt" is not a NIC role/));
  assert.throws(() => parseNicsSpec('management=00:50:56', '--nics'), refused('--nics', 'not-mac', /"00:50:56" \(management\) is not a MAC address/));
  assert.throws(() => parseNicsSpec(M.management, '--nics'), refused('--nics', 'nics-not-role-mac', /is not ROLE=MAC/));
  assert.throws(
    () => parseNicsSpec(`workload=${M.workload},workload=${M.frontend}`, 'NICS in /x'),
    refused('NICS in /x', 'nics-role-twice', /^NICS in \/x: workload is given twice/),
  );
});

test('parseDefaultsFile: shell-style assignments, quotes and comments, nothing evaluated', () => {
  const vars = parseDefaultsFile(
    `# agent config\nexport NICS="management=${M.management},workload=${M.workload}"\nOTHER='a b' # note\nBAD LINE\nX=$(reboot)\n`,
  );
  assert.equal(vars.get('NICS'), `management=${M.management},workload=${M.workload}`);
  assert.equal(vars.get('OTHER'), 'a b');
  assert.equal(vars.get('X'), '$(reboot)');
});

test('precedence: --nics, then NICS= in the agent config, then the OVF adapters', () => {
  const swapped = `management=${M.workload},workload=${M.management},frontend=${M.frontend}`;
  const agent = { value: `management=${M.frontend},workload=${M.workload},frontend=${M.management}`, file: '/etc/default/haproxy-appliance' };
  const cli = resolveNics({ deployment: 'frontend', cliOverride: swapped, agentOverride: agent, adapters: THREE });
  assert.equal(cli.source, '--nics');
  assert.equal(cli.assignments[0]!.mac, M.workload);
  const fromAgent = resolveNics({ deployment: 'frontend', agentOverride: agent, adapters: THREE });
  assert.equal(fromAgent.source, 'NICS in /etc/default/haproxy-appliance');
  assert.equal(fromAgent.assignments[0]!.mac, M.frontend);
  const ovf = resolveNics({ deployment: 'frontend', adapters: THREE });
  assert.match(ovf.source, /OVF environment/);
  assert.deepEqual(ovf.assignments, [
    { role: 'management', mac: M.management },
    { role: 'workload', mac: M.workload },
    { role: 'frontend', mac: M.frontend },
  ]);
});

test('NIC count mismatches are InputErrors that say who said what', () => {
  assert.throws(
    () => resolveNics({ deployment: 'default', adapters: THREE }),
    refused('EthernetAdapterSection', 'adapter-count', /lists 3 network adapters, but the default deployment has 2 NICs \(management, workload\)/),
  );
  assert.throws(
    () => resolveNics({ deployment: 'frontend', adapters: THREE.slice(0, 2) }),
    refused('EthernetAdapterSection', 'adapter-count', /lists 2 network adapters, but the frontend deployment has 3 NICs/),
  );
  assert.throws(
    () => resolveNics({ deployment: 'frontend', cliOverride: `management=${M.management},workload=${M.workload}`, adapters: [] }),
    refused(
      '--nics',
      'nics-roles-mismatch',
      /^--nics names 2 NICs \(management, workload\), but the frontend deployment has 3 NICs \(management, workload, frontend\); missing: frontend/,
    ),
  );
  assert.throws(
    () => resolveNics({ deployment: 'default', cliOverride: `management=${M.management},workload=${M.workload},frontend=${M.frontend}`, adapters: [] }),
    refused('--nics', 'nics-roles-mismatch', /not in this deployment: frontend/),
  );
  assert.throws(
    () => resolveNics({ deployment: 'default', cliOverride: `management=${M.management},workload=${M.management}`, adapters: [] }),
    refused('--nics', 'nics-mac-twice', /given for both management and workload/),
  );
  assert.throws(
    () => resolveNics({ deployment: 'default', adapters: [] }),
    refused('--nics', 'nics-unknown', /cannot tell which NIC is which: the OVF environment lists no network adapters; name them with --nics/),
  );
});

const nic = (name: string, mac: string, extra: Partial<LiveNic> = {}): LiveNic => ({ name, mac, physical: true, ...extra });

test('live: names and PCI slots as fallbacks; current names recorded; renames computed', () => {
  const named = resolveNics({ deployment: 'default', adapters: [], live: [nic('management', M.management), nic('workload', M.workload)] });
  assert.equal(named.source, 'interfaces already named by role');
  assert.deepEqual(renamesFor(named.assignments), []);
  const pci = resolveNics({
    deployment: 'frontend',
    adapters: [],
    live: [
      nic('eth0', M.management, { pciSlot: '0000:03:00.0' }),
      nic('eth1', M.workload, { pciSlot: '0000:0b:00.0' }),
      nic('eth2', M.frontend, { pciSlot: '0000:13:00.0' }),
    ],
  });
  assert.equal(pci.source, "the OVA's PCI slots");
  assert.deepEqual(renamesFor(pci.assignments), [
    { from: 'eth0', to: 'management' },
    { from: 'eth1', to: 'workload' },
    { from: 'eth2', to: 'frontend' },
  ]);
  // The OVF adapters win over live names (a stale name is corrected).
  const ovf = resolveNics({ deployment: 'default', adapters: THREE.slice(0, 2), live: [nic('workload', M.management), nic('management', M.workload)] });
  assert.deepEqual(renamesFor(ovf.assignments), [
    { from: 'workload', to: 'management' },
    { from: 'management', to: 'workload' },
  ]);
});

test('live: a MAC not on the machine, a NIC count that does not match, a stray role name', () => {
  assert.throws(
    () => resolveNics({ deployment: 'default', adapters: THREE.slice(0, 2), live: [nic('eth0', M.management)] }),
    refused(
      "the OVF environment's adapters (in unit-number order)",
      'nic-mac-unknown',
      /the workload NIC 00:50:56:b1:8d:33 \(from the OVF environment.s adapters .*\) is not on this machine; its Ethernet interfaces are: eth0 00:50:56:b1:20:5e/,
    ),
  );
  const three = [nic('eth0', M.management), nic('eth1', M.workload), nic('eth2', M.frontend)];
  assert.throws(
    () => resolveNics({ deployment: 'default', adapters: THREE.slice(0, 2), live: three }),
    refused(
      "the OVF environment's adapters (in unit-number order)",
      'nic-count',
      /this machine has 3 NICs \(eth0, eth1, eth2\), but the default deployment has 2 NICs/,
    ),
  );
  const overridden = resolveNics({ deployment: 'default', cliOverride: `management=${M.management},workload=${M.workload}`, adapters: [], live: three });
  assert.deepEqual(
    overridden.warnings.map((w) => [w.at, w.code, w.severity]),
    [['--nics', 'nic-count', 'warning']],
  );
  assert.match(overridden.warnings[0]!.message, /this machine has 3 NICs .*; going by --nics/);
  // Virtual interfaces (veth in a test bed) are not counted.
  const veth = resolveNics({
    deployment: 'default',
    adapters: THREE.slice(0, 2),
    live: [nic('eth0', M.management, { physical: false }), nic('eth1', M.workload, { physical: false })],
  });
  assert.deepEqual(veth.warnings, []);
  assert.throws(
    () =>
      resolveNics({
        deployment: 'default',
        adapters: THREE.slice(0, 2),
        live: [nic('eth0', M.management), nic('eth1', M.workload), nic('frontend', '00:50:56:b1:00:99', { physical: false })],
      }),
    refused('frontend', 'nic-name-taken', /interface frontend \(00:50:56:b1:00:99\) holds a role name but is not the frontend NIC/),
  );
});

test('discoverNics reads /sys/class/net: Ethernet only, PCI slot, physical or not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hpa-sysfs-'));
  try {
    const dev = (name: string, type: string, mac: string, pci?: string) => {
      mkdirSync(join(dir, 'class', name), { recursive: true });
      writeFileSync(join(dir, 'class', name, 'type'), `${type}\n`);
      writeFileSync(join(dir, 'class', name, 'address'), `${mac}\n`);
      if (pci) {
        const target = join(dir, 'devices', 'pci0000:00', '0000:00:15.0', pci);
        mkdirSync(target, { recursive: true });
        symlinkSync(target, join(dir, 'class', name, 'device'));
      }
    };
    dev('ens192', '1', '00:50:56:B1:20:5E', '0000:03:00.0');
    dev('ens224', '1', M.workload, '0000:0b:00.0');
    dev('lo', '772', '00:00:00:00:00:00');
    dev('veth0', '1', '02:00:00:00:00:01');
    dev('tun0', '65534', '');
    assert.deepEqual(await discoverNics(join(dir, 'class')), [
      { name: 'ens192', mac: M.management, physical: true, pciSlot: '0000:03:00.0' },
      { name: 'ens224', mac: M.workload, physical: true, pciSlot: '0000:0b:00.0' },
      { name: 'veth0', mac: '02:00:00:00:00:01', physical: false },
    ]);
    await assert.rejects(discoverNics(join(dir, 'nope')), /cannot list network interfaces/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
