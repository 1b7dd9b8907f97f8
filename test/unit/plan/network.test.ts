/** The network model and plan: tables, rules, VIP placement, AnyIP, DHCP, purity. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateProperties } from '../../../src/config/validate.js';
import { BAND_SIZE } from '../../../src/appliance/network-scheme.js';
import { SEED_PROPERTIES } from '../../harness/ovf.js';
import { networkModel, placeServiceRange, within, type RuleSpec } from '../../../src/plan/network.js';
import { PRIORITY, ROUTE_TABLE } from '../../../src/appliance/network-scheme.js';
import { NETWORK_PATHS as PATHS } from '../../../src/appliance/paths.js';
import { planNetwork } from '../../../src/plan/appliance.js';
import { SCENARIOS, scenarioConfig, scenarioNics, type Scenario } from '../../harness/scenarios.js';

const scenario = (name: string): Scenario => SCENARIOS.find((s) => s.name === name)!;
const modelOf = (name: string) => {
  const s = scenario(name);
  const config = scenarioConfig(s);
  return networkModel(config, scenarioNics(s, config));
};
const allRules = (name: string): RuleSpec[] => modelOf(name).nics.flatMap((n) => n.rules);
const ruleText = (r: RuleSpec) =>
  `${r.priority}: from ${r.from ?? 'all'}${r.to ? ` to ${r.to}` : ''} lookup ${r.table}${r.suppressPrefixLength !== undefined ? ` suppress_prefixlength ${r.suppressPrefixLength}` : ''}`;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

test('within: network containment', () => {
  assert.ok(within('192.168.0.0/24', '192.168.0.0/16'));
  assert.ok(within('192.168.0.0/16', '192.168.0.0/16'));
  assert.ok(!within('192.168.0.0/16', '192.168.0.0/24'));
  assert.ok(!within('172.16.10.0/24', '192.168.0.0/16'));
});

test('seed: the rules of the seed, each exactly once, in their priority bands', () => {
  assert.deepEqual(allRules('seed-frontend').map(ruleText).sort(), [
    '1000: from 192.168.0.0/24 lookup 200',
    '2000: from 192.168.0.0/16 lookup 200',
    '2001: from 172.16.10.0/24 lookup 201',
  ]);
});

test('every scenario: priorities distinct, rules unique, all before the main table', () => {
  for (const s of SCENARIOS) {
    const rules = allRules(s.name);
    const priorities = rules.map((r) => r.priority);
    assert.equal(new Set(priorities).size, priorities.length, `${s.name}: duplicate priority`);
    assert.equal(new Set(rules.map((r) => ruleText(r).replace(/^\d+: /u, ''))).size, rules.length, `${s.name}: duplicate rule`);
    for (const p of priorities) assert.ok(p > 0 && p < 32766, `${s.name}: priority ${p}`);
    // Each rule sits in the .network of the NIC whose table it names.
    for (const nic of modelOf(s.name).nics) for (const r of nic.rules) assert.equal(r.table, nic.table, `${s.name}: rule in ${nic.role}`);
  }
});

test('VIPs: a range inside a NIC subnet uses that NIC table; outside every subnet, the deployment VIP network', () => {
  const config = scenarioConfig(scenario('service-ranges'));
  const placed = config.loadbalance.serviceIpRanges.map((r) => placeServiceRange(config, r));
  assert.deepEqual(
    placed.map((p) => [p.range, p.role, p.table]),
    [
      ['192.168.0.0/24', 'workload', 200],
      ['172.16.10.128/25', 'frontend', 201],
      ['10.191.180.0/24', 'management', 'main'],
      ['10.200.0.0/24', 'frontend', 201],
    ],
  );
  // The management range needs no rule (main is management's table); the others get one each,
  // at 1000 + their index in loadbalance.service_ip_range.
  assert.deepEqual(
    allRules('service-ranges')
      .filter((r) => r.from && r.priority < 2000)
      .map(ruleText),
    ['1000: from 192.168.0.0/24 lookup 200', '1001: from 172.16.10.128/25 lookup 201', '1003: from 10.200.0.0/24 lookup 201'],
  );
  // Default deployment: outside every subnet means workload.
  const dhcp = scenarioConfig(scenario('dhcp-workload'));
  assert.equal(placeServiceRange(dhcp, '192.168.0.0/24').table, ROUTE_TABLE.workload);
  // All-DHCP frontend deployment: no subnet is known, so the frontend network.
  const all = scenarioConfig(scenario('dhcp-all'));
  assert.equal(placeServiceRange(all, '192.168.0.0/24').table, ROUTE_TABLE.frontend);
});

test('AnyIP: one local route on lo per service range, nothing else', () => {
  const m = modelOf('service-ranges');
  assert.deepEqual(
    m.anyip.map((r) => [r.destination, r.type, r.table]),
    [
      ['192.168.0.0/24', 'local', 'local'],
      ['172.16.10.128/25', 'local', 'local'],
      ['10.191.180.0/24', 'local', 'local'],
      ['10.200.0.0/24', 'local', 'local'],
    ],
  );
});

test('workload and frontend never route through the main table; management holds the only main default', () => {
  for (const s of SCENARIOS) {
    const m = modelOf(s.name);
    for (const nic of m.nics) {
      if (nic.role === 'management') {
        assert.equal(nic.table, undefined);
        assert.ok(
          nic.routes.every((r) => r.table === undefined),
          `${s.name}: management routes stay in main`,
        );
        continue;
      }
      assert.equal(nic.table, ROUTE_TABLE[nic.role]);
      assert.equal(nic.gateway, undefined, `${s.name}: ${nic.role} has no [Network] Gateway=`);
      assert.ok(
        nic.routes.filter((r) => !r.staticRoute).every((r) => r.table === nic.table),
        `${s.name}: ${nic.role} routes all in table ${nic.table}`,
      );
      // network.static_routes: never a default; each in the NIC's table and, the same, in main.
      const statics = nic.routes.filter((r) => r.staticRoute);
      assert.ok(
        statics.every((r) => r.destination && r.gateway && (r.table === nic.table || r.table === undefined)),
        `${s.name}: ${nic.role} static routes`,
      );
      const inTable = statics.filter((r) => r.table === nic.table).map((r) => `${r.destination} via ${r.gateway}`);
      const inMain = statics.filter((r) => r.table === undefined).map((r) => `${r.destination} via ${r.gateway}`);
      assert.deepEqual(inMain, inTable, `${s.name}: ${nic.role} static routes in table ${nic.table} and main alike`);
      if (nic.dhcp)
        assert.ok(
          nic.dhcpv4.some((d) => d.key === 'RouteTable' && d.value === String(nic.table)),
          `${s.name}: ${nic.role} DHCP routes in its table`,
        );
    }
  }
});

test('static policy NIC: link route + default in its table, one subnet rule', () => {
  const wl = modelOf('seed-frontend').nics.find((n) => n.role === 'workload')!;
  assert.deepEqual(
    wl.routes.map((r) => [r.destination ?? 'default', r.gateway, r.scope, r.preferredSource, r.table]),
    [
      ['192.168.0.0/16', undefined, 'link', '192.168.1.2', 200],
      ['default', '192.168.1.1', undefined, undefined, 200],
    ],
  );
  assert.equal(wl.rules.filter((r) => r.priority === PRIORITY.subnet.workload).length, 1);
});

test('DHCP policy NIC: RouteTable=, a suppress_prefixlength 0 rule for the lease link route, explicit gateway wins', () => {
  const wl = modelOf('dhcp-workload').nics.find((n) => n.role === 'workload')!;
  assert.equal(wl.dhcp, true);
  assert.deepEqual(Object.fromEntries(wl.dhcpv4.map((d) => [d.key, d.value])), {
    ClientIdentifier: 'mac',
    RouteTable: '200',
    UseGateway: 'no',
    UseDNS: 'no',
    UseNTP: 'no',
    UseHostname: 'no',
  });
  assert.deepEqual(
    wl.routes.map((r) => [r.gateway, r.gatewayOnLink, r.table]),
    [['192.168.1.1', true, 200]],
  );
  assert.ok(wl.rules.some((r) => r.priority === PRIORITY.dhcpLinkRoutes.workload && r.suppressPrefixLength === 0 && !r.from && !r.to));
  const fe = modelOf('dhcp-all').nics.find((n) => n.role === 'frontend')!;
  assert.deepEqual(fe.routes, [], 'no gateway given: DHCP supplies it, into table 201');
  assert.ok(!fe.dhcpv4.some((d) => d.key === 'UseGateway'));
});

test('management: static DNS and search domain from the FQDN; DHCP management takes DNS only when none is given', () => {
  const mg = modelOf('seed-frontend').nics[0]!;
  assert.deepEqual([mg.address, mg.gateway, mg.dns, mg.domains], ['10.191.181.52/20', '10.191.191.254', ['10.170.16.48', '10.142.7.1'], ['local']]);
  const dm = modelOf('dhcp-all').nics[0]!;
  assert.equal(dm.dhcp, true);
  assert.deepEqual(dm.dns, []);
  assert.ok(!dm.dhcpv4.some((d) => d.key === 'UseDNS'), 'no nameservers given: DNS from DHCP');
  assert.ok(
    dm.dhcpv4.some((d) => d.key === 'UseGateway' && d.value === 'no'),
    'management_gateway given: it wins over DHCP',
  );
  assert.deepEqual(
    dm.routes.map((r) => [r.gateway, r.gatewayOnLink, r.table]),
    [['10.191.191.254', true, undefined]],
  );
});

test('static routes: on the NIC whose subnet holds the gateway; management in main, workload/frontend in their table and main', () => {
  const m = modelOf('static-routes');
  assert.deepEqual(m.staticRoutes, [
    { destination: '10.20.0.0/16', gateway: '192.168.1.254', role: 'workload', tables: [200, 'main'] },
    { destination: '172.16.5.0/24', gateway: '172.16.10.254', role: 'frontend', tables: [201, 'main'] },
    { destination: '10.30.0.0/24', gateway: '10.191.191.253', role: 'management', tables: ['main'] },
  ]);
  const routes = (role: string) =>
    m.nics
      .find((n) => n.role === role)!
      .routes.filter((r) => r.staticRoute)
      .map((r) => `${r.destination} via ${r.gateway} table ${r.table ?? 'main'}`);
  assert.deepEqual(routes('management'), ['10.30.0.0/24 via 10.191.191.253 table main']);
  assert.deepEqual(routes('workload'), ['10.20.0.0/16 via 192.168.1.254 table 200', '10.20.0.0/16 via 192.168.1.254 table main']);
  assert.deepEqual(routes('frontend'), ['172.16.5.0/24 via 172.16.10.254 table 201', '172.16.5.0/24 via 172.16.10.254 table main']);
  // No rule is added for them: the subnet and VIP rules already send replies to the NIC's table.
  assert.deepEqual(
    m.nics.map((n) => n.rules.length),
    modelOf('seed-frontend').nics.map((n) => n.rules.length),
  );
});

test('search domains replace the host name domain; with DHCP management the lease domains are not used (UseDomains=no)', () => {
  assert.deepEqual(modelOf('static-routes').nics[0]!.domains, ['corp.example.com', 'lab.example']);
  assert.ok(!modelOf('static-routes').nics[0]!.dhcpv4.length);
  const s = scenario('dhcp-all');
  const config = scenarioConfig({ ...s, properties: { ...s.properties, 'network.search_domains': 'corp.example.com' } });
  const mg = networkModel(config, scenarioNics(s, config)).nics[0]!;
  assert.deepEqual(mg.domains, ['corp.example.com']);
  assert.ok(mg.dhcpv4.some((d) => d.key === 'UseDomains' && d.value === 'no'));
  assert.ok(!modelOf('dhcp-all').nics[0]!.dhcpv4.some((d) => d.key === 'UseDomains'), 'unchanged without the property');
  for (const n of networkModel(config, scenarioNics(s, config)).nics.slice(1)) assert.deepEqual(n.domains, [], `${n.role}: no domains`);
});

test('additional workload networks: one `to` rule each into the workload table', () => {
  assert.deepEqual(
    allRules('additional-workload-networks')
      .filter((r) => r.to)
      .map(ruleText),
    ['4000: from all to 10.50.0.0/16 lookup 200', '4001: from all to 10.60.8.0/22 lookup 200'],
  );
});

test('hostname and hosts', () => {
  assert.deepEqual(modelOf('seed-frontend').hostname, { static: 'haproxy.local', fqdn: 'haproxy.local', short: 'haproxy', hostsAddress: '10.191.181.52' });
  assert.deepEqual(modelOf('dhcp-all').hostname, { static: 'lb01', fqdn: 'lb01', short: 'lb01', hostsAddress: '127.0.1.1' });
  const config = scenarioConfig(scenario('seed-frontend'));
  const long = `${'a'.repeat(40)}.${'b'.repeat(40)}.example.com`;
  const m = networkModel({ ...config, network: { ...config.network, hostname: long } }, scenarioNics(scenario('seed-frontend'), config));
  assert.equal(m.hostname.static, 'a'.repeat(40), 'over 64 characters: /etc/hostname gets the first label');
});

test('plan: pure and deterministic; files 0644 without secrets; what it does not write it removes', () => {
  for (const s of SCENARIOS) {
    const config = deepFreeze(scenarioConfig(s));
    const nics = deepFreeze(scenarioNics(s, config));
    const a = planNetwork(config, nics);
    const b = planNetwork(config, nics);
    assert.deepEqual(a, b);
    for (const f of a.files) {
      assert.equal(f.mode, 0o644, f.path);
      assert.ok(!f.secret, f.path);
      assert.ok(f.content.endsWith('\n'), `${f.path} ends with a newline`);
      assert.ok(!f.content.includes('undefined') && !f.content.includes('[object'), `${s.name}${f.path}`);
    }
    const written = new Set(a.files.map((f) => f.path));
    for (const p of a.remove) assert.ok(!written.has(p));
    assert.deepEqual(a.renames, [], 'no live names known: nothing to rename');
  }
  const def = planNetwork(scenarioConfig(scenario('default-2nic')), scenarioNics(scenario('default-2nic'), scenarioConfig(scenario('default-2nic'))));
  assert.ok(def.remove.includes(PATHS.network('frontend')) && def.remove.includes(PATHS.link('frontend')) && def.remove.includes(PATHS.timesyncd));
});

test('every NIC unit is IPv4 only: online with its IPv4 address, no IPv6 link-local address, no router advertisement', () => {
  // With IPv6 on, networkd (252, bookworm) holds a static link in "configuring" until duplicate
  // address detection of the link-local address and, without a router, until its router
  // solicitations time out (~12 s): wait-online, and sshd after it, waited that long.
  for (const s of SCENARIOS) {
    const config = scenarioConfig(s);
    const units = planNetwork(config, scenarioNics(s, config)).files.filter((f) => f.path.endsWith('.network') && f.content.includes('MACAddress='));
    assert.ok(units.length >= 2, `${s.name}: a unit per NIC`);
    for (const u of units) {
      const lines = u.content.split('\n');
      const section = (name: string) => {
        const start = lines.indexOf(`[${name}]`);
        assert.ok(start >= 0, `${s.name}${u.path}: [${name}]`);
        const end = lines.findIndex((l, i) => i > start && l.startsWith('['));
        return lines.slice(start + 1, end < 0 ? undefined : end);
      };
      assert.ok(section('Link').includes('RequiredFamilyForOnline=ipv4'), `${s.name}${u.path}`);
      for (const l of ['LinkLocalAddressing=no', 'IPv6AcceptRA=no']) assert.ok(section('Network').includes(l), `${s.name}${u.path}: ${l}`);
    }
  }
});

test('plan renames live NICs that do not carry their role name yet', () => {
  const s = scenario('seed-frontend');
  const config = scenarioConfig(s);
  const nics = scenarioNics(s, config).map((n, i) => ({ ...n, currentName: i === 0 ? 'management' : `ens${192 + i}` }));
  assert.deepEqual(planNetwork(config, nics).renames, [
    { from: 'ens193', to: 'workload' },
    { from: 'ens194', to: 'frontend' },
  ]);
});

test('more list items than a priority band holds are refused by validation, not by the model', () => {
  // The model assumes valid input (no input rule lives in planning): validation caps the lists.
  const nets = Array.from({ length: BAND_SIZE + 1 }, (_, i) => `10.${100 + (i >> 8)}.${i & 255}.0/24`).join(',');
  const r = validateProperties({ ...SEED_PROPERTIES, 'network.additional_workload_networks': nets });
  assert.ok(
    r.problems.some((p) => p.at === 'network.additional_workload_networks' && p.code === 'too-many-items' && /at most 1000/u.test(p.message)),
    JSON.stringify(r.problems),
  );
});
