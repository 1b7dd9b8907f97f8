/**
 * Tests of the network-namespace test bed itself, with hand-written unit files modelled on
 * the seed appliance (three NICs matched by MAC, AnyIP route for the service range on lo).
 * Runs the real systemd-networkd; skipped with a reason where that is impossible.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { canRunNetworkBeds, createTestBed, routeLine, ruleLine, tableLines, type TestBed } from '../../harness/netns.js';
import { assertNothingLeft } from '../../harness/leak-guard.js';
import { addApplianceNics, ROLES, SEED_MAIN_TABLE, SEED_NICS, type Role } from '../../harness/seed-topology.js';

const can = await canRunNetworkBeds();
const skip = can.ok ? false : `cannot run network beds here: ${can.reason}`;

/** Seed NICs (addresses used only inside the bed's namespaces). */
const NICS = SEED_NICS;
type Nic = Role;

/**
 * Hand-written units: the management NIC carries the default route in main; workload and
 * frontend get their gateway in a per-NIC table selected by a source rule (so the main
 * table stays exactly as in the seed); lo gets the AnyIP route of the service range.
 */
function seedUnits(overrides: Partial<Record<Nic, string>> = {}): Record<string, string> {
  const addr = (n: Nic) => overrides[n] ?? NICS[n].cidr;
  return {
    '10-management.network': `[Match]\nMACAddress=${NICS.management.mac}\n\n[Network]\nAddress=${addr('management')}\nGateway=${NICS.management.gw}\n`,
    '20-workload.network':
      `[Match]\nMACAddress=${NICS.workload.mac}\n\n[Network]\nAddress=${addr('workload')}\n\n` +
      `[Route]\nGateway=${NICS.workload.gw}\nTable=2\n\n` +
      `[RoutingPolicyRule]\nFrom=${addr('workload').split('/')[0]}/32\nTable=2\nPriority=100\n`,
    '30-frontend.network':
      `[Match]\nMACAddress=${NICS.frontend.mac}\n\n[Network]\nAddress=${addr('frontend')}\n\n` +
      `[Route]\nGateway=${NICS.frontend.gw}\nTable=3\n\n` +
      `[RoutingPolicyRule]\nFrom=${addr('frontend').split('/')[0]}/32\nTable=3\nPriority=101\n`,
    '40-lo.network': `[Match]\nName=lo\n\n[Route]\nDestination=192.168.0.0/24\nType=local\nTable=local\n`,
  };
}

const tempDirs: string[] = [];
async function writeUnits(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hpa-units-test-'));
  tempDirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

/** Bed ids created by this file, to check for leaks at the end. */
const bedIds: string[] = [];

/** Runs `fn` with a fresh bed that is always cleaned up. */
async function withBed(fn: (bed: TestBed) => Promise<void>): Promise<void> {
  const bed = createTestBed();
  bedIds.push(bed.id);
  try {
    await fn(bed);
  } finally {
    await bed.cleanup();
  }
}

/**
 * Appliance namespace with the three seed NICs (created as eth0..2 and renamed by the
 * harness) and a gateway namespace holding the three gateway addresses.
 */
async function seedTopology(bed: TestBed, opts: { rename?: boolean } = {}): Promise<void> {
  await bed.addNamespace('appliance');
  await bed.addNamespace('gw');
  const nics = await addApplianceNics(bed, {
    order: ROLES,
    name: (role) => (opts.rename === false ? undefined : role),
    peer: (role) => ({ ns: 'gw', dev: `gw-${role}` }),
  });
  for (const [i, name] of ROLES.entries()) {
    const { a, b } = nics[name]!;
    assert.equal(a, opts.rename === false ? `eth${i}` : name);
    assert.equal(b, `gw-${name}`);
    await bed.addr('gw', b, NICS[name].gwCidr);
  }
}

after(async () => {
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
  await assertNothingLeft({ bedIds });
});

describe('network test bed', { skip }, () => {
  test('canRunNetworkBeds is true on this machine', async () => {
    assert.deepEqual(await canRunNetworkBeds(), { ok: true });
  });

  test('networkd configures the seed NICs; main table equals the seed; AnyIP on lo carries TCP', async () => {
    await withBed(async (bed) => {
      await seedTopology(bed);
      const units = await writeUnits(seedUnits());
      const nd = await bed.runNetworkd('appliance', units, { timeoutMs: 40_000 });
      console.log(`networkd 'configured' after ${nd.readyAfterMs} ms`);
      try {
        // networkd's own view: every seed NIC configured from its unit, lo too.
        const links = await nd.links();
        for (const n of ['management', 'workload', 'frontend', 'lo']) {
          const l = links.find((x) => x.name === n);
          assert.equal(l?.adminState, 'configured', `${n}: ${JSON.stringify(l)}`);
        }
        assert.match(links.find((x) => x.name === 'workload')?.networkFile ?? '', /20-workload\.network$/);
        assert.match(nd.log(), /management: Configuring with \/etc\/systemd\/network\/10-management\.network/);
      } finally {
        await nd.stop();
      }
      assert.equal(nd.running(), false);

      // Kernel state survives networkd's exit.
      const d = await bed.dump('appliance');
      assert.deepEqual(tableLines(d, 'main').sort(), [...SEED_MAIN_TABLE].sort());
      assert.equal(d.routes.find((r) => r.dst === 'default')?.protocol, 'static');
      assert.ok(tableLines(d, 'local').includes('local 192.168.0.0/24 dev lo table local scope host'), tableLines(d, 'local').join('\n'));
      assert.deepEqual(tableLines(d, '2'), ['default via 192.168.1.1 dev workload table 2']);
      assert.deepEqual(tableLines(d, '3'), ['default via 172.16.10.1 dev frontend table 3']);
      assert.deepEqual(d.rules.map(ruleLine), [
        '0: from all lookup local',
        '100: from 192.168.1.2 lookup 2',
        '101: from 172.16.10.2 lookup 3',
        '32766: from all lookup main',
        '32767: from all lookup default',
      ]);
      const addrs = Object.fromEntries(
        d.addrs.map((l) => [l.ifname, (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)]),
      );
      assert.deepEqual(addrs.management, ['10.191.181.52/20']);
      assert.deepEqual(addrs.workload, ['192.168.1.2/16']);
      assert.deepEqual(addrs.frontend, ['172.16.10.2/24']);

      // AnyIP: bind a service address that is on no interface, reach it from the gateway side.
      const vip = await bed.listen('appliance', '192.168.0.1', 6443);
      try {
        const r = await bed.connect('gw', '192.168.0.1', 6443, { timeoutMs: 5_000 });
        assert.equal(r.ok, true, r.error);
        assert.equal(r.reply?.localAddress, '192.168.0.1');
        assert.equal(r.reply?.localPort, 6443);
        assert.equal(r.reply?.remoteAddress, '192.168.1.1'); // came in over the workload link
        assert.equal(vip.connections.length, 1);
        // Nothing listens on 192.168.0.1:443: refused, not timed out (the address is local).
        const refused = await bed.connect('gw', '192.168.0.1', 443, { timeoutMs: 3_000 });
        assert.deepEqual([refused.ok, refused.error], [false, 'ECONNREFUSED']);
      } finally {
        await vip.close();
      }

      // Management address reachable from the management gateway.
      const mgmt = await bed.listen('appliance', '10.191.181.52', 5556);
      try {
        const r = await bed.connect('gw', '10.191.181.52', 5556);
        assert.equal(r.ok, true, r.error);
        assert.equal(r.reply?.remoteAddress, '10.191.191.254');
      } finally {
        await mgmt.close();
      }
    });
  });

  test('networkd can be run again in the same namespace: restart keeps stale state, reset+run is a clean boot', async () => {
    await withBed(async (bed) => {
      await bed.addNamespace('appliance');
      await bed.addNamespace('gw');
      for (const [name, nic] of Object.entries(NICS) as Array<[Nic, (typeof NICS)[Nic]]>) {
        const { b } = await bed.link('appliance', name, 'gw', `gw-${name}`, { macA: nic.mac });
        await bed.addr('gw', b, nic.gwCidr);
      }
      const frontendV4 = (d: Awaited<ReturnType<TestBed['dump']>>) =>
        (d.addrs.find((l) => l.ifname === 'frontend')?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
      const frontendRules = (d: Awaited<ReturnType<TestBed['dump']>>) => d.rules.map(ruleLine).filter((r) => r.startsWith('101:'));

      // 'static': do not wait for the router-solicitation timeout (no router sends RAs here).
      const first = await bed.runNetworkd('appliance', await writeUnits(seedUnits()), { until: 'static' });
      await first.stop();
      await assert.rejects(first.links(), /not running/); // its private state died with it
      const boot1 = await bed.dump('appliance');
      assert.deepEqual(tableLines(boot1, 'main').sort(), [...SEED_MAIN_TABLE].sort());

      // Restart with a new frontend address: networkd adds the new config but leaves the old.
      const changed = await writeUnits(seedUnits({ frontend: '172.16.10.3/24' }));
      const second = await bed.runNetworkd('appliance', changed, { until: 'static' });
      try {
        await assert.rejects(bed.runNetworkd('appliance', changed), /already runs/);
        const d = await bed.dump('appliance');
        assert.deepEqual(frontendV4(d), ['172.16.10.2/24', '172.16.10.3/24']);
        assert.deepEqual(frontendRules(d), ['101: from 172.16.10.2 lookup 3', '101: from 172.16.10.3 lookup 3']);
      } finally {
        await second.stop();
      }

      // Reboot semantics: reset the namespace, then the same units give exactly their config.
      await bed.resetNetworkState('appliance');
      const reset = await bed.dump('appliance');
      assert.deepEqual(tableLines(reset, 'main'), []);
      assert.deepEqual(reset.rules.map(ruleLine), ['0: from all lookup local', '32766: from all lookup main', '32767: from all lookup default']);
      const third = await bed.runNetworkd('appliance', changed, { until: 'static' });
      await third.stop();
      const boot3 = await bed.dump('appliance');
      assert.deepEqual(frontendV4(boot3), ['172.16.10.3/24']);
      assert.deepEqual(frontendRules(boot3), ['101: from 172.16.10.3 lookup 3']);
      assert.ok(tableLines(boot3, 'main').includes('172.16.10.0/24 dev frontend scope link src 172.16.10.3'));
      assert.ok(tableLines(boot3, 'local').includes('local 192.168.0.0/24 dev lo table local scope host'));
      console.log(`networkd 'static' ready after ${first.readyAfterMs} ms (boot), ${second.readyAfterMs} ms (restart), ${third.readyAfterMs} ms (after reset)`);
    });
  });

  test('.link files are emulated: kernel-named NICs renamed by MAC, then matched by Name=', async () => {
    await withBed(async (bed) => {
      await bed.addNamespace('appliance');
      await bed.addNamespace('gw');
      for (const [name, nic] of Object.entries(NICS) as Array<[Nic, (typeof NICS)[Nic]]>) {
        const { a, b } = await bed.link('appliance', undefined, 'gw', `gw-${name}`, { macA: nic.mac });
        assert.match(a, /^eth\d$/);
        await bed.addr('gw', b, nic.gwCidr);
      }
      const files: Record<string, string> = {};
      for (const [name, nic] of Object.entries(NICS) as Array<[Nic, (typeof NICS)[Nic]]>) {
        files[`10-${name}.link`] = `[Match]\nMACAddress=${nic.mac}\n\n[Link]\nName=${name}\n`;
        files[`10-${name}.network`] = `[Match]\nName=${name}\n\n[Network]\nAddress=${nic.cidr}\n`;
      }
      const dir = await writeUnits(files);
      const renames = await bed.applyLinkFiles('appliance', dir);
      assert.deepEqual(renames.map((r) => r.to).sort(), ['frontend', 'management', 'workload']);
      const nd = await bed.runNetworkd('appliance', dir, { until: 'static' });
      await nd.stop();
      const d = await bed.dump('appliance');
      assert.deepEqual(tableLines(d, 'main').sort(), SEED_MAIN_TABLE.slice(1).sort());

      // Unsupported [Match] keys are refused rather than silently ignored.
      const bad = await writeUnits({ '10-x.link': '[Match]\nPath=pci-0000:13:00.0\n\n[Link]\nName=frontend\n' });
      await assert.rejects(bed.applyLinkFiles('appliance', bad), /Path= is not emulated/);
    });
  });

  test('a readiness predicate and failure reporting', async () => {
    await withBed(async (bed) => {
      await bed.addNamespace('appliance');
      await bed.addNamespace('gw');
      await bed.link('appliance', 'management', 'gw', 'gw0', { macA: NICS.management.mac });
      const units = await writeUnits({ '10-management.network': seedUnits()['10-management.network']! });
      // Wait only for the default route (with IPv6 on, 'configured' would wait for the RA timeout).
      const nd = await bed.runNetworkd('appliance', units, {
        until: (s) => s.dump.routes.some((r) => routeLine(r) === 'default via 10.191.191.254 dev management'),
      });
      assert.equal(nd.running(), true);
      await nd.stop();
      await nd.stop(); // idempotent

      // A unit dir that does not exist fails at once, with no process left behind.
      await assert.rejects(bed.runNetworkd('appliance', '/nonexistent-hpa-units'), /ENOENT/);
      // A condition that never holds times out with the log tail in the message.
      await assert.rejects(bed.runNetworkd('appliance', units, { timeoutMs: 1_500, until: () => false }), /not ready after 1500 ms[\s\S]*networkd log/);
    });
  });

  test('cleanup is idempotent, kills what the bed started and survives a half-done setup', async () => {
    const bed = createTestBed();
    bedIds.push(bed.id);
    let pid = -1;
    try {
      await bed.addNamespace('a');
      await bed.addNamespace('b');
      await bed.link('a', 'x0', 'b', 'y0', { upA: true });
      await bed.addr('a', 'x0', '10.99.0.1/24');
      await bed.addr('b', 'y0', '10.99.0.2/24');
      const l = await bed.listen('a', '10.99.0.1', 8080);
      pid = l.pid;
      assert.equal((await bed.connect('b', '10.99.0.1', 8080)).ok, true);
      // Name clash is an error, but the bed stays consistent.
      await assert.rejects(bed.addNamespace('a'), /already exists/);
      await assert.rejects(bed.link('a', 'x0', 'b', 'y1'), /command failed/);
    } finally {
      await bed.cleanup();
      await bed.cleanup();
    }
    assert.ok(pid > 0);
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
    await assertNothingLeft({ bedIds: [bed.id], pids: [pid] });
    await assert.rejects(bed.addNamespace('c'), /cleaned up/);
  });
});
