/**
 * Parses an OVF environment document (what vSphere hands a guest) into raw property strings and
 * the NIC list. Namespaces are matched by URI, never by prefix: the default namespace and `oe:`
 * are the same URI, and producers differ in which prefix they write. Pure: text in, data out.
 * xmldom resolves no external entities, so the document cannot make the parser read files.
 */
import { DOMParser, type Element } from '@xmldom/xmldom';
import { InputError } from '../errors.js';
import type { OvfAdapter, OvfEnvironment } from '../config/types.js';

export const OVF_ENV_NS = 'http://schemas.dmtf.org/ovf/environment/1';
export const VMWARE_ENV_NS = 'http://www.vmware.com/schema/ovfenv';

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/u;

/** Element children of `parent` with the given namespace URI and local name. */
function children(parent: Element, ns: string, local: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) {
      const e = n as Element;
      if (e.namespaceURI === ns && e.localName === local) out.push(e);
    }
  }
  return out;
}

/** A namespaced attribute, falling back to the unprefixed one some producers write. */
function attr(e: Element, ns: string, local: string): string | null {
  return e.hasAttributeNS(ns, local) ? e.getAttributeNS(ns, local) : e.getAttribute(local) || null;
}

/**
 * Parses the document. Only the top-level Environment's sections are read: vCloud's `<Entity>`
 * elements describe other VMs and are skipped. Throws InputError for a document that is not
 * well-formed XML or not an OVF environment.
 */
export function parseOvfEnvironment(xml: string, source: string): OvfEnvironment {
  let root: Element | null;
  try {
    const doc = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') throw new Error(message);
      },
    }).parseFromString(xml, 'text/xml');
    root = doc.documentElement;
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new InputError(`${source}: not well-formed XML: ${reason}`);
  }
  if (!root || root.localName !== 'Environment' || root.namespaceURI !== OVF_ENV_NS) {
    const found = root ? `<${root.tagName}>${root.namespaceURI ? ` in namespace ${root.namespaceURI}` : ''}` : 'nothing';
    throw new InputError(`${source}: not an OVF environment: expected <Environment xmlns="${OVF_ENV_NS}">, found ${found}`);
  }

  const properties: Record<string, string> = {};
  for (const section of children(root, OVF_ENV_NS, 'PropertySection')) {
    for (const p of children(section, OVF_ENV_NS, 'Property')) {
      const key = attr(p, OVF_ENV_NS, 'key');
      if (!key) continue;
      properties[key] = attr(p, OVF_ENV_NS, 'value') ?? '';
    }
  }

  const listed: (OvfAdapter & { order: number })[] = [];
  for (const section of children(root, VMWARE_ENV_NS, 'EthernetAdapterSection')) {
    for (const a of children(section, VMWARE_ENV_NS, 'Adapter')) {
      const mac = attr(a, VMWARE_ENV_NS, 'mac')?.trim().toLowerCase();
      if (!mac) continue;
      if (!MAC.test(mac)) throw new InputError(`${source}: EthernetAdapterSection: ${JSON.stringify(mac)} is not a MAC address`);
      const unit = attr(a, VMWARE_ENV_NS, 'unitNumber');
      const network = attr(a, VMWARE_ENV_NS, 'network');
      listed.push({
        mac,
        ...(network !== null && { network }),
        ...(unit !== null && /^\d+$/u.test(unit) && { unitNumber: Number(unit) }),
        order: listed.length,
      });
    }
  }
  // The descriptor's NIC order is the unit-number order; adapters may be listed in any order.
  listed.sort((a, b) => (a.unitNumber ?? Infinity) - (b.unitNumber ?? Infinity) || a.order - b.order);
  const adapters = listed.map(({ order: _order, ...a }) => a);
  return { source, properties, adapters };
}
