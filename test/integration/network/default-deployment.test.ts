/**
 * Integration proof of the network feature for the default (2-NIC: management + workload)
 * deployment, with the units the REAL CLI writes (`dist/bin.js provision --root`) run by the
 * REAL systemd-networkd 252 in network namespaces. One bed and one sandbox root for the whole
 * file, reconfigured phase by phase as an admin would (new OVF environment, provision again,
 * then networkd after a "reboot" of the namespace's network state):
 *
 *   1. static workload address (test/golden/plan/default-2nic);
 *   2. additional workload networks (10.50.0.0/16 holds a real backend behind the workload router);
 *   3. workload by DHCP from a real dnsmasq, with network.workload_gateway given;
 *   4. workload by DHCP, the lease's router as the workload gateway.
 *
 * Clients sit behind the workload router (10.99.0.0/24); the management gateway knows no client
 * subnet and does not forward, so a reply that leaves by management is lost (and counted).
 *
 * Build first: `npx tsc -p .` (the CLI is run from dist/).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { canRunNetworkBeds, createTestBed, type NetDump, type NetworkdHandle, type TestBed } from '../../harness/netns.js';
import { assertNothingLeft } from '../../harness/leak-guard.js';
import { SEED_MACS, SEED_PROPERTIES } from '../../harness/ovf.js';
import {
  ADAPTERS_2,
  BACKEND,
  buildTopology,
  CLIENT,
  ipv4Addrs,
  mgwDropped,
  NO_FRONTEND,
  ProvisionedRoot,
  routeGet,
  routesPresent,
  ruleLines,
  SEED_MAIN_TABLE,
  since,
  startDnsmasq,
  table,
  tryBind,
  withoutRules,
  type Dnsmasq,
  unitWarnings,
} from '../../harness/netbed-appliance.js';

const can = await canRunNetworkBeds();
const skip = can.ok ? false : `cannot run network beds here: ${can.reason}`;

const DEFAULT_PROPS = { ...SEED_PROPERTIES, ...NO_FRONTEND };
const KERNEL_RULES_HEAD = ['0: from all lookup local'];
const KERNEL_RULES_TAIL = ['32766: from all lookup main', '32767: from all lookup default'];
const MGMT_MAIN = SEED_MAIN_TABLE.filter((l) => !l.includes('workload') && !l.includes('frontend')).sort();

describe('default deployment (2 NICs): CLI units on the real systemd-networkd', { skip }, () => {
  let bed: TestBed;
  let root: ProvisionedRoot;
  const t0 = Date.now();

  /**
   * Provision the root for `properties`, then boot networkd on a reset namespace. networkd is
   * stopped afterwards (static config stays in the kernel) unless `keep`: a DHCP client
   * releases its lease and removes its routes when networkd stops, so DHCP phases keep it
   * running (as on the appliance) and stop it in their after().
   */
  async function reconfigure(
    properties: Record<string, string>,
    until: Parameters<TestBed['runNetworkd']>[2] = { until: 'static' },
    keep = false,
  ): Promise<{ d: NetDump; nd: NetworkdHandle }> {
    root.setEnv({ properties, adapters: ADAPTERS_2 });
    root.provision();
    await bed.resetNetworkState('appliance');
    const nd = await bed.runNetworkd('appliance', root.unitDir, until);
    const warnings = unitWarnings(nd);
    if (!keep) await nd.stop();
    assert.deepEqual(warnings, [], 'networkd accepts every line of the units');
    console.log(`networkd ready after ${nd.readyAfterMs} ms`);
    return { d: await bed.dump('appliance'), nd };
  }

  /** One TCP connection from `ns` to a listener on the appliance's host:port. */
  async function reach(ns: string, host: string, port: number, timeoutMs = 5_000) {
    const srv = await bed.listen('appliance', host, port);
    try {
      return await bed.connect(ns, host, port, { timeoutMs });
    } finally {
      await srv.close();
    }
  }

  before(async () => {
    bed = createTestBed();
    root = new ProvisionedRoot();
    await buildTopology(bed, { nics: ['management', 'workload'], backend: true });
  });

  after(async () => {
    const id = bed?.id;
    await bed?.cleanup();
    root?.remove();
    await assertNothingLeft({ bedIds: [id] });
    console.log(`default-deployment file done in ${since(t0)}`);
  });

  describe('1. static workload address', () => {
    let d: NetDump;
    let renames: Array<{ from: string; to: string }>;
    before(async () => {
      root.setEnv({ properties: DEFAULT_PROPS, adapters: ADAPTERS_2 });
      const r = root.provision();
      assert.match(r.stderr, /NICs from the OVF environment's adapters .*: management 00:50:56:b1:20:5e, workload 00:50:56:b1:8d:33$/mu);
      renames = await bed.applyLinkFiles('appliance', root.unitDir);
      ({ d } = await reconfigure(DEFAULT_PROPS));
    });

    test('kernel-named NICs are renamed by the .link files; no frontend units', () => {
      assert.deepEqual(renames, [
        { from: 'eth0', to: 'management' },
        { from: 'eth1', to: 'workload' },
      ]);
      assert.deepEqual(Object.fromEntries(d.addrs.filter((l) => l.ifname !== 'lo').map((l) => [l.ifname, l.address])), {
        management: SEED_MACS.management,
        workload: SEED_MACS.workload,
      });
      assert.ok(!root.snapshot().has('/etc/systemd/network/20-frontend.network'));
    });

    test("main table = the seed's without frontend; table 200; rules once each; AnyIP", async () => {
      assert.deepEqual(table(d, 'main'), SEED_MAIN_TABLE.filter((l) => !l.includes('frontend')).sort());
      assert.deepEqual(table(d, '200'), ['192.168.0.0/16 dev workload table 200 scope link src 192.168.1.2', 'default via 192.168.1.1 dev workload table 200']);
      assert.deepEqual(table(d, '201'), []);
      assert.deepEqual(ruleLines(d), [
        ...KERNEL_RULES_HEAD,
        '1000: from 192.168.0.0/24 lookup 200',
        '2000: from 192.168.0.0/16 lookup 200',
        ...KERNEL_RULES_TAIL,
      ]);
      assert.ok(table(d, 'local').includes('local 192.168.0.0/24 dev lo table local scope host'));
      assert.equal(await tryBind(bed, 'appliance', '192.168.0.1', 6443), 'ok');
      assert.equal(await tryBind(bed, 'appliance', '192.168.1.200', 6443), 'EADDRNOTAVAIL');
    });

    test('a workload client behind the router reaches VIP 192.168.0.1:6443; without rules 1000+2000 it cannot', async () => {
      const ok = await reach('wclient', '192.168.0.1', 6443);
      assert.equal(ok.ok, true, ok.error);
      assert.deepEqual([ok.reply?.localAddress, ok.reply?.remoteAddress], ['192.168.0.1', CLIENT.workload]);
      await withoutRules(bed, 'appliance', [1000, 2000], async () => {
        const lost0 = await mgwDropped(bed);
        const r = await reach('wclient', '192.168.0.1', 6443, 1_000);
        assert.deepEqual([r.ok, r.error], [false, 'ETIMEDOUT']);
        assert.ok((await mgwDropped(bed)) - lost0 >= 1, 'the reply went to the management gateway');
      });
      assert.equal((await reach('wclient', '192.168.0.1', 6443)).ok, true, 'works again once the rules are back');
    });
  });

  describe('2. additional workload networks', () => {
    let d: NetDump;
    before(async () => {
      ({ d } = await reconfigure({ ...DEFAULT_PROPS, 'network.additional_workload_networks': '10.50.0.0/16, 10.60.8.0/22' }));
    });

    test('`to` rules 4000/4001 send the networks through the workload gateway; nothing else moves', async () => {
      assert.deepEqual(ruleLines(d), [
        ...KERNEL_RULES_HEAD,
        '1000: from 192.168.0.0/24 lookup 200',
        '2000: from 192.168.0.0/16 lookup 200',
        '4000: from all to 10.50.0.0/16 lookup 200',
        '4001: from all to 10.60.8.0/22 lookup 200',
        ...KERNEL_RULES_TAIL,
      ]);
      assert.deepEqual(table(d, 'main'), SEED_MAIN_TABLE.filter((l) => !l.includes('frontend')).sort());
      assert.equal(await routeGet(bed, 'appliance', '10.50.1.1'), 'via 192.168.1.1 dev workload table 200 src 192.168.1.2');
      assert.equal(await routeGet(bed, 'appliance', '10.60.11.254'), 'via 192.168.1.1 dev workload table 200 src 192.168.1.2');
      assert.equal(await routeGet(bed, 'appliance', '10.60.12.1'), 'via 10.191.191.254 dev management table main src 10.191.181.52');
    });

    test('the appliance (unbound socket, as haproxy to a backend) reaches a backend in 10.50.0.0/16; without rule 4000 it cannot', async () => {
      const srv = await bed.listen('backend', BACKEND, 6443);
      try {
        const r = await bed.connect('appliance', BACKEND, 6443);
        assert.equal(r.ok, true, r.error);
        assert.equal(r.reply?.remoteAddress, '192.168.1.2', 'from the workload address, through the workload router');
        await withoutRules(bed, 'appliance', [4000], async () => {
          const lost0 = await mgwDropped(bed);
          const bad = await bed.connect('appliance', BACKEND, 6443, { timeoutMs: 1_000 });
          assert.deepEqual([bad.ok, bad.error], [false, 'ETIMEDOUT']);
          assert.ok((await mgwDropped(bed)) - lost0 >= 1, 'the SYN went to the management gateway');
        });
        assert.equal((await bed.connect('appliance', BACKEND, 6443)).ok, true);
      } finally {
        await srv.close();
      }
      // A workload client still reaches the VIP (the `to` rules come after the `from` rules).
      assert.equal((await reach('wclient', '192.168.0.1', 6443)).ok, true);
    });
  });

  describe('3. workload by DHCP (dnsmasq), network.workload_gateway given', () => {
    let d: NetDump;
    let dhcp: Dnsmasq | undefined;
    let nd: NetworkdHandle | undefined;
    let lease = '';
    before(async () => {
      dhcp = await startDnsmasq(bed, 'wrouter', 'wr-wl', '192.168.1.100,192.168.1.150,255.255.0.0,1h', '192.168.1.1');
      const t = Date.now();
      ({ d, nd } = await reconfigure(
        { ...DEFAULT_PROPS, 'network.workload_ip': '' },
        {
          until: routesPresent({
            '200': [
              /^192\.168\.0\.0\/16 dev workload table 200 scope link src 192\.168\.1\.1\d\d metric 1024$/u,
              'default via 192.168.1.1 dev workload table 200',
            ],
            main: MGMT_MAIN,
            local: ['local 192.168.0.0/24 dev lo table local scope host'],
          }),
        },
        true,
      ));
      lease = (ipv4Addrs(d).workload ?? [])[0] ?? '';
      console.log(`DHCP lease ${lease} configured ${since(t)} after provisioning`);
    });
    after(async () => {
      await nd?.stop();
      await dhcp?.stop();
    });

    test('the lease from the real DHCP server lands on workload; its routes in table 200 only', () => {
      assert.match(lease, /^192\.168\.1\.1\d\d\/16$/u);
      assert.match(dhcp!.leases(), new RegExp(` ${SEED_MACS.workload} ${lease.split('/')[0]!.replace(/\./gu, '\\.')} `, 'u'));
      assert.deepEqual(table(d, 'main'), MGMT_MAIN, 'no workload route in main (noprefixroute), one default route');
      const ip = lease.split('/')[0];
      assert.deepEqual(
        table(d, '200'),
        [`192.168.0.0/16 dev workload table 200 scope link src ${ip} metric 1024`, 'default via 192.168.1.1 dev workload table 200'].sort(),
      );
      assert.deepEqual(ruleLines(d), [
        ...KERNEL_RULES_HEAD,
        '1000: from 192.168.0.0/24 lookup 200',
        '3000: from all lookup 200 suppress_prefixlength 0',
        ...KERNEL_RULES_TAIL,
      ]);
    });

    test('on-link workload hosts are reached directly (rule 3000); off-link via the workload gateway only from the VIPs', async () => {
      assert.equal(await routeGet(bed, 'appliance', '192.168.7.7'), `dev workload table 200 src ${lease.split('/')[0]}`);
      assert.equal(await routeGet(bed, 'appliance', '203.0.113.10 from 192.168.0.1'), 'via 192.168.1.1 dev workload table 200');
      assert.equal(await routeGet(bed, 'appliance', '203.0.113.10'), 'via 10.191.191.254 dev management table main src 10.191.181.52');
    });

    test('traffic: client behind the router -> VIP; router (on-link) -> the leased address; without rule 1000 the VIP fails', async () => {
      const v = await reach('wclient', '192.168.0.1', 6443);
      assert.equal(v.ok, true, v.error);
      assert.equal(v.reply?.remoteAddress, CLIENT.workload);
      const ip = lease.split('/')[0]!;
      const own = await reach('wrouter', ip, 22);
      assert.equal(own.ok, true, own.error);
      await withoutRules(bed, 'appliance', [1000], async () => {
        const r = await reach('wclient', '192.168.0.1', 6443, 1_000);
        assert.deepEqual([r.ok, r.error], [false, 'ETIMEDOUT']);
      });
    });
  });

  describe("4. workload by DHCP, the lease's router as the workload gateway", () => {
    let d: NetDump;
    let dhcp: Dnsmasq | undefined;
    let nd: NetworkdHandle | undefined;
    before(async () => {
      dhcp = await startDnsmasq(bed, 'wrouter', 'wr-wl', '192.168.1.100,192.168.1.150,255.255.0.0,1h', '192.168.1.1');
      ({ d, nd } = await reconfigure(
        { ...DEFAULT_PROPS, 'network.workload_ip': '', 'network.workload_gateway': '' },
        {
          until: routesPresent({
            '200': [/^192\.168\.0\.0\/16 dev workload table 200 scope link src /u, /^default via 192\.168\.1\.1 dev workload table 200/u],
            main: MGMT_MAIN,
          }),
        },
        true,
      ));
    });
    after(async () => {
      await nd?.stop();
      await dhcp?.stop();
    });

    test("the lease's default route goes to table 200, never to main", async () => {
      assert.deepEqual(table(d, 'main'), MGMT_MAIN);
      const ip = ((ipv4Addrs(d).workload ?? [])[0] ?? '').split('/')[0]!;
      assert.match(ip, /^192\.168\.1\.1\d\d$/u);
      assert.deepEqual(table(d, '200'), [
        `192.168.0.0/16 dev workload table 200 scope link src ${ip} metric 1024`,
        `192.168.1.1 dev workload table 200 scope link src ${ip} metric 1024`,
        `default via 192.168.1.1 dev workload table 200 src ${ip} metric 1024`,
      ]);
      assert.deepEqual(ruleLines(d), [
        ...KERNEL_RULES_HEAD,
        '1000: from 192.168.0.0/24 lookup 200',
        '3000: from all lookup 200 suppress_prefixlength 0',
        ...KERNEL_RULES_TAIL,
      ]);
      const v = await reach('wclient', '192.168.0.1', 6443);
      assert.equal(v.ok, true, v.error);
    });
  });
});
