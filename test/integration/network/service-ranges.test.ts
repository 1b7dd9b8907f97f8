/**
 * Integration proof of several service ranges (test/golden/plan/service-ranges) on the
 * 3-NIC appliance: one range inside each NIC's subnet and one outside every subnet. The units
 * the REAL CLI writes run in the REAL systemd-networkd 252; every range must be AnyIP and carry
 * traffic, each with its own rule (none for the management range: the main table), and replies
 * must leave by the NIC whose network holds the range (docs/network.md, "VIPs").
 *
 * The frontend router routes the outside range 10.200.0.0/24 to the appliance's frontend
 * address (as docs/network.md asks of the upstream router). The routers do not route to each
 * other and filter with rp_filter=1; the management gateway knows no client subnet.
 *
 * Build first: `npx tsc -p .` (the CLI is run from dist/).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { canRunNetworkBeds, createTestBed, type NetDump, type TestBed } from '../../harness/netns.js';
import { assertNothingLeft } from '../../harness/leak-guard.js';
import { SEED_PROPERTIES } from '../../harness/ovf.js';
import {
  ADAPTERS_3,
  buildTopology,
  CLIENT,
  counter,
  mgwDropped,
  ProvisionedRoot,
  routeGet,
  ruleLines,
  SEED_MAIN_TABLE,
  since,
  table,
  tryBind,
  withoutRules,
  unitWarnings,
} from '../../harness/netbed-appliance.js';

const can = await canRunNetworkBeds();
const skip = can.ok ? false : `cannot run network beds here: ${can.reason}`;

const RANGES = ['192.168.0.0/24', '172.16.10.128/25', '10.191.180.0/24', '10.200.0.0/24'];

describe('several service ranges: CLI units on the real systemd-networkd', { skip }, () => {
  let bed: TestBed;
  let root: ProvisionedRoot;
  let d: NetDump;
  let renames: Array<{ from: string; to: string }>;
  const t0 = Date.now();

  before(async () => {
    bed = createTestBed();
    root = new ProvisionedRoot();
    root.setEnv({ properties: { ...SEED_PROPERTIES, 'loadbalance.service_ip_range': RANGES.join(', ') }, adapters: ADAPTERS_3 });
    root.provision();
    // The workload router also routes the outside range to the appliance's workload address: a
    // client there sends to a frontend VIP through the wrong NIC (see the last test).
    await buildTopology(bed, {
      nics: ['workload', 'frontend', 'management'],
      frouterRoutes: ['10.200.0.0/24 via 172.16.10.2'],
      wrouterRoutes: ['10.200.0.0/24 via 192.168.1.2'],
    });
    renames = await bed.applyLinkFiles('appliance', root.unitDir);
    const nd = await bed.runNetworkd('appliance', root.unitDir, { until: 'static' });
    const warnings = unitWarnings(nd);
    await nd.stop();
    assert.deepEqual(warnings, [], 'networkd accepts every line of the units');
    d = await bed.dump('appliance');
    console.log(`service-ranges bed ready in ${since(t0)} (networkd ready after ${nd.readyAfterMs} ms)`);
  });

  after(async () => {
    const id = bed?.id;
    await bed?.cleanup();
    root?.remove();
    await assertNothingLeft({ bedIds: [id] });
    console.log(`service-ranges file done in ${since(t0)}`);
  });

  test('renamed by the .link files; main table still the seed`s', () => {
    assert.deepEqual(renames, [
      { from: 'eth0', to: 'workload' },
      { from: 'eth1', to: 'frontend' },
      { from: 'eth2', to: 'management' },
    ]);
    assert.deepEqual(table(d, 'main'), [...SEED_MAIN_TABLE].sort());
  });

  test('every range is AnyIP (`local <range> dev lo`) and binds; addresses outside the ranges do not', async () => {
    const local = table(d, 'local').filter((l) => l.endsWith(' dev lo table local scope host') && !l.startsWith('local 127.'));
    assert.deepEqual(local, RANGES.map((r) => `local ${r} dev lo table local scope host`).sort());
    const binds = await Promise.all(
      ['192.168.0.1', '172.16.10.200', '10.191.180.7', '10.200.0.5', '192.168.1.200', '172.16.10.100', '10.191.181.1', '10.200.1.1'].map((a) =>
        tryBind(bed, 'appliance', a, 443),
      ),
    );
    assert.deepEqual(binds, ['ok', 'ok', 'ok', 'ok', 'EADDRNOTAVAIL', 'EADDRNOTAVAIL', 'EADDRNOTAVAIL', 'EADDRNOTAVAIL']);
  });

  test('one rule per range, in the table of the network that holds it (none for the management range)', async () => {
    assert.deepEqual(ruleLines(d), [
      '0: from all lookup local',
      '1000: from 192.168.0.0/24 lookup 200',
      '1001: from 172.16.10.128/25 lookup 201',
      '1003: from 10.200.0.0/24 lookup 201',
      '2000: from 192.168.0.0/16 lookup 200',
      '2001: from 172.16.10.0/24 lookup 201',
      '32766: from all lookup main',
      '32767: from all lookup default',
    ]);
    const via = async (src: string) => routeGet(bed, 'appliance', `203.0.113.10 from ${src}`);
    assert.equal(await via('192.168.0.1'), 'via 192.168.1.1 dev workload table 200');
    assert.equal(await via('172.16.10.200'), 'via 172.16.10.1 dev frontend table 201');
    assert.equal(await via('10.200.0.5'), 'via 172.16.10.1 dev frontend table 201');
    assert.equal(await via('10.191.180.7'), 'via 10.191.191.254 dev management table main');
  });

  test('traffic to a VIP of every range from the side that owns it', async () => {
    const targets = [
      { ns: 'wclient', host: '192.168.0.1', port: 6443, from: CLIENT.workload },
      { ns: 'fclient', host: '172.16.10.200', port: 443, from: CLIENT.frontend },
      { ns: 'fclient', host: '10.200.0.5', port: 443, from: CLIENT.frontend },
      { ns: 'mgw', host: '10.191.180.7', port: 22, from: '10.191.191.254' },
    ];
    const servers = await Promise.all(targets.map((t) => bed.listen('appliance', t.host, t.port)));
    try {
      const results = await Promise.all(targets.map((t) => bed.connect(t.ns, t.host, t.port)));
      assert.deepEqual(
        results.map((r) => [r.ok, r.error, r.reply?.localAddress, r.reply?.remoteAddress]),
        targets.map((t) => [true, undefined, t.host, t.from]),
      );
      // Also with strict reverse-path filtering on the appliance (docs/network.md: the
      // well-formed layouts pass a strict check).
      await bed.sysctl('appliance', 'net.ipv4.conf.all.rp_filter', '1');
      try {
        const strict = await Promise.all(targets.map((t) => bed.connect(t.ns, t.host, t.port)));
        assert.deepEqual(
          strict.map((r) => r.ok),
          targets.map(() => true),
        );
      } finally {
        await bed.sysctl('appliance', 'net.ipv4.conf.all.rp_filter', '0');
      }
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  test('the test can fail: without rule 1003 the replies of 10.200.0.0/24 go to the management gateway and are lost', async () => {
    const srv = await bed.listen('appliance', '10.200.0.5', 443);
    try {
      await withoutRules(bed, 'appliance', [1003], async () => {
        assert.equal(await routeGet(bed, 'appliance', `${CLIENT.frontend} from 10.200.0.5`), 'via 10.191.191.254 dev management table main');
        const lost0 = await mgwDropped(bed);
        const r = await bed.connect('fclient', '10.200.0.5', 443, { timeoutMs: 1_000 });
        assert.deepEqual([r.ok, r.error], [false, 'ETIMEDOUT']);
        assert.ok((await mgwDropped(bed)) - lost0 >= 1, 'the SYN-ACK reached the management gateway, which dropped it');
      });
      assert.equal(srv.connections.length, 0);
      const back = await bed.connect('fclient', '10.200.0.5', 443);
      assert.equal(back.ok, true, `works again once rule 1003 is back: ${back.error}`);
    } finally {
      await srv.close();
    }
  });

  test('replies follow the range, not the ingress: a workload client sent to a frontend VIP gets no answer', async () => {
    // docs/network.md: replies from a range leave by the NIC whose network holds it. The
    // workload router delivers 10.99.0.2 -> 10.200.0.5 to the workload NIC; the reply leaves by
    // frontend, where the frontend router has no route back to 10.99.0.0/24 and drops it.
    const srv = await bed.listen('appliance', '10.200.0.5', 443);
    try {
      const lost0 = await counter(bed, 'frouter', 'IpExt', 'InNoRoutes');
      const r = await bed.connect('wclient', '10.200.0.5', 443, { timeoutMs: 1_000 });
      assert.deepEqual([r.ok, r.error], [false, 'ETIMEDOUT']);
      assert.ok((await counter(bed, 'frouter', 'IpExt', 'InNoRoutes')) - lost0 >= 1, 'the SYN-ACK left by frontend and the frontend router dropped it');
    } finally {
      await srv.close();
    }
  });
});
