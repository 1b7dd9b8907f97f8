/**
 * The appliance's OVF envelope has what issue #11 lists, for both deployment configurations: parsed
 * with @xmldom/xmldom and read the way a deployer reads it. (Schema validation with xmllint is in
 * test/integration/ova/.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DOMParser } from '@xmldom/xmldom';
import { renderOvfEnvelope, STREAM_OPTIMIZED, type EnvelopeInput } from '../../../src/ova/envelope.js';
import { renderOvfDescriptor } from '../../../src/config/descriptor.js';
import { PROPERTIES } from '../../../src/config/properties.js';

const OVF = 'http://schemas.dmtf.org/ovf/envelope/1';
const RASD = 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData';
const VMW = 'http://www.vmware.com/schema/ovf';
const INPUT: EnvelopeInput = { version: '1.2.3', disk: { file: 'haproxy-disk1.vmdk', size: 123456789, capacityBytes: 4 * 2 ** 30 } };

type El = Element;
const parse = (xml: string) => new DOMParser().parseFromString(xml, 'text/xml') as unknown as Document;
const all = (node: Document | El, ns: string, name: string): El[] => Array.from(node.getElementsByTagNameNS(ns, name));
const one = (node: Document | El, ns: string, name: string): El => {
  const found = all(node, ns, name);
  assert.equal(found.length, 1, `one ${name}, found ${found.length}`);
  return found[0]!;
};
const children = (el: El) => Array.from(el.childNodes).filter((n): n is El => n.nodeType === 1);
const rasd = (item: El, name: string) => all(item, RASD, name)[0]?.textContent ?? undefined;
/** The Items a deployer gets with configuration `config`: those without ovf:configuration, and those naming it. */
const itemsFor = (doc: Document, config: string) =>
  all(doc, OVF, 'Item').filter((i) => {
    const c = i.getAttributeNS(OVF, 'configuration');
    return !c || c.split(/\s+/u).includes(config);
  });

const DOC = parse(renderOvfEnvelope(INPUT));

test('the envelope is the OVF 1.1 namespace, with References, DiskSection, NetworkSection, DeploymentOptionSection and one VirtualSystem in that order', () => {
  const env = DOC.documentElement;
  assert.equal(env.namespaceURI, OVF);
  assert.equal(env.localName, 'Envelope');
  assert.deepEqual(
    children(env).map((c) => c.localName),
    ['References', 'DiskSection', 'NetworkSection', 'DeploymentOptionSection', 'VirtualSystem'],
  );
});

test('References names the VMDK with its size, and the DiskSection describes it as streamOptimized with its capacity', () => {
  const file = one(DOC, OVF, 'File');
  assert.equal(file.getAttributeNS(OVF, 'href'), 'haproxy-disk1.vmdk');
  assert.equal(file.getAttributeNS(OVF, 'size'), '123456789');
  const disk = one(DOC, OVF, 'Disk');
  assert.equal(disk.getAttributeNS(OVF, 'fileRef'), file.getAttributeNS(OVF, 'id'));
  assert.equal(disk.getAttributeNS(OVF, 'format'), STREAM_OPTIMIZED);
  assert.equal(STREAM_OPTIMIZED, 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized');
  assert.equal(disk.getAttributeNS(OVF, 'capacity'), String(4 * 2 ** 30));
  assert.equal(disk.getAttributeNS(OVF, 'diskId'), 'vmdisk1');
});

test('the NetworkSection declares Management, Workload and Frontend', () => {
  const names = all(one(DOC, OVF, 'NetworkSection'), OVF, 'Network').map((n) => n.getAttributeNS(OVF, 'name'));
  assert.deepEqual(names, ['Management', 'Workload', 'Frontend']);
});

test('the DeploymentOptionSection and ProductSections are the ones ovf-descriptor prints, byte for byte', () => {
  const fragment = renderOvfDescriptor('1.2.3');
  const envelope = renderOvfEnvelope(INPUT);
  const deployment = /^ {2}<DeploymentOptionSection>[\s\S]*?^ {2}<\/DeploymentOptionSection>$/mu.exec(fragment)?.[0];
  assert.ok(deployment);
  assert.ok(envelope.includes(deployment), 'the same DeploymentOptionSection');
  const products = /^ {4}<ProductSection ovf:class[\s\S]*^ {4}<\/ProductSection>$/mu.exec(fragment)?.[0];
  assert.ok(products);
  assert.ok(envelope.includes(products), 'the same ProductSections');
  const keys = all(DOC, OVF, 'ProductSection').flatMap((s) =>
    all(s, OVF, 'Property').map((p) => `${s.getAttributeNS(OVF, 'class')}.${p.getAttributeNS(OVF, 'key')}`),
  );
  assert.deepEqual(keys.sort(), PROPERTIES.map((p) => p.key).sort());
  const product = all(DOC, OVF, 'ProductSection').find((s) => !s.hasAttributeNS(OVF, 'class'))!;
  assert.equal(one(product, OVF, 'Version').textContent, '1.2.3');
});

test('the OperatingSystemSection is Debian 64-bit (CIM 96, debian12_64Guest)', () => {
  const os = one(DOC, OVF, 'OperatingSystemSection');
  assert.equal(os.getAttributeNS(OVF, 'id'), '96');
  assert.equal(os.getAttributeNS(VMW, 'osType'), 'debian12_64Guest');
});

test('the VirtualHardwareSection offers the guestInfo and ISO transports', () => {
  const hw = one(DOC, OVF, 'VirtualHardwareSection');
  assert.equal(hw.getAttributeNS(OVF, 'transport'), 'com.vmware.guestInfo iso');
});

for (const [config, nics] of [
  ['default', ['Management', 'Workload']],
  ['frontend', ['Management', 'Workload', 'Frontend']],
] as const) {
  test(`configuration ${config}: 2 vCPU, 2 GiB, a pvscsi controller with the disk on it, and ${nics.length} vmxnet3 NICs`, () => {
    const items = itemsFor(DOC, config);
    const byType = (t: string) => items.filter((i) => rasd(i, 'ResourceType') === t);
    const [cpu] = byType('3');
    assert.equal(rasd(cpu!, 'VirtualQuantity'), '2');
    const [memory] = byType('4');
    assert.equal(rasd(memory!, 'VirtualQuantity'), '2048');
    assert.equal(rasd(memory!, 'AllocationUnits'), 'byte * 2^20');
    const scsi = byType('6');
    assert.equal(scsi.length, 1);
    assert.equal(rasd(scsi[0]!, 'ResourceSubType'), 'VirtualSCSI');
    const disks = byType('17');
    assert.equal(disks.length, 1);
    assert.equal(rasd(disks[0]!, 'HostResource'), 'ovf:/disk/vmdisk1');
    assert.equal(rasd(disks[0]!, 'Parent'), rasd(scsi[0]!, 'InstanceID'));
    const nicItems = byType('10');
    assert.deepEqual(
      nicItems.map((n) => rasd(n, 'Connection')),
      [...nics],
    );
    for (const n of nicItems) assert.equal(rasd(n, 'ResourceSubType'), 'VmxNet3');
    const ids = items.map((i) => rasd(i, 'InstanceID'));
    assert.equal(new Set(ids).size, ids.length, 'InstanceIDs are unique');
  });
}

for (const config of ['default', 'frontend']) {
  test(`configuration ${config}: a CD-ROM drive on an IDE controller, for the ISO transport`, () => {
    const items = itemsFor(DOC, config);
    const ide = items.filter((i) => rasd(i, 'ResourceType') === '5');
    assert.equal(ide.length, 1, 'one IDE controller');
    assert.equal(rasd(ide[0]!, 'Address'), '0');
    // vSphere knows no IDE subtype and refuses VirtualBox's PIIX4 ("VALUE_ILLEGAL: Value 'PIIX4' of
    // ResourceSubType element not found in []"); VMware's own exports write none.
    assert.equal(rasd(ide[0]!, 'ResourceSubType'), undefined);
    const cdroms = items.filter((i) => rasd(i, 'ResourceType') === '15');
    assert.equal(cdroms.length, 1, 'one CD-ROM drive');
    const cd = cdroms[0]!;
    assert.equal(rasd(cd, 'Parent'), rasd(ide[0]!, 'InstanceID'), 'the CD-ROM is on the IDE controller');
    assert.equal(rasd(cd, 'AddressOnParent'), '0');
    assert.equal(rasd(cd, 'AutomaticAllocation'), 'false');
    assert.equal(rasd(cd, 'ResourceSubType'), 'vmware.cdrom.remotepassthrough');
    assert.equal(cd.hasAttributeNS(OVF, 'required'), false, 'required (the default): the ISO transport needs it');
  });
}

test('every Parent names a controller Item, and the disk and the CD-ROM sit on different controllers', () => {
  const items = all(DOC, OVF, 'Item');
  const byId = new Map(items.map((i) => [rasd(i, 'InstanceID'), i]));
  const attached = items.filter((i) => rasd(i, 'Parent') !== undefined);
  assert.deepEqual(attached.map((i) => rasd(i, 'ResourceType')).sort(), ['15', '17']);
  for (const child of attached) {
    const parent = byId.get(rasd(child, 'Parent'));
    assert.ok(parent, `Item ${rasd(child, 'ElementName')}: its Parent ${rasd(child, 'Parent')} exists`);
    assert.ok(['5', '6'].includes(rasd(parent, 'ResourceType')!), `its Parent is a disk controller`);
    assert.equal(parent.hasAttributeNS(OVF, 'configuration'), false, 'the controller is in every configuration');
  }
  const parentType = (t: string) =>
    rasd(
      byId.get(
        rasd(
          attached.find((i) => rasd(i, 'ResourceType') === t)!,
          'Parent',
        ),
      )!,
      'ResourceType',
    );
  assert.equal(parentType('17'), '6', 'the disk is on the SCSI controller');
  assert.equal(parentType('15'), '5', 'the CD-ROM is on the IDE controller');
});

test('the firmware is BIOS, said with vmw:Config after the Items (the disk has no EFI system partition)', () => {
  const hw = one(DOC, OVF, 'VirtualHardwareSection');
  const configs = all(hw, VMW, 'Config');
  assert.deepEqual(
    configs.map((c) => [c.getAttributeNS(VMW, 'key'), c.getAttributeNS(VMW, 'value'), c.getAttributeNS(OVF, 'required')]),
    [['firmware', 'bios', 'false']],
  );
  assert.equal(children(hw).at(-1), configs[0], 'the last child of the section, as the schema requires');
});

test('only the Frontend NIC is tied to a configuration, and that configuration is declared', () => {
  const tied = all(DOC, OVF, 'Item').filter((i) => i.hasAttributeNS(OVF, 'configuration'));
  assert.deepEqual(
    tied.map((i) => [rasd(i, 'Connection'), i.getAttributeNS(OVF, 'configuration')]),
    [['Frontend', 'frontend']],
  );
  const declared = all(DOC, OVF, 'Configuration').map((c) => c.getAttributeNS(OVF, 'id'));
  assert.ok(declared.includes('frontend'));
});

test('the rasd: elements of every Item are in alphabetical order, as the schema requires', () => {
  for (const item of all(DOC, OVF, 'Item')) {
    const names = children(item).map((c) => c.localName);
    assert.deepEqual(names, [...names].sort(), `Item ${rasd(item, 'ElementName')}`);
  }
});

test('cpus and memory can be given; bad inputs are refused, naming the field', () => {
  const doc = parse(renderOvfEnvelope({ ...INPUT, cpus: 4, memoryMiB: 4096 }));
  const q = (t: string) =>
    rasd(
      all(doc, OVF, 'Item').find((i) => rasd(i, 'ResourceType') === t)!,
      'VirtualQuantity',
    );
  assert.equal(q('3'), '4');
  assert.equal(q('4'), '4096');
  assert.throws(() => renderOvfEnvelope({ ...INPUT, disk: { ...INPUT.disk, file: 'a/b.vmdk' } }), /disk\.file/u);
  assert.throws(() => renderOvfEnvelope({ ...INPUT, disk: { ...INPUT.disk, size: 0 } }), /disk\.size/u);
  assert.throws(() => renderOvfEnvelope({ ...INPUT, disk: { ...INPUT.disk, capacityBytes: 1.5 } }), /disk\.capacityBytes/u);
  assert.throws(() => renderOvfEnvelope({ ...INPUT, memoryMiB: -1 }), /memoryMiB/u);
});

test('the version is escaped', () => {
  const xml = renderOvfEnvelope({ ...INPUT, version: '1<2&"3"--4' });
  const doc = new DOMParser({ onError: (level, msg) => assert.fail(`${level}: ${msg}`) }).parseFromString(xml, 'text/xml');
  assert.equal(one(doc as unknown as Document, OVF, 'Version').textContent, '1<2&"3"--4');
});
