import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseOvfEnvironment } from '../../../src/ingest/ovf-env.js';
import { InputError } from '../../../src/errors.js';
import type { ProblemCode } from '../../../src/problems.js';
import { SEED_ENV_FILE, SEED_MACS } from '../../harness/ovf.js';

test('the seed environment: properties and adapters in unit-number order', () => {
  const env = parseOvfEnvironment(readFileSync(SEED_ENV_FILE, 'utf8'), 'seed');
  assert.equal(env.properties['network.management_ip'], '10.191.181.52/20');
  assert.equal(Object.keys(env.properties).length, 17);
  assert.deepEqual(
    env.adapters.map((a) => a.mac),
    [SEED_MACS.management, SEED_MACS.workload, SEED_MACS.frontend],
  );
  assert.deepEqual(env.adapters[1], { mac: SEED_MACS.workload, network: 'wl-pg', unitNumber: 8 });
});

test('namespaces are matched by URI whatever the prefixes; vCloud entities are skipped', () => {
  const xml = `<?xml version="1.0"?>
<e:Environment xmlns:e="http://schemas.dmtf.org/ovf/environment/1" xmlns:v="http://www.vmware.com/schema/ovfenv" v:esxId="1">
  <e:PlatformSection><e:Kind>VMware ESXi</e:Kind></e:PlatformSection>
  <e:PropertySection>
    <e:Property e:key="network.hostname" e:value="lb&#10;x"/>
    <e:Property e:key="loadbalance.haproxy_pwd" e:value="s&amp;cr&quot;t"/>
    <Property xmlns="urn:other" key="network.nameservers" value="not ovf"/>
  </e:PropertySection>
  <e:Entity e:id="other-vm">
    <e:PropertySection><e:Property e:key="network.hostname" e:value="other"/></e:PropertySection>
  </e:Entity>
  <v:EthernetAdapterSection>
    <v:Adapter v:mac="00:50:56:B1:8D:33" v:network="b" v:unitNumber="8"/>
    <v:Adapter v:mac="00:50:56:b1:20:5e" v:network="a" v:unitNumber="7"/>
  </v:EthernetAdapterSection>
</e:Environment>`;
  const env = parseOvfEnvironment(xml, 't');
  assert.deepEqual(env.properties, { 'network.hostname': 'lb\nx', 'loadbalance.haproxy_pwd': 's&cr"t' });
  assert.deepEqual(
    env.adapters.map((a) => a.mac),
    ['00:50:56:b1:20:5e', '00:50:56:b1:8d:33'],
  );
});

test('govmomi-style documents without an adapter section', () => {
  const env = parseOvfEnvironment(
    '<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"><PropertySection><Property oe:key="a.b" oe:value="c"/></PropertySection></Environment>',
    't',
  );
  assert.deepEqual(env, { source: 't', properties: { 'a.b': 'c' }, adapters: [] });
});

test('not XML, not an OVF environment, a bad MAC: input errors that say so', () => {
  /** An InputError with one problem, at `at` by rule `code`, its headline matching `headline`. */
  const refused = (at: string, code: ProblemCode, headline: RegExp) => (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.deepEqual(
      e.problems.map((p) => [p.at, p.code]),
      [[at, code]],
    );
    assert.match(e.message, headline);
    return true;
  };
  assert.throws(() => parseOvfEnvironment('<Environment', 'f'), refused('OVF environment', 'not-xml', /^f: not well-formed XML/));
  assert.throws(
    () => parseOvfEnvironment('', 'f'),
    (e: unknown) => e instanceof InputError && e.problems[0].at === 'OVF environment' && ['not-xml', 'not-ovf-environment'].includes(e.problems[0].code),
  );
  assert.throws(
    () => parseOvfEnvironment('<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>', 'f'),
    refused('OVF environment', 'not-ovf-environment', /not an OVF environment: expected <Environment/),
  );
  assert.throws(
    () => parseOvfEnvironment('<Environment xmlns="urn:wrong"/>', 'f'),
    refused('OVF environment', 'not-ovf-environment', /found <Environment> in namespace urn:wrong/),
  );
  assert.throws(
    () =>
      parseOvfEnvironment(
        '<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:ve="http://www.vmware.com/schema/ovfenv"><ve:EthernetAdapterSection><ve:Adapter ve:mac="zz"/></ve:EthernetAdapterSection></Environment>',
        'f',
      ),
    refused('EthernetAdapterSection', 'adapter-not-mac', /"zz" is not a MAC address/),
  );
});

test('an external entity is never resolved', () => {
  const xml = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"><PropertySection><Property oe:key="network.hostname" oe:value="&e;"/></PropertySection></Environment>`;
  let value: string | undefined;
  try {
    value = parseOvfEnvironment(xml, 't').properties['network.hostname'];
  } catch (e) {
    assert.ok(e instanceof InputError);
    return;
  }
  assert.ok(!value?.includes('root:'), 'the file must not be read');
});
