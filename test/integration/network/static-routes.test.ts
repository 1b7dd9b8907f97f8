/**
 * Integration proof of `network.static_routes` (haproxytech/vmware-haproxy #15: isolated
 * workload networks reached through a router other than the NIC's gateway) on the seed's 3-NIC
 * appliance: the units the REAL CLI writes (`dist/bin.js provision --root`) run by the REAL
 * systemd-networkd 252 in network namespaces, then real TCP both ways.
 *
 * Topology (one bed; the workload and frontend segments are bridges, each with the NIC's
 * default gateway and a second router that alone reaches an isolated network):
 *
 *   wiso 10.20.0.10/16 ─ [10.20.0.1 wr2 192.168.1.254/16] ─┐
 *                              [wrouter 192.168.1.1/16] ───┴ br (wseg) ── workload  ┐
 *   fiso 172.16.5.10/24 ─ [172.16.5.1 fr2 172.16.10.254/24] ┐                       │
 *                              [frouter 172.16.10.1/24] ────┴ br (fseg) ── frontend ├─ appliance
 *                              [mgw 10.191.191.254/20] ─────────────────── management┘
 *
 * The default gateways (wrouter, frouter) know no route to the isolated networks, the
 * management gateway does not forward, and the routers filter with rp_filter=1: a packet for
 * 10.20.0.0/16 or 172.16.5.0/24 that does not leave by the right NIC to the right router is lost.
 *
 * Build first: `npm run build` (the CLI is run from dist/).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canRunNetworkBeds, createTestBed, type NetDump, type TestBed } from '../../harness/netns.js';
import { assertNothingLeft } from '../../harness/leak-guard.js';
import { SEED_PROPERTIES } from '../../harness/ovf.js';
import { addApplianceNics, addBridges, SEED_NICS, type Role } from '../../harness/seed-topology.js';
import {
  ADAPTERS_2,
  ADAPTERS_3,
  buildTopology,
  comparable,
  ipv4Addrs,
  mgwDropped,
  NO_FRONTEND,
  ProvisionedRoot,
  routeGet,
  ruleLines,
  since,
  startDnsmasq,
  table,
  unitWarnings,
  type Dnsmasq,
} from '../../harness/netbed-appliance.js';
import type { NetworkdLinkState } from '../../harness/netns.js';

const can = await canRunNetworkBeds();
const skip = can.ok ? false : `cannot run network beds here: ${can.reason}`;

const ROUTES = '10.20.0.0/16 via 192.168.1.254, 172.16.5.0/24 via 172.16.10.254, 10.30.0.0/24 via 10.191.191.253';
const WISO = '10.20.0.10';
const FISO = '172.16.5.10';

/** The routes the units add, as `ip route add` arguments (for deleting and restoring them). */
const STATIC = {
  wlTable: ['10.20.0.0/16', 'via', '192.168.1.254', 'dev', 'workload', 'table', '200'],
  wlMain: ['10.20.0.0/16', 'via', '192.168.1.254', 'dev', 'workload'],
  feTable: ['172.16.5.0/24', 'via', '172.16.10.254', 'dev', 'frontend', 'table', '201'],
};

describe('network.static_routes: CLI units on the real systemd-networkd, real traffic both ways', { skip }, () => {
  let bed: TestBed;
  let root: ProvisionedRoot;
  let boot: NetDump;
  let links: NetworkdLinkState[];
  const t0 = Date.now();

  /** Deletes these routes, runs `fn`, and puts them back as networkd made them (proto static), even when `fn` throws. */
  async function withoutRoutes<T>(routes: string[][], fn: () => Promise<T>): Promise<T> {
    for (const r of routes) await bed.ip('appliance', ['route', 'del', ...r]);
    try {
      return await fn();
    } finally {
      for (const r of routes) await bed.ip('appliance', ['route', 'add', ...r, 'proto', 'static']);
    }
  }

  before(async () => {
    bed = createTestBed();
    root = new ProvisionedRoot();
    root.setEnv({
      properties: { ...SEED_PROPERTIES, 'network.static_routes': ROUTES, 'network.search_domains': 'corp.example.com, lab.example' },
      adapters: ADAPTERS_3,
    });
    root.provision();

    await bed.addNamespace('appliance');
    for (const ns of ['mgw', 'wseg', 'fseg', 'wrouter', 'frouter', 'wr2', 'fr2', 'wiso', 'fiso']) await bed.addNamespace(ns);
    await addBridges(bed, 'wseg', [{ name: 'brseg' }]);
    await addBridges(bed, 'fseg', [{ name: 'brseg' }]);
    const peers: Record<Role, { ns: string; dev: string; bridge?: string }> = {
      management: { ns: 'mgw', dev: 'gw-mgmt' },
      workload: { ns: 'wseg', dev: 'seg-app', bridge: 'brseg' },
      frontend: { ns: 'fseg', dev: 'seg-app', bridge: 'brseg' },
    };
    await addApplianceNics(bed, { order: ['management', 'workload', 'frontend'], peer: (role) => peers[role] });
    await bed.addr('mgw', 'gw-mgmt', SEED_NICS.management.gwCidr);
    // Routers: strict reverse-path filtering and forwarding, set before their links exist.
    for (const ns of ['wrouter', 'frouter', 'wr2', 'fr2']) {
      await bed.sysctl(ns, 'net.ipv4.conf.all.rp_filter', '1');
      await bed.sysctl(ns, 'net.ipv4.conf.default.rp_filter', '1');
      await bed.enableForwarding(ns);
    }
    const onSegment = async (seg: string, ns: string, dev: string, cidr: string) => {
      const { b } = await bed.link(ns, dev, seg, undefined, { upA: true });
      await bed.ip(seg, ['link', 'set', 'dev', b, 'master', 'brseg']);
      await bed.addr(ns, dev, cidr);
    };
    await onSegment('wseg', 'wrouter', 'wl', SEED_NICS.workload.gwCidr);
    await onSegment('wseg', 'wr2', 'wl', '192.168.1.254/16');
    await onSegment('fseg', 'frouter', 'fe', SEED_NICS.frontend.gwCidr);
    await onSegment('fseg', 'fr2', 'fe', '172.16.10.254/24');
    // The isolated networks, each behind its second router only.
    for (const [router, host, gw, cidr] of [
      ['wr2', 'wiso', '10.20.0.1/16', `${WISO}/16`],
      ['fr2', 'fiso', '172.16.5.1/24', `${FISO}/24`],
    ] as const) {
      await bed.link(router, 'iso', host, 'eth0', { upA: true });
      await bed.addr(router, 'iso', gw);
      await bed.addr(host, 'eth0', cidr);
      await bed.up(host, 'eth0');
      await bed.route(host, `default via ${gw.split('/')[0]}`);
    }

    await bed.applyLinkFiles('appliance', root.unitDir);
    const nd = await bed.runNetworkd('appliance', root.unitDir, { until: 'static' });
    const warnings = unitWarnings(nd);
    links = await nd.links();
    await nd.stop();
    assert.deepEqual(warnings, [], 'networkd accepts every line of the units');
    boot = await bed.dump('appliance');
    console.log(`static-routes bed ready in ${since(t0)} (networkd ready after ${nd.readyAfterMs} ms)`);
  });

  after(async () => {
    const id = bed?.id;
    await bed?.cleanup();
    root?.remove();
    await assertNothingLeft({ bedIds: [id] });
  });

  test('each route is on the NIC whose subnet holds its gateway: management in main; workload and frontend in their table and in main', () => {
    assert.deepEqual(
      table(boot, 'main').filter((l) => l.includes(' via ') && !l.startsWith('default')),
      ['10.20.0.0/16 via 192.168.1.254 dev workload', '10.30.0.0/24 via 10.191.191.253 dev management', '172.16.5.0/24 via 172.16.10.254 dev frontend'],
    );
    assert.deepEqual(table(boot, '200'), [
      '10.20.0.0/16 via 192.168.1.254 dev workload table 200',
      '192.168.0.0/16 dev workload table 200 scope link src 192.168.1.2',
      'default via 192.168.1.1 dev workload table 200',
    ]);
    assert.deepEqual(table(boot, '201'), [
      '172.16.10.0/24 dev frontend table 201 scope link src 172.16.10.2',
      '172.16.5.0/24 via 172.16.10.254 dev frontend table 201',
      'default via 172.16.10.1 dev frontend table 201',
    ]);
    // No rule is added: the seed's rules send replies to the NIC's table already.
    assert.deepEqual(ruleLines(boot), [
      '0: from all lookup local',
      '1000: from 192.168.0.0/24 lookup 200',
      '2000: from 192.168.0.0/16 lookup 200',
      '2001: from 172.16.10.0/24 lookup 201',
      '32766: from all lookup main',
      '32767: from all lookup default',
    ]);
  });

  test("search domains: networkd hands the management link's domains to resolved (its link state), no other link has any", () => {
    const state = (role: string) => links.find((l) => l.name === role)?.raw ?? {};
    // What systemd-resolved reads for each link (/run/systemd/netif/links/<ifindex>).
    assert.equal(state('management').DOMAINS, 'corp.example.com lab.example');
    assert.equal(state('management').DNS, '10.170.16.48 10.142.7.1');
    for (const role of ['workload', 'frontend']) assert.equal(state(role).DOMAINS ?? '', '', `${role}: no domains`);
  });

  test('route lookups: what the appliance opens and what it answers take the route', async () => {
    assert.equal(await routeGet(bed, 'appliance', WISO), 'via 192.168.1.254 dev workload table main src 192.168.1.2');
    assert.equal(await routeGet(bed, 'appliance', FISO), 'via 172.16.10.254 dev frontend table main src 172.16.10.2');
    assert.equal(await routeGet(bed, 'appliance', `${WISO} from 192.168.0.1`), 'via 192.168.1.254 dev workload table 200');
    assert.equal(await routeGet(bed, 'appliance', `${WISO} from 192.168.1.2`), 'via 192.168.1.254 dev workload table 200');
    assert.equal(await routeGet(bed, 'appliance', `${FISO} from 172.16.10.2`), 'via 172.16.10.254 dev frontend table 201');
    // Other destinations are unchanged: the management default, the NICs' own gateways.
    assert.equal(await routeGet(bed, 'appliance', '203.0.113.10'), 'via 10.191.191.254 dev management table main src 10.191.181.52');
    assert.equal(await routeGet(bed, 'appliance', '203.0.113.10 from 192.168.0.1'), 'via 192.168.1.1 dev workload table 200');
    // The documented asymmetry: the management address has no table of its own, so its replies to a routed network follow main.
    assert.equal(await routeGet(bed, 'appliance', `${WISO} from 10.191.181.52`), 'via 192.168.1.254 dev workload table main');
  });

  test("traffic: the appliance reaches hosts on the routed networks (haproxy's side)", async () => {
    const w = await bed.listen('wiso', WISO, 6443);
    const f = await bed.listen('fiso', FISO, 6443);
    try {
      const a = await bed.connect('appliance', WISO, 6443);
      assert.equal(a.ok, true, a.error);
      assert.deepEqual([a.reply?.localAddress, a.reply?.remoteAddress], [WISO, '192.168.1.2']);
      const b = await bed.connect('appliance', FISO, 6443);
      assert.equal(b.ok, true, b.error);
      assert.deepEqual([b.reply?.localAddress, b.reply?.remoteAddress], [FISO, '172.16.10.2']);
    } finally {
      await Promise.all([w.close(), f.close()]);
    }
  });

  test('traffic: clients on the routed networks reach a VIP and the NIC addresses; replies leave by the NIC they came in on', async () => {
    const vip = await bed.listen('appliance', '192.168.0.1', 6443);
    const wl = await bed.listen('appliance', '192.168.1.2', 443);
    const fe = await bed.listen('appliance', '172.16.10.2', 443);
    try {
      const v = await bed.connect('wiso', '192.168.0.1', 6443);
      assert.equal(v.ok, true, v.error);
      assert.deepEqual([v.reply?.localAddress, v.reply?.remoteAddress], ['192.168.0.1', WISO]);
      assert.equal((await bed.connect('wiso', '192.168.1.2', 443)).ok, true);
      const f = await bed.connect('fiso', '172.16.10.2', 443);
      assert.equal(f.ok, true, f.error);
      assert.deepEqual([f.reply?.localAddress, f.reply?.remoteAddress], ['172.16.10.2', FISO]);
    } finally {
      await Promise.all([vip.close(), wl.close(), fe.close()]);
    }
  });

  test('the test can fail: without the table route replies go to the default gateway; without the main route the appliance goes out by management', async () => {
    const vip = await bed.listen('appliance', '192.168.0.1', 6443);
    const fe = await bed.listen('appliance', '172.16.10.2', 443);
    const w = await bed.listen('wiso', WISO, 6443);
    try {
      await withoutRoutes([STATIC.wlTable, STATIC.feTable], async () => {
        assert.equal(await routeGet(bed, 'appliance', `${WISO} from 192.168.0.1`), 'via 192.168.1.1 dev workload table 200');
        const [v, f] = await Promise.all([
          bed.connect('wiso', '192.168.0.1', 6443, { timeoutMs: 1_000 }),
          bed.connect('fiso', '172.16.10.2', 443, { timeoutMs: 1_000 }),
        ]);
        assert.deepEqual([v.ok, v.error, f.ok, f.error], [false, 'ETIMEDOUT', false, 'ETIMEDOUT'], 'the default gateways have no route back');
      });
      await withoutRoutes([STATIC.wlMain], async () => {
        assert.equal(await routeGet(bed, 'appliance', WISO), 'via 10.191.191.254 dev management table main src 10.191.181.52');
        const lost0 = await mgwDropped(bed);
        const a = await bed.connect('appliance', WISO, 6443, { timeoutMs: 1_000 });
        assert.deepEqual([a.ok, a.error], [false, 'ETIMEDOUT']);
        assert.ok((await mgwDropped(bed)) - lost0 >= 1, 'the SYN reached the management gateway, which dropped it');
      });
    } finally {
      await Promise.all([vip.close(), fe.close(), w.close()]);
    }
    assert.deepEqual(comparable(await bed.dump('appliance')), comparable(boot), 'routes restored as networkd made them');
    const again = await bed.listen('appliance', '192.168.0.1', 6443);
    try {
      assert.equal((await bed.connect('wiso', '192.168.0.1', 6443)).ok, true, 'works again once restored');
    } finally {
      await again.close();
    }
  });

  test('strict rp_filter on the appliance too: the routed paths still pass', async () => {
    await bed.sysctl('appliance', 'net.ipv4.conf.all.rp_filter', '1');
    const vip = await bed.listen('appliance', '192.168.0.1', 6443);
    const fe = await bed.listen('appliance', '172.16.10.2', 443);
    try {
      assert.equal((await bed.connect('wiso', '192.168.0.1', 6443)).ok, true);
      assert.equal((await bed.connect('fiso', '172.16.10.2', 443)).ok, true);
    } finally {
      await Promise.all([vip.close(), fe.close()]);
      await bed.sysctl('appliance', 'net.ipv4.conf.all.rp_filter', '0');
    }
  });

  test('networkd rerun (restart and reboot) gives the same routes; a second provision changes nothing', async () => {
    const want = comparable(boot);
    const restart = await bed.runNetworkd('appliance', root.unitDir, { until: 'static' });
    await restart.stop();
    assert.deepEqual(comparable(await bed.dump('appliance')), want);
    await bed.resetNetworkState('appliance');
    const reboot = await bed.runNetworkd('appliance', root.unitDir, { until: 'static' });
    await reboot.stop();
    assert.deepEqual(comparable(await bed.dump('appliance')), want);
    assert.match(root.provision().stdout, /: nothing to change, \d+ already up to date\n$/u);
  });
});

describe('network.search_domains with the management NIC on DHCP: the lease offers domains, the property replaces them', { skip }, () => {
  let bed: TestBed;
  let root: ProvisionedRoot;
  let dhcp: Dnsmasq | undefined;

  before(() => {
    bed = createTestBed();
    root = new ProvisionedRoot();
  });

  after(async () => {
    const id = bed?.id;
    await dhcp?.stop();
    await bed?.cleanup();
    root?.remove();
    await assertNothingLeft({ bedIds: [id] });
  });

  test('DOMAINS is the property alone, though the lease offers domains (options 15 and 119)', async () => {
    root.setEnv({
      properties: { ...SEED_PROPERTIES, ...NO_FRONTEND, 'network.management_ip': '', 'network.search_domains': 'corp.example.com' },
      adapters: ADAPTERS_2,
    });
    root.provision();
    await buildTopology(bed, { nics: ['management', 'workload'] });
    dhcp = await startDnsmasq(bed, 'mgw', 'gw-mgmt', '10.191.181.100,10.191.181.150,255.255.240.0,1h', SEED_NICS.management.gw, [
      '15,lease.example',
      '119,lease-search.example',
    ]);
    await bed.applyLinkFiles('appliance', root.unitDir);
    const leased = (l: NetworkdLinkState | undefined) => l?.adminState === 'configured';
    const nd = await bed.runNetworkd('appliance', root.unitDir, { until: (snap) => leased(snap.links.find((l) => l.name === 'management')) });
    const management = (await nd.links()).find((l) => l.name === 'management')!;
    const lease = ipv4Addrs(await bed.dump('appliance')).management ?? [];
    const warnings = unitWarnings(nd);
    await nd.stop();
    assert.deepEqual(warnings, []);
    assert.match(dhcp.log(), /domain-name\s+lease\.example/u, 'the lease offered its domain');
    assert.match(lease.join(' '), /^10\.191\.181\.1[0-5]\d\/20$/u, 'the NIC got its lease');
    assert.equal(management.raw.DOMAINS, 'corp.example.com', 'network.search_domains, not the lease');
    assert.ok(!/lease(-search)?\.example/u.test(JSON.stringify(management.raw)), `nothing of the lease's domains: ${JSON.stringify(management.raw)}`);

    // The test can fail: with UseDomains=yes in the unit, networkd does take the lease's domains.
    const unit = join(root.unitDir, '20-management.network');
    const text = readFileSync(unit, 'utf8');
    assert.match(text, /^UseDomains=no$/mu);
    writeFileSync(unit, text.replace(/^UseDomains=no$/mu, 'UseDomains=yes'));
    await bed.resetNetworkState('appliance');
    const nd2 = await bed.runNetworkd('appliance', root.unitDir, {
      until: async (snap) =>
        leased(snap.links.find((l) => l.name === 'management')) && /lease/u.test(snap.links.find((l) => l.name === 'management')!.raw.DOMAINS ?? ''),
    });
    const taken = (await nd2.links()).find((l) => l.name === 'management')!.raw.DOMAINS ?? '';
    await nd2.stop();
    assert.ok(taken.split(' ').includes('corp.example.com') && /lease(-search)?\.example/u.test(taken), taken);
  });
});
