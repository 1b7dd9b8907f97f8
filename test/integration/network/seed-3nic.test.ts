/**
 * Integration proof of the network feature on the seed's 3-NIC (frontend) appliance: the units
 * the REAL CLI writes (`dist/bin.js provision --root`, from examples/ovf-env.xml) run by the
 * REAL systemd-networkd 252 inside network namespaces (test/harness/netns.ts).
 *
 * One bed for the whole file (see test/harness/netbed-appliance.ts for the topology): the
 * NICs start with kernel names, the .link files rename them, networkd configures them; then
 * the kernel state is compared with the seed's `ip r` and docs/network.md, and real TCP
 * connections from clients behind the workload and frontend routers prove that replies leave
 * by the right NIC (the routers do not route to each other, the management gateway knows no
 * client subnet, and the routers filter with rp_filter=1, so a reply by the wrong NIC is
 * dropped) — and that the test fails when the policy rules are removed.
 *
 * Build first: `npx tsc -p .` (the CLI is run from dist/).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { canRunNetworkBeds, createTestBed, type NetDump, type TestBed } from '../../harness/netns.js';
import { assertNothingLeft } from '../../harness/leak-guard.js';
import { SEED_ENV_FILE, SEED_MACS } from '../../harness/ovf.js';
import { STATE_FILE } from '../../../src/appliance/paths.js';
import {
  buildTopology,
  CLIENT,
  comparable,
  ipv4Addrs,
  ProvisionedRoot,
  routeGet,
  ruleLines,
  SEED_MAIN_TABLE,
  since,
  mgwDropped,
  withoutRules,
  table,
  tryBind,
  type Role,
  unitWarnings,
} from '../../harness/netbed-appliance.js';

const can = await canRunNetworkBeds();
const skip = can.ok ? false : `cannot run network beds here: ${can.reason}`;

const SEED_RULES = [
  '0: from all lookup local',
  '1000: from 192.168.0.0/24 lookup 200',
  '2000: from 192.168.0.0/16 lookup 200',
  '2001: from 172.16.10.0/24 lookup 201',
  '32766: from all lookup main',
  '32767: from all lookup default',
];

describe('seed 3-NIC appliance: CLI units on the real systemd-networkd', { skip }, () => {
  let bed: TestBed;
  let root: ProvisionedRoot;
  let kernelNames: Record<Role, string | undefined>;
  let renames: Array<{ from: string; to: string }>;
  let boot: NetDump;
  const t0 = Date.now();

  before(async () => {
    bed = createTestBed();
    root = new ProvisionedRoot();
    root.setEnv(SEED_ENV_FILE);
    const first = root.provision();
    for (const f of [
      '10-management.link',
      '10-workload.link',
      '10-frontend.link',
      '20-management.network',
      '20-workload.network',
      '20-frontend.network',
      '30-lo-anyip.network',
    ]) {
      assert.match(first.stdout, new RegExp(`^created /etc/systemd/network/${f.replace('.', '\\.')}$`, 'mu'));
    }
    // Created frontend first so that eth<N> order differs from the role order.
    kernelNames = await buildTopology(bed, { nics: ['frontend', 'management', 'workload'] });
    renames = await bed.applyLinkFiles('appliance', root.unitDir);
    const nd = await bed.runNetworkd('appliance', root.unitDir, { until: 'static' });
    const warnings = unitWarnings(nd);
    await nd.stop();
    assert.deepEqual(warnings, [], 'networkd accepts every line of the units');
    boot = await bed.dump('appliance');
    console.log(`seed bed ready in ${since(t0)} (networkd ready after ${nd.readyAfterMs} ms)`);
  });

  after(async () => {
    const id = bed?.id;
    await bed?.cleanup();
    root?.remove();
    await assertNothingLeft({ bedIds: [id] });
    console.log(`seed file done in ${since(t0)}`);
  });

  test('the NICs start with kernel names; the .link files give them their role names', () => {
    assert.deepEqual(kernelNames, { frontend: 'eth0', management: 'eth1', workload: 'eth2' });
    assert.deepEqual(
      [...renames].sort((a, b) => a.from.localeCompare(b.from)),
      [
        { from: 'eth0', to: 'frontend' },
        { from: 'eth1', to: 'management' },
        { from: 'eth2', to: 'workload' },
      ],
    );
    const macs = Object.fromEntries(boot.addrs.map((l) => [l.ifname, l.address]));
    assert.deepEqual(macs, { lo: '00:00:00:00:00:00', ...SEED_MACS });
  });

  test("the main table equals the seed's `ip r`; addresses as in the seed", () => {
    assert.deepEqual(table(boot, 'main'), [...SEED_MAIN_TABLE].sort());
    assert.equal(boot.routes.find((r) => r.dst === 'default')?.protocol, 'static');
    const a = ipv4Addrs(boot);
    assert.deepEqual([a.management, a.workload, a.frontend, a.lo], [['10.191.181.52/20'], ['192.168.1.2/16'], ['172.16.10.2/24'], ['127.0.0.1/8']]);
  });

  test('tables 200/201 and the policy rules exist exactly once each', () => {
    assert.deepEqual(table(boot, '200'), [
      '192.168.0.0/16 dev workload table 200 scope link src 192.168.1.2',
      'default via 192.168.1.1 dev workload table 200',
    ]);
    assert.deepEqual(table(boot, '201'), [
      '172.16.10.0/24 dev frontend table 201 scope link src 172.16.10.2',
      'default via 172.16.10.1 dev frontend table 201',
    ]);
    assert.deepEqual(ruleLines(boot), SEED_RULES);
  });

  test('AnyIP: `local 192.168.0.0/24 dev lo`; VIPs bind, other addresses do not (EADDRNOTAVAIL)', async () => {
    assert.ok(table(boot, 'local').includes('local 192.168.0.0/24 dev lo table local scope host'), table(boot, 'local').join('\n'));
    assert.equal(await tryBind(bed, 'appliance', '192.168.0.1', 6443), 'ok');
    assert.equal(await tryBind(bed, 'appliance', '192.168.0.254', 443), 'ok');
    assert.equal(await tryBind(bed, 'appliance', '192.168.1.200', 6443), 'EADDRNOTAVAIL'); // in the workload /16, outside the range
    assert.equal(await tryBind(bed, 'appliance', '10.200.0.1', 6443), 'EADDRNOTAVAIL');
  });

  test('route lookups: each source leaves by its own gateway', async () => {
    assert.equal(await routeGet(bed, 'appliance', '203.0.113.10 from 192.168.0.1'), 'via 192.168.1.1 dev workload table 200');
    assert.equal(await routeGet(bed, 'appliance', '203.0.113.10 from 172.16.10.2'), 'via 172.16.10.1 dev frontend table 201');
    assert.equal(await routeGet(bed, 'appliance', '203.0.113.10 from 10.191.181.52'), 'via 10.191.191.254 dev management table main');
    assert.equal(await routeGet(bed, 'appliance', '203.0.113.10'), 'via 10.191.191.254 dev management table main src 10.191.181.52');
  });

  test('traffic: workload client -> VIP 192.168.0.1:6443, frontend client -> 172.16.10.2, management gateway -> 10.191.181.52', async () => {
    const vip = await bed.listen('appliance', '192.168.0.1', 6443);
    const fe = await bed.listen('appliance', '172.16.10.2', 443);
    const mg = await bed.listen('appliance', '10.191.181.52', 5556);
    try {
      const w = await bed.connect('wclient', '192.168.0.1', 6443);
      assert.equal(w.ok, true, w.error);
      assert.deepEqual([w.reply?.localAddress, w.reply?.remoteAddress], ['192.168.0.1', CLIENT.workload]);
      const f = await bed.connect('fclient', '172.16.10.2', 443);
      assert.equal(f.ok, true, f.error);
      assert.deepEqual([f.reply?.localAddress, f.reply?.remoteAddress], ['172.16.10.2', CLIENT.frontend]);
      const m = await bed.connect('mgw', '10.191.181.52', 5556);
      assert.equal(m.ok, true, m.error);
      assert.equal(m.reply?.remoteAddress, '10.191.191.254');
    } finally {
      await Promise.all([vip.close(), fe.close(), mg.close()]);
    }
  });

  test('the test can fail: without the policy rules the replies go to the management gateway and are lost', async () => {
    const vip = await bed.listen('appliance', '192.168.0.1', 6443);
    const fe = await bed.listen('appliance', '172.16.10.2', 443);
    try {
      // Rule 1000 alone is redundant for this range (it is inside the workload /16, rule 2000).
      await withoutRules(bed, 'appliance', [1000], async () => {
        assert.equal((await bed.connect('wclient', '192.168.0.1', 6443)).ok, true);
      });
      await withoutRules(bed, 'appliance', [1000, 2000, 2001], async () => {
        assert.equal(await routeGet(bed, 'appliance', `${CLIENT.workload} from 192.168.0.1`), 'via 10.191.191.254 dev management table main');
        const lost0 = await mgwDropped(bed);
        const [w, f] = await Promise.all([
          bed.connect('wclient', '192.168.0.1', 6443, { timeoutMs: 1_000 }),
          bed.connect('fclient', '172.16.10.2', 443, { timeoutMs: 1_000 }),
        ]);
        const lost = (await mgwDropped(bed)) - lost0;
        assert.deepEqual([w.ok, w.error, f.ok, f.error], [false, 'ETIMEDOUT', false, 'ETIMEDOUT']);
        assert.ok(lost >= 2, `the SYN-ACKs reached the management gateway, which dropped them (InAddrErrors +${lost})`);
      });
      assert.equal(vip.connections.length + fe.connections.length, 1, 'only the connection made with rule 2000 in place');
    } finally {
      await Promise.all([vip.close(), fe.close()]);
    }
    // Restored as networkd made them (proto static), so a later networkd run adopts them.
    assert.deepEqual(comparable(await bed.dump('appliance')).rules, comparable(boot).rules, 'rules restored');
    const again = await bed.listen('appliance', '192.168.0.1', 6443);
    try {
      assert.equal((await bed.connect('wclient', '192.168.0.1', 6443)).ok, true, 'works again once restored');
    } finally {
      await again.close();
    }
  });

  test('strict rp_filter on the appliance too: the well-formed paths still pass', async () => {
    await bed.sysctl('appliance', 'net.ipv4.conf.all.rp_filter', '1');
    const vip = await bed.listen('appliance', '192.168.0.1', 6443);
    const fe = await bed.listen('appliance', '172.16.10.2', 443);
    try {
      assert.equal((await bed.connect('wclient', '192.168.0.1', 6443)).ok, true);
      assert.equal((await bed.connect('fclient', '172.16.10.2', 443)).ok, true);
    } finally {
      await Promise.all([vip.close(), fe.close()]);
      await bed.sysctl('appliance', 'net.ipv4.conf.all.rp_filter', '0');
    }
  });

  let stateBefore: ReturnType<ProvisionedRoot['snapshot']> | undefined;
  let stateAfter: ReturnType<ProvisionedRoot['snapshot']> | undefined;

  test('a second provision run changes nothing; networkd rerun (restart and reboot) gives identical state', async () => {
    const before = root.snapshot();
    const second = root.provision();
    assert.match(second.stdout, /: nothing to change, \d+ already up to date\n$/u);
    assert.doesNotMatch(second.stdout, /^(created|updated|removed) /mu);
    const after = root.snapshot();
    [stateBefore, stateAfter] = [before, after];
    // Every file the CLI manages: same content, mode, mtime and inode (not rewritten).
    // state.json is the agent's own record; see the todo test below.
    const managed = (m: typeof before) => new Map([...m].filter(([p]) => p !== STATE_FILE));
    assert.ok(managed(before).has('/etc/systemd/network/20-workload.network'));
    assert.deepEqual(managed(after), managed(before));

    const want = comparable(boot);
    // Restart: networkd starts again on the configured kernel state.
    const restart = await bed.runNetworkd('appliance', root.unitDir, { until: 'static' });
    await restart.stop();
    assert.deepEqual(comparable(await bed.dump('appliance')), want);
    // Reboot: fresh kernel state (names stay), the same units.
    await bed.resetNetworkState('appliance');
    const reboot = await bed.runNetworkd('appliance', root.unitDir, { until: 'static' });
    await reboot.stop();
    assert.deepEqual(comparable(await bed.dump('appliance')), want);
    console.log(`networkd reruns ready after ${restart.readyAfterMs} ms (restart), ${reboot.readyAfterMs} ms (reboot)`);
  });

  test('a second provision run does not rewrite state.json either', () => {
    assert.ok(stateBefore && stateAfter, 'runs after the previous test');
    assert.deepEqual(stateAfter.get(STATE_FILE), stateBefore.get(STATE_FILE));
  });
});
