/**
 * Parses an OVF environment document (what vSphere hands a guest) into raw property strings and
 * the NIC list. Namespaces are matched by URI, never by prefix: the default namespace and `oe:`
 * are the same URI, and producers differ in which prefix they write. Pure: text in, data out.
 * xmldom resolves no external entities, so the document cannot make the parser read files.
 */
import { DOMParser, type Element } from '@xmldom/xmldom';
import { InputError, nonEmpty } from '../errors.js';
import { problem, type Problem, type ProblemCode } from '../problems.js';
import type { OvfAdapter, OvfEnvironment } from '../config/types.js';
import { MAX_ADAPTERS, MAX_DOCUMENT_BYTES, MAX_PROPERTIES, capProblems, clip, quote } from '../config/limits.js';
import { DOCUMENT_PROPERTY, decodeDocument } from './decode.js';

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

/** An InputError whose one problem is filed under `property` (so `--json` lists it). */
function refuse(source: string, at: string, code: ProblemCode, message: string): never {
  throw new InputError(at === DOCUMENT_PROPERTY ? `${source}: ${message}` : `${source}: ${at}: ${message}`, [problem(at, code, message)]);
}

/**
 * Parses the document: bytes as a transport read them (decoded strictly, src/ingest/decode.ts),
 * or text already decoded. Only the top-level Environment's sections are read: vCloud's
 * `<Entity>` elements describe other VMs and are skipped. Throws InputError for a document that
 * is too large, not well-formed XML or not an OVF environment, and for a property key given twice
 * (in one PropertySection or in two): the second would silently override the first.
 */
export function parseOvfEnvironment(input: string | Uint8Array, source: string): OvfEnvironment {
  let xml: string;
  if (typeof input === 'string') {
    if (input.length > MAX_DOCUMENT_BYTES)
      refuse(source, DOCUMENT_PROPERTY, 'document-too-large', `the document is ${input.length} characters; at most ${MAX_DOCUMENT_BYTES} (1 MiB) are accepted`);
    xml = input.startsWith('\ufeff') ? input.slice(1) : input;
  } else {
    xml = decodeDocument(input, source);
  }
  let root: Element | null;
  try {
    const doc = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') throw new Error(message);
      },
    }).parseFromString(xml, 'text/xml');
    root = doc.documentElement;
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
    refuse(source, DOCUMENT_PROPERTY, 'not-xml', `not well-formed XML: ${clip(reason, 200)}`);
  }
  if (!root || root.localName !== 'Environment' || root.namespaceURI !== OVF_ENV_NS) {
    const found = root ? `<${clip(root.tagName)}>${root.namespaceURI ? ` in namespace ${clip(root.namespaceURI)}` : ''}` : 'nothing';
    refuse(source, DOCUMENT_PROPERTY, 'not-ovf-environment', `not an OVF environment: expected <Environment xmlns="${OVF_ENV_NS}">, found ${found}`);
  }

  const problems: Problem[] = [];
  const properties: Record<string, string> = Object.create(null) as Record<string, string>;
  const sections = children(root, OVF_ENV_NS, 'PropertySection');
  if (sections.length > 1) {
    problems.push(
      problem(
        'PropertySection',
        'duplicate-property-section',
        `the document has ${sections.length} PropertySections; an OVF environment has one (a second would override the first)`,
      ),
    );
  }
  let count = 0;
  for (const section of sections) {
    for (const p of children(section, OVF_ENV_NS, 'Property')) {
      if (++count > MAX_PROPERTIES)
        refuse(source, 'PropertySection', 'too-many-properties', `more than ${MAX_PROPERTIES} properties; the appliance declares 21`);
      const key = attr(p, OVF_ENV_NS, 'key');
      if (!key) continue;
      if (Object.hasOwn(properties, key)) {
        problems.push(
          problem(
            clip(key),
            'duplicate-property',
            'is given twice in the OVF environment; give each property once (the second would silently override the first)',
          ),
        );
        continue;
      }
      properties[key] = attr(p, OVF_ENV_NS, 'value') ?? '';
    }
  }

  const listed: (OvfAdapter & { order: number })[] = [];
  const macs = new Set<string>();
  for (const section of children(root, VMWARE_ENV_NS, 'EthernetAdapterSection')) {
    for (const a of children(section, VMWARE_ENV_NS, 'Adapter')) {
      const mac = attr(a, VMWARE_ENV_NS, 'mac')?.trim().toLowerCase();
      if (!mac) continue;
      if (listed.length >= MAX_ADAPTERS)
        refuse(
          source,
          'EthernetAdapterSection',
          'too-many-adapters',
          `more than ${MAX_ADAPTERS} network adapters; the appliance takes 2 (default) or 3 (frontend)`,
        );
      if (!MAC.test(mac)) refuse(source, 'EthernetAdapterSection', 'adapter-not-mac', `${quote(mac)} is not a MAC address`);
      if (macs.has(mac)) {
        problems.push(problem('EthernetAdapterSection', 'duplicate-adapter-mac', `${mac} is listed twice; each network adapter has its own MAC`));
        continue;
      }
      macs.add(mac);
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
  if (problems.length) {
    const n = problems.length;
    throw new InputError(`the OVF environment from ${source} has ${n} problem${n === 1 ? '' : 's'}; nothing was changed`, nonEmpty(capProblems(problems)));
  }
  // The descriptor's NIC order is the unit-number order; adapters may be listed in any order.
  listed.sort((a, b) => (a.unitNumber ?? Infinity) - (b.unitNumber ?? Infinity) || a.order - b.order);
  const adapters = listed.map(({ order: _order, ...a }) => a);
  return { source, properties: { ...properties }, adapters };
}
