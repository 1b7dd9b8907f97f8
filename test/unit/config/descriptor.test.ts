import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { DOMParser } from '@xmldom/xmldom';
import { renderOvfDescriptor } from '../../../src/config/descriptor.js';
import { renderPropertiesMarkdown } from '../../../src/config/docs.js';
import { PROPERTIES } from '../../../src/config/properties.js';
import { ROOT } from '../../harness/ovf.js';

const OVF = 'http://schemas.dmtf.org/ovf/envelope/1';

test('docs/properties.md is generated from the declarations and up to date (npm run docs)', () => {
  assert.equal(readFileSync(`${ROOT}docs/properties.md`, 'utf8'), renderPropertiesMarkdown(), 'docs/properties.md is stale: run npm run docs');
});

test('xmllint accepts the ovf-descriptor output as well-formed', () => {
  const r = spawnSync('xmllint', ['--noout', '-'], { input: renderOvfDescriptor('0.0.0'), encoding: 'utf8' });
  assert.equal(r.error, undefined, 'xmllint (Debian libxml2-utils) must be installed');
  assert.equal(r.status, 0, r.stderr);
});

test('the descriptor declares every property once, in its class, with type, password and configuration', () => {
  const doc = new DOMParser().parseFromString(renderOvfDescriptor('0.0.0'), 'text/xml');
  const configs = Array.from(doc.getElementsByTagNameNS(OVF, 'Configuration')).map((c) => c.getAttributeNS(OVF, 'id'));
  assert.deepEqual(configs, ['default', 'frontend']);
  const seen = new Map<string, Element>();
  for (const section of Array.from(doc.getElementsByTagNameNS(OVF, 'ProductSection'))) {
    const cls = section.getAttributeNS(OVF, 'class');
    for (const p of Array.from(section.getElementsByTagNameNS(OVF, 'Property'))) {
      const key = `${cls}.${p.getAttributeNS(OVF, 'key')}`;
      assert.ok(!seen.has(key), `${key} twice`);
      seen.set(key, p as unknown as Element);
    }
  }
  assert.deepEqual([...seen.keys()].sort(), PROPERTIES.map((p) => p.key).sort());
  const attr = (key: string, name: string) => (seen.get(key) as unknown as { getAttributeNS(ns: string, n: string): string | null }).getAttributeNS(OVF, name);
  assert.equal(attr('appliance.root_pwd', 'password'), 'true');
  assert.equal(attr('loadbalance.haproxy_pwd', 'password'), 'true');
  assert.equal(attr('network.hostname', 'password'), null);
  assert.equal(attr('network.frontend_ip', 'configuration'), 'frontend');
  assert.equal(attr('network.workload_ip', 'configuration'), null);
  assert.equal(attr('loadbalance.dataplane_port', 'type'), 'int');
  assert.equal(attr('loadbalance.dataplane_port', 'qualifiers'), 'MinValue(1) MaxValue(65535)');
  // Today's boolean became a string of three values (OVF's ValueMap: vSphere shows a choice), default True as before.
  assert.equal(attr('appliance.permit_root_login', 'type'), 'string');
  assert.equal(attr('appliance.permit_root_login', 'qualifiers'), 'ValueMap{"True","False","prohibit-password"}');
  assert.equal(attr('appliance.permit_root_login', 'value'), 'True');
  assert.equal(attr('appliance.ssh_authorized_keys', 'type'), 'string');
  assert.equal(attr('appliance.ssh_authorized_keys', 'password'), null);
  assert.equal(attr('network.ntp_servers', 'key'), 'ntp_servers');
});
