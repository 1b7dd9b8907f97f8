/** Builds OVF environment documents for tests, the way vSphere writes them. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseOvfEnvironment } from '../../src/ingest/ovf-env.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SEED_ENV_FILE = `${ROOT}examples/ovf-env.xml`;
export const DEFAULT_ENV_FILE = `${ROOT}test/fixtures/ovf-env-default.xml`;

export const SEED_MACS = { management: '00:50:56:b1:20:5e', workload: '00:50:56:b1:8d:33', frontend: '00:50:56:b1:8a:41' };

/** The seed's properties, as the built-in example carries them. */
export const SEED_PROPERTIES: Record<string, string> = parseOvfEnvironment(readFileSync(SEED_ENV_FILE, 'utf8'), 'seed').properties;

export function xmlAttr(value: string): string {
  return value
    .replace(/[&<>"]/gu, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
    .replace(/[\u0000-\u001f]/gu, (c) => `&#${c.charCodeAt(0)};`);
}

export interface Adapter {
  mac: string;
  network?: string;
  unit?: number;
}

export function ovfEnv(properties: Record<string, string>, adapters: Adapter[] = []): string {
  const props = Object.entries(properties).map(([k, v]) => `    <Property oe:key="${xmlAttr(k)}" oe:value="${xmlAttr(v)}"/>`);
  const nics = adapters.map((a, i) => `    <ve:Adapter ve:mac="${a.mac}" ve:network="${xmlAttr(a.network ?? `pg${i}`)}" ve:unitNumber="${a.unit ?? 7 + i}"/>`);
  return `<?xml version="1.0" encoding="UTF-8"?>
<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"
     xmlns:ve="http://www.vmware.com/schema/ovfenv"
     oe:id="" ve:vCenterId="vm-1001">
  <PlatformSection><Kind>VMware ESXi</Kind><Version>7.0.3</Version><Vendor>VMware, Inc.</Vendor><Locale>en</Locale></PlatformSection>
  <PropertySection>
${props.join('\n')}
  </PropertySection>
${adapters.length ? `  <ve:EthernetAdapterSection>\n${nics.join('\n')}\n  </ve:EthernetAdapterSection>\n` : ''}</Environment>
`;
}

export function fixture(path: string): string {
  return readFileSync(`${ROOT}test/fixtures/${path}`, 'utf8');
}
