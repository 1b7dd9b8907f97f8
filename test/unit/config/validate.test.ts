import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseOvfEnvironment } from '../../../src/ingest/ovf-env.js';
import { redact, validateProperties } from '../../../src/config/validate.js';
import { repairPem } from '../../../src/config/normalize.js';
import { BAD_INPUTS, SEED_ADAPTERS, TWO_ADAPTERS } from '../../harness/bad-inputs.js';
import { DEFAULT_ENV_FILE, SEED_ENV_FILE, SEED_PROPERTIES, fixture, ovfEnv } from '../../harness/ovf.js';

/** Ingest + validate, the way `validate` does, from an XML document. */
function check(xml: string, deployment?: 'default' | 'frontend') {
  const env = parseOvfEnvironment(xml, 'test');
  return validateProperties(env.properties, { ...(env.adapters.length && { adapterCount: env.adapters.length }), ...(deployment && { deployment }) });
}

test('the seed 3-NIC environment validates to the seed configuration', () => {
  const r = check(readFileSync(SEED_ENV_FILE, 'utf8'));
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.warnings, []);
  const c = r.config!;
  assert.equal(c.deployment, 'frontend');
  assert.deepEqual(c.network.management, {
    role: 'management',
    address: { address: '10.191.181.52', prefix: 20, cidr: '10.191.181.52/20', network: '10.191.176.0/20' },
    gateway: '10.191.191.254',
  });
  assert.equal(c.network.workload.address?.network, '192.168.0.0/16');
  assert.equal(c.network.frontend?.address?.network, '172.16.10.0/24');
  assert.deepEqual(c.network.nameservers, ['10.170.16.48', '10.142.7.1']);
  assert.deepEqual(c.loadbalance, { serviceIpRanges: ['192.168.0.0/24'], dataplanePort: 5556, haproxyUser: 'wcp', haproxyPassword: 'vmware' });
  assert.equal(c.appliance.permitRootLogin, true);
  assert.equal(c.appliance.caCert, undefined);
});

test('the 2-NIC fixture validates: null means unset, PEM pasted with spaces and base64 PEM are repaired, odd passwords survive', () => {
  const r = check(readFileSync(DEFAULT_ENV_FILE, 'utf8'));
  assert.deepEqual(r.problems, []);
  const c = r.config!;
  assert.equal(c.deployment, 'default');
  assert.equal(c.network.frontend, undefined);
  assert.equal(c.appliance.permitRootLogin, false);
  assert.equal(c.appliance.rootPassword, '--200p@ssword');
  assert.equal(c.loadbalance.haproxyPassword, 's&cr"t $pa\\ss');
  assert.equal(c.appliance.caCert, fixture('pki/ca.crt'));
  assert.equal(c.appliance.caKey, fixture('pki/ca.key'));
  assert.deepEqual(c.loadbalance.serviceIpRanges, ['10.20.30.64/26', '10.20.30.128/27']);
  assert.deepEqual(c.network.additionalWorkloadNetworks, ['10.30.0.0/16']);
  assert.deepEqual(c.network.ntpServers, ['ntp1.corp.example', '10.10.0.3']);
});

test(`${BAD_INPUTS.length} bad inputs: each is reported at its property, by its rule, with the reason`, async (t) => {
  assert.ok(BAD_INPUTS.length >= 30);
  for (const bad of BAD_INPUTS) {
    await t.test(bad.name, () => {
      const props = { ...SEED_PROPERTIES, ...bad.set };
      for (const k of bad.unset ?? []) delete props[k];
      const r = check(ovfEnv(props, bad.adapters ?? SEED_ADAPTERS), bad.deployment);
      assert.equal(r.config, undefined, 'a bad input must not produce a configuration');
      const hit = r.problems.find((p) => p.at === bad.at && p.code === bad.code);
      assert.ok(hit, `expected ${bad.at} ${bad.code}, got ${JSON.stringify(r.problems)}`);
      assert.equal(hit.severity, 'error');
      assert.match(hit.message, bad.reason);
    });
  }
});

test('every problem is reported at once', () => {
  const r = check(
    ovfEnv(
      {
        ...SEED_PROPERTIES,
        'network.management_gateway': '10.0.0.1',
        'network.hostname': 'bad_host',
        'loadbalance.dataplane_port': '0',
        'loadbalance.service_ip_range': '1.2.3.4/28',
      },
      SEED_ADAPTERS,
    ),
  );
  assert.deepEqual(r.problems.map((p) => `${p.at} ${p.code}`).sort(), [
    'loadbalance.dataplane_port not-port',
    'loadbalance.service_ip_range host-bits-set',
    'network.hostname hostname-bad-label',
    'network.management_gateway gateway-outside-subnet',
  ]);
});

test('frontend properties in a 2-NIC deployment are ignored with a warning', () => {
  const r = check(ovfEnv(SEED_PROPERTIES, TWO_ADAPTERS));
  assert.deepEqual(r.problems, []);
  assert.equal(r.config!.deployment, 'default');
  assert.equal(r.config!.network.frontend, undefined);
  const ignored = r.warnings.find((w) => w.at === 'network.frontend_ip' && w.code === 'ignored-in-deployment');
  assert.ok(ignored, JSON.stringify(r.warnings));
  assert.equal(ignored.severity, 'warning');
  assert.match(ignored.message, /^ignored in the default deployment/);
});

test('without adapters the deployment follows the frontend properties', () => {
  assert.equal(validateProperties(SEED_PROPERTIES).config!.deployment, 'frontend');
  const { 'network.frontend_ip': _ip, 'network.frontend_gateway': _gw, ...two } = SEED_PROPERTIES;
  assert.equal(validateProperties(two).config!.deployment, 'default');
  assert.equal(validateProperties(two, { deployment: 'frontend' }).config!.network.frontend?.address, undefined, 'frontend by DHCP');
});

test('unknown keys are a warning, never a failure', () => {
  const r = validateProperties({ ...SEED_PROPERTIES, 'vami.DNS.haproxy': '1.1.1.1' });
  assert.ok(r.config);
  assert.deepEqual(r.warnings, [{ at: 'vami.DNS.haproxy', code: 'unknown-property', severity: 'warning', message: 'unknown property, ignored' }]);
});

test('normalization: True/true/1 booleans, literal null, space or comma lists, defaults', () => {
  for (const [raw, want] of [
    ['True', true],
    ['true', true],
    ['1', true],
    ['False', false],
    ['false', false],
    ['0', false],
    ['null', true],
    ['', true],
  ] as const) {
    assert.equal(validateProperties({ ...SEED_PROPERTIES, 'appliance.permit_root_login': raw }).config!.appliance.permitRootLogin, want, raw);
  }
  const c = validateProperties({
    ...SEED_PROPERTIES,
    'network.nameservers': ' 10.1.1.1  10.1.1.2,10.1.1.3 ',
    'loadbalance.dataplane_port': 'null',
    'network.hostname': '  HAProxy.Local ',
  }).config!;
  assert.deepEqual(c.network.nameservers, ['10.1.1.1', '10.1.1.2', '10.1.1.3']);
  assert.equal(c.loadbalance.dataplanePort, 5556);
  assert.equal(c.network.hostname, 'haproxy.local');
  const d = validateProperties({ ...SEED_PROPERTIES, 'network.nameservers': 'null', 'network.hostname': '' }).config!;
  assert.deepEqual(d.network.nameservers, []);
  assert.equal(d.network.hostname, 'haproxy.local');
});

test('passwords may hold any printable character and keep their spaces', () => {
  for (const pwd of ['--200p@ssword', '"quoted"', "it's $HOME", 'back\\slash', ' lead and trail ', 'pässwörd✓']) {
    const c = validateProperties({ ...SEED_PROPERTIES, 'loadbalance.haproxy_pwd': pwd }).config;
    assert.ok(c, pwd);
    assert.equal(c.loadbalance.haproxyPassword, pwd);
  }
});

test('PEM repair: spaces for newlines, CRLF, base64 of the document, chains', () => {
  const crt = fixture('pki/ca.crt');
  assert.equal(repairPem(crt.replace(/\n/g, ' ')), crt);
  assert.equal(repairPem(crt.replace(/\n/g, '\r\n')), crt);
  assert.equal(repairPem(Buffer.from(crt).toString('base64')), crt);
  const chain = crt + fixture('pki/other-ca.crt');
  assert.equal(repairPem(chain.replace(/\n/g, ' ')), chain);
  assert.equal(repairPem('no pem here'), undefined);
  const rsa = fixture('pki/ca-rsa-traditional.key');
  assert.equal(repairPem(rsa.replace(/\n/g, ' ')), rsa);
});

test('a traditional RSA CA key is accepted', () => {
  const c = validateProperties({
    ...SEED_PROPERTIES,
    'appliance.ca_cert': fixture('pki/ca.crt'),
    'appliance.ca_cert_key': fixture('pki/ca-rsa-traditional.key'),
  }).config;
  assert.ok(c);
});

test('redact hides every secret and nothing else', () => {
  const c = validateProperties({ ...SEED_PROPERTIES, 'appliance.ca_cert': fixture('pki/ca.crt'), 'appliance.ca_cert_key': fixture('pki/ca.key') }).config!;
  const text = JSON.stringify(redact(c));
  assert.ok(!text.includes('vmware'), 'passwords are redacted');
  assert.ok(!text.includes('PRIVATE KEY'), 'the CA key is redacted');
  assert.ok(text.includes('BEGIN CERTIFICATE'), 'the certificate is not a secret');
  assert.ok(text.includes('10.191.181.52'));
});

test('network.static_routes: CIDR via GATEWAY entries, commas between them, any spacing and case of via; blank is none', () => {
  const c = validateProperties({
    ...SEED_PROPERTIES,
    'network.static_routes': ' 10.20.0.0/16 via 192.168.1.254 ,172.16.5.0/24  VIA  172.16.10.254,, 10.30.0.0/24 Via 10.191.191.253, ',
  }).config!;
  assert.deepEqual(c.network.staticRoutes, [
    { destination: '10.20.0.0/16', gateway: '192.168.1.254' },
    { destination: '172.16.5.0/24', gateway: '172.16.10.254' },
    { destination: '10.30.0.0/24', gateway: '10.191.191.253' },
  ]);
  for (const blank of ['', 'null', '  '])
    assert.deepEqual(validateProperties({ ...SEED_PROPERTIES, 'network.static_routes': blank }).config!.network.staticRoutes, []);
  // 100 routes, the limit, are accepted; two to the same network via different gateways overlap.
  const hundred = Array.from({ length: 100 }, (_, i) => `10.${100 + (i >> 8)}.${i & 255}.0/24 via 192.168.1.254`).join(', ');
  assert.equal(validateProperties({ ...SEED_PROPERTIES, 'network.static_routes': hundred }).config!.network.staticRoutes.length, 100);
  const twice = validateProperties({ ...SEED_PROPERTIES, 'network.static_routes': '10.20.0.0/16 via 192.168.1.254, 10.20.0.0/16 via 172.16.10.254' });
  assert.deepEqual(
    twice.problems.map((p) => [p.at, p.code]),
    [['network.static_routes', 'routes-overlap']],
  );
});

test('network.static_routes: each bad entry is named, up to the per-property cap', () => {
  const r = validateProperties({ ...SEED_PROPERTIES, 'network.static_routes': '10.20.0.0/16, 10.21.0.0/16 via x, 10.22.0.0/16 via 192.168.1.254' });
  assert.deepEqual(
    r.problems.map((p) => [p.at, p.code, p.message.slice(0, 28)]),
    [
      ['network.static_routes', 'route-syntax', 'route "10.20.0.0/16" is not '],
      ['network.static_routes', 'not-ipv4', 'route "10.21.0.0/16 via x": '],
    ],
  );
  const many = validateProperties({ ...SEED_PROPERTIES, 'network.static_routes': Array.from({ length: 50 }, (_, i) => `10.${i}.0.0/16`).join(',') });
  assert.equal(many.problems.length, 11, 'ten named, then one line counting the rest');
  assert.equal(many.problems.at(-1)!.code, 'more-problems');
});

test('network.search_domains: lower case, no trailing dot, commas or spaces between them; blank is none', () => {
  const c = validateProperties({ ...SEED_PROPERTIES, 'network.search_domains': 'Corp.Example.COM, lab.example. dev' }).config!;
  assert.deepEqual(c.network.searchDomains, ['corp.example.com', 'lab.example', 'dev']);
  assert.deepEqual(validateProperties(SEED_PROPERTIES).config!.network.searchDomains, []);
});

test('hostile network.static_routes and network.search_domains: counted before any entry is read; echoes are cut', () => {
  const one = (value: string, key = 'network.static_routes') => {
    const r = validateProperties({ ...SEED_PROPERTIES, [key]: value });
    assert.equal(r.config, undefined);
    return r.problems.map((p) => [p.at, p.code, p.message.length <= 300]);
  };
  assert.deepEqual(one('x,'.repeat(32_000)), [['network.static_routes', 'too-many-items', true]]);
  assert.deepEqual(one(`10.0.0.0/8 via ${'1'.repeat(60_000)}`), [['network.static_routes', 'route-syntax', true]]);
  assert.deepEqual(one('x '.repeat(30_000), 'network.search_domains'), [['network.search_domains', 'too-many-items', true]]);
  assert.deepEqual(one('a'.repeat(70_000)), [['network.static_routes', 'value-too-long', true]]);
  // Only commas: no entry, no route.
  assert.deepEqual(validateProperties({ ...SEED_PROPERTIES, 'network.static_routes': ', ,,' }).config!.network.staticRoutes, []);
});
